#!/usr/bin/python3
"""A small independent model of GPT-2's byte-level BPE tokenizer (openai/gpt-2 encoder.py) and
of transformers' slow GPT2Tokenizer / RobertaTokenizer around it (added tokens cut out of the
text with lstrip/rstrip, add_prefix_space, special tokens, longest_first truncation).

Debian has no python3-regex here, so the pre-tokenisation pattern runs on Python's own `re`
engine with \\p{L}, \\p{N} and \\s spelled out as character classes built from unicodedata:
the alternation order, greediness and the \\s+(?!\\S) backtracking are then the regex engine's,
not a hand-written scanner's (the C code is the hand-written one). \\s is the `regex` module's:
Unicode White_Space, i.e. str.isspace() without U+001C..U+001F.
"""
import json
import re
import sys
import unicodedata


def bytes_to_unicode():
    """encoder.py's map: printable Latin-1 bytes stand for themselves, the rest for 256 + n."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def _ranges(pred):
    out, start = [], None
    for cp in range(0x110000):
        ok = not (0xD800 <= cp <= 0xDFFF) and pred(chr(cp))
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            out.append((start, cp - 1))
            start = None
    if start is not None:
        out.append((start, 0x10FFFF))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                   for a, b in out)


def white_space(c):
    return c.isspace() and not ("\x1c" <= c <= "\x1f")


_PAT = None


def pattern():
    global _PAT
    if _PAT is None:
        L = _ranges(lambda c: unicodedata.category(c)[0] == "L")
        N = _ranges(lambda c: unicodedata.category(c)[0] == "N")
        S = _ranges(white_space)
        src = (r"'s|'t|'re|'ve|'m|'ll|'d"
               rf"| ?[{L}]+| ?[{N}]+| ?[^{S}{L}{N}]+|[{S}]+(?![^{S}])|[{S}]+")
        _PAT = re.compile(src)
    return _PAT


def get_pairs(word):
    return set(zip(word, word[1:]))


class RefBPE:
    """style: 'gpt2' or 'roberta'. vocab_path / merges_path as in a model directory."""

    def __init__(self, vocab_path, merges_path, style="gpt2", add_prefix_space=False,
                 added=None):
        with open(vocab_path, encoding="utf-8") as f:
            self.encoder = json.load(f)
        self.decoder = {v: k for k, v in self.encoder.items()}
        with open(merges_path, encoding="utf-8") as f:
            lines = f.read().split("\n")[1:-1]  # encoder.py: drop "#version" and the end
        merges = [tuple(m.split()) for m in lines]
        self.ranks = dict(zip(merges, range(len(merges))))
        self.byte_encoder = bytes_to_unicode()
        self.style = style
        self.add_prefix_space = add_prefix_space
        if style == "roberta":
            self.cls, self.sep = self.encoder["<s>"], self.encoder["</s>"]
            self.unk = self.encoder["<unk>"]
            default_added = {"<s>": 0, "<pad>": 0, "</s>": 0, "<unk>": 0, "<mask>": 1}
        else:
            self.unk = self.encoder.get("<|endoftext|>")
            default_added = {"<|endoftext|>": 0}
        # added token -> (lstrip, rstrip)
        self.added = {t: (bool(f & 1), bool(f & 2)) for t, f in (added or default_added).items()}
        self.cache = {}

    def bpe(self, token):
        """encoder.py's bpe(): merge the lowest-ranked pair everywhere, until none is left."""
        if token in self.cache:
            return self.cache[token]
        word = tuple(token)
        pairs = get_pairs(word)
        if not pairs:
            return [token]
        while True:
            bigram = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if bigram not in self.ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new_word.extend(word[i:])
                    break
                new_word.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        self.cache[token] = list(word)
        return list(word)

    def pieces(self, text):
        return pattern().findall(text)

    def _tokenize(self, text):
        ids = []
        for piece in self.pieces(text):
            u = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder.get(t, self.unk) for t in self.bpe(u))
        return ids

    def split_added(self, text):
        """transformers' trie split of the added tokens, then their lstrip / rstrip."""
        parts, i, seg = [], 0, 0
        while i < len(text):
            best = max((t for t in self.added if text.startswith(t, i)), key=len, default=None)
            if best is None:
                i += 1
                continue
            parts.append(text[seg:i])
            parts.append(best)
            i += len(best)
            seg = i
        parts.append(text[seg:])
        # parts alternate: text, added, text, added, ..., text
        for k in range(1, len(parts), 2):
            lstrip, rstrip = self.added[parts[k]]
            if rstrip:
                parts[k + 1] = parts[k + 1].lstrip()
            if lstrip:
                parts[k - 1] = parts[k - 1].rstrip()
        return parts

    def tokenize(self, text):
        if self.add_prefix_space:
            text = " " + text
        ids = []
        for k, part in enumerate(self.split_added(text)):
            if k % 2:
                ids.append(self.encoder[part])
            elif part:
                ids.extend(self._tokenize(part))
        return ids

    def encode(self, a, b=None, max_len=None):
        """tokenizer(a, b, truncation=True, max_length=max_len): ids and token types."""
        ia = self.tokenize(a)
        ib = self.tokenize(b) if b is not None else None
        n_special = (0 if self.style == "gpt2" else (2 if ib is None else 4))
        total = len(ia) + (len(ib) if ib is not None else 0) + n_special
        if max_len is not None and total > max_len:
            remove = total - max_len
            if ib is None:
                ia = ia[:-remove]
            else:  # truncate_sequences, TruncationStrategy.LONGEST_FIRST
                first = min(abs(len(ib) - len(ia)), remove)
                second = remove - first
                if len(ia) > len(ib):
                    ra, rb = first + second // 2, second - second // 2
                else:
                    ra, rb = second // 2, first + second - second // 2
                ia = ia[:-ra] if ra > 0 else ia
                ib = ib[:-rb] if rb > 0 else ib
        if self.style == "gpt2":
            ids = ia + (ib or [])
        else:
            ids = [self.cls] + ia + [self.sep]
            if ib is not None:
                ids += [self.sep] + ib + [self.sep]
        return ids, [0] * len(ids)


if __name__ == "__main__":
    # usage: bpe_ref.py VOCAB_DIR  (texts on stdin, ids out, one line each)
    d = sys.argv[1]
    ref = RefBPE(f"{d}/vocab.json", f"{d}/merges.txt")
    for line in sys.stdin:
        print(" ".join(map(str, ref.tokenize(line.rstrip("\n")))))
