#!/usr/bin/python3
"""Reference model of transformers' OpenAIGPTTokenizer as it runs without ftfy and spacy,
written from its published algorithm (no transformers code):

  PreTrainedTokenizer.tokenize   do_lower_case is True for this class: the text is lowercased
                                 one character at a time except inside special tokens, then the
                                 special tokens (here only unk_token) are cut out whole;
  BasicTokenizer(do_lower_case=True) on each remaining piece: clean-up, CJK split, lowercase,
                                 strip accents, punctuation split (wordpiece_ref.RefBert's
                                 BasicTokenizer model);
  bpe(word)                      characters, the last with "</w>" appended; repeatedly the
                                 adjacent pair of lowest rank in merges.txt is merged wherever it
                                 occurs, left to right, until no pair has a rank;
  ids                            vocab.json, else the id of unk_token.

merges.txt is read as the class reads it: text mode, split at "\\n", first line and last piece
dropped, each line split on whitespace, rank = position (only two-field lines can match).

Also a small BPE trainer in the same format (train()), used to make tests/data's vocabulary.
"""
import collections
import json
import os
import sys

from wordpiece_ref import RefBert


def basic_tokenizer(special):
    """RefBert's BasicTokenizer with BasicTokenizer(do_lower_case=True)'s settings."""
    b = RefBert.__new__(RefBert)
    b.lower, b.strip_accents, b.chinese, b.basic = True, None, True, True
    b.never_cfg, b.never_all = set(), set()
    b.special = list(special)
    return b


class RefGPT:
    def __init__(self, vocab_path, merges_path, unk_token="<unk>"):
        with open(vocab_path, encoding="utf-8") as f:
            self.encoder = json.load(f)
        self.inv = {v: k for k, v in self.encoder.items()}
        with open(merges_path, encoding="utf-8") as f:
            merges = f.read().split("\n")[1:-1]
        merges = [tuple(m.split()) for m in merges]
        self.ranks = dict(zip(merges, range(len(merges))))
        self.unk = unk_token
        # an unk token the vocabulary lacks is no added token bertology cuts out (docs/model_files.md)
        self.basic = basic_tokenizer([unk_token] if unk_token in self.encoder else [])
        self.cache = {}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == best[0] and word[i + 1] == best[1]:
                    out.append(best[0] + best[1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        self.cache[token] = word
        return word

    def segments(self, text):
        """[(is_special, str)]: first the per-character lowercasing that skips special tokens
        (a regex alternation "(special)|(.+?)", newlines untouched), then the special tokens cut
        out of the lowercased text, so that "<UNK>" becomes the special token "<unk>"."""
        specials = self.basic.special
        low, i = [], 0
        while i < len(text):
            s = next((t for t in specials if text.startswith(t, i)), None)
            if s is not None:
                low.append(s)
                i += len(s)
                continue
            low.append(text[i] if text[i] == "\n" else text[i].lower())
            i += 1
        low = "".join(low)
        out, cur, i = [], [], 0
        while i < len(low):
            s = next((t for t in specials if low.startswith(t, i)), None)
            if s is not None:
                if cur:
                    out.append((False, "".join(cur)))
                    cur = []
                out.append((True, s))
                i += len(s)
                continue
            cur.append(low[i])
            i += 1
        if cur:
            out.append((False, "".join(cur)))
        return out

    def words(self, text):
        """(is_special, word) after BasicTokenizer."""
        out = []
        for special, seg in self.segments(text):
            if special:
                out.append((True, seg))
            else:
                out.extend((False, w) for w in self.basic._basic(seg))
        return out

    def tokens(self, text):
        toks = []
        for special, w in self.words(text):
            toks.extend([w] if special else self.bpe(w))
        return toks

    def ids(self, text):
        unk = self.encoder.get(self.unk)
        out = []
        for t in self.tokens(text):
            i = self.encoder.get(t, unk)
            if i is None:
                raise KeyError("%r is not in vocab.json and there is no %s" % (t, self.unk))
            out.append(i)
        return out

    def encode(self, a, b=None, max_len=128):
        """Nothing added; 'longest_first' truncation; token types all 0."""
        ia = self.ids(a)
        ib = self.ids(b) if b is not None else []
        while len(ia) + len(ib) > max_len:
            if len(ia) > len(ib):
                ia.pop()
            else:
                ib.pop()
        ids = ia + ib
        return ids, [0] * len(ids)


def train(texts, n_merges, min_char_count=2, unk_token="<unk>"):
    """A plain BPE trainer (Sennrich et al.) over RefGPT's words: word counts, symbols =
    characters with "</w>" on the last, n_merges times the most frequent adjacent pair (ties:
    the lexicographically smallest) merged. Characters seen fewer than min_char_count times
    stay out of the vocabulary, so they tokenize to unk. Returns (vocab dict, merges list)."""
    b = basic_tokenizer([])
    counts = collections.Counter()
    for t in texts:
        for _, seg in b._segments(t):
            counts.update(b._basic(seg))
    words = {w: list(w[:-1]) + [w[-1] + "</w>"] for w in counts}
    chars = collections.Counter()
    for w, c in counts.items():
        for s in words[w]:
            chars[s] += c
    base = sorted(s for s, c in chars.items() if c >= min_char_count)
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for w, syms in words.items():
        for p in zip(syms, syms[1:]):
            pairs[p] += counts[w]
            where[p].add(w)
    merges = []
    for _ in range(n_merges):
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if pairs[best] < 2:
            break
        merges.append(best)
        for w in list(where[best]):
            syms, c = words[w], counts[w]
            for p in zip(syms, syms[1:]):
                pairs[p] -= c
                if pairs[p] <= 0:
                    del pairs[p]
                where[p].discard(w)
            out, i = [], 0
            while i < len(syms):
                if i < len(syms) - 1 and (syms[i], syms[i + 1]) == best:
                    out.append(syms[i] + syms[i + 1])
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            words[w] = out
            for p in zip(out, out[1:]):
                pairs[p] += c
                where[p].add(w)
    vocab = {}
    for s in base + ["".join(m) for m in merges] + [unk_token]:
        vocab.setdefault(s, len(vocab))
    return vocab, merges


def write_vocab(out_dir, vocab, merges):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write("%s %s\n" % (a, b))


def glue_training_text(glue):
    """The sentences of SST-2 train and CoLA train (the vocabulary's training text)."""
    texts = []
    with open(os.path.join(glue, "SST-2", "train.tsv"), encoding="utf-8") as f:
        texts += [r.rstrip("\n").split("\t")[0] for r in f][1:]
    with open(os.path.join(glue, "CoLA", "train.tsv"), encoding="utf-8") as f:
        texts += [r.rstrip("\n").split("\t")[3] for r in f]
    return texts


if __name__ == "__main__":
    # gpt_ref.py GLUE_DIR OUT_DIR [N_MERGES]: trains the test vocabulary
    glue, out = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
    v, m = train(glue_training_text(glue), n)
    write_vocab(out, v, m)
    print("%d tokens, %d merges -> %s" % (len(v), len(m), out))
