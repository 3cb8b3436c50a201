"""Token strings for token ids: the model's vocabulary, and which tokens are special or punctuation.

run.h5 stores token ids only; the strings come from the model directory (vocab.txt for
WordPiece, tokenizer.json, or GPT-2's vocab.json). Ids the vocabulary does not cover are shown
as "<id>" rather than failing, so a run made with a different vocabulary still plots.
"""
import json
import os
import unicodedata

# Tokens that play the part of BERT's [CLS] / [SEP] (RoBERTa-style <s> </s> included).
CLS_TOKENS = ("[CLS]", "<s>")
SEP_TOKENS = ("[SEP]", "</s>")
# Clark et al. (2019) count only these two as punctuation (General_Analysis.ipynb).
CLARK_PUNCT = (".", ",")

VOCAB_FILES = ("vocab.txt", "tokenizer.json", "vocab.json")


def is_punctuation_char(c):
    """BERT's BasicTokenizer definition: ASCII non-letters/digits/space, or Unicode class P*.
    (So "$", "^", "`" count, as BERT splits on them too.)"""
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


class Vocab:
    """id -> token string. kind is "wordpiece" (## continuation) or "bpe" (G-dot space marker)."""

    def __init__(self, tokens, kind, path):
        self.tokens = tokens
        self.kind = kind
        self.path = path

    def __len__(self):
        return len(self.tokens)

    def token(self, i):
        i = int(i)
        if 0 <= i < len(self.tokens) and self.tokens[i] is not None:
            return self.tokens[i]
        return "<%d>" % i

    def decode(self, ids):
        return [self.token(i) for i in ids]

    def display(self, tok):
        """The string to print on an axis: GPT-2's byte-level space marker dropped."""
        if self.kind == "bpe":
            return tok.replace("\u0120", "").replace("\u010a", "\\n") or tok
        return tok

    def bare(self, tok):
        """The token's characters without the subword marker (## or G-dot)."""
        if self.kind == "wordpiece" and tok.startswith("##") and len(tok) > 2:
            return tok[2:]
        if self.kind == "bpe":
            return tok.replace("\u0120", "")
        return tok

    def is_punct(self, tok, mode="all"):
        """mode "all": every character of the bare token is punctuation (BERT's definition);
        mode "clark": the token is "." or "," (Clark et al.'s notebook)."""
        b = self.bare(tok)
        if mode == "clark":
            return b in CLARK_PUNCT
        if mode != "all":
            raise ValueError("punctuation mode %r: expected 'all' or 'clark'" % mode)
        return bool(b) and all(is_punctuation_char(c) for c in b)

    def has_any(self, names):
        s = set(names)
        return any(t in s for t in self.tokens if t is not None)


def _from_mapping(mapping, extra, path, kind):
    n = 1 + max([int(i) for i in mapping.values()] + [int(i) for i in extra.values()] + [-1])
    tokens = [None] * n
    for tok, i in list(mapping.items()) + list(extra.items()):
        if int(i) >= 0:
            tokens[int(i)] = tok
    return Vocab(tokens, kind, path)


def load_vocab(path):
    """Reads a vocabulary file or the first of VOCAB_FILES in a model directory.

    Raises FileNotFoundError / ValueError with the file and the fault in the message."""
    if os.path.isdir(path):
        for name in VOCAB_FILES:
            p = os.path.join(path, name)
            if os.path.isfile(p):
                return load_vocab(p)
        raise FileNotFoundError("%s: no %s in the directory" % (path, ", ".join(VOCAB_FILES)))
    name = os.path.basename(path)
    if name.endswith(".txt"):
        # One token per line, id = line number (HF's load_vocab keeps everything but the \n).
        with open(path, encoding="utf-8") as f:
            tokens = [line.rstrip("\n").rstrip("\r") for line in f]
        if not tokens:
            raise ValueError("%s: empty vocabulary" % path)
        return Vocab(tokens, "wordpiece", path)
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError("%s: not JSON (line %d: %s)" % (path, e.lineno, e.msg)) from None
    if isinstance(data, dict) and isinstance(data.get("model"), dict):  # tokenizer.json (GPT-2's vocab.json has a token "model")
        model = data.get("model") or {}
        vocab = model.get("vocab")
        added = {t["content"]: t["id"] for t in data.get("added_tokens") or []
                 if isinstance(t, dict) and "content" in t and "id" in t}
        kind = "bpe" if model.get("type") == "BPE" else "wordpiece"
        if isinstance(vocab, dict):
            return _from_mapping(vocab, added, path, kind)
        if isinstance(vocab, list):  # Unigram: [[piece, score], ...]
            return _from_mapping({p[0]: i for i, p in enumerate(vocab)}, added, path, kind)
        raise ValueError("%s: field model.vocab is missing or not a map/list" % path)
    if isinstance(data, dict) and all(isinstance(v, int) for v in data.values()):
        return _from_mapping(data, {}, path, "bpe")  # GPT-2 vocab.json
    raise ValueError("%s: neither tokenizer.json nor a token -> id map" % path)
