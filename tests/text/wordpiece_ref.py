#!/usr/bin/python3
"""A reference model of transformers' slow BertTokenizer, for checking bertology's C WordPiece.

Written from the behaviour transformers documents and implements (PreTrainedTokenizer.tokenize,
BasicTokenizer, WordpieceTokenizer, truncate_sequences 'longest_first'), on Python's own Unicode
database: unicodedata for categories and NFD, str.lower() for case, str.split() for whitespace.
It shares no code and no Unicode tables with the C implementation (which uses utf8proc).
"""
import unicodedata

SPECIAL_ORDER = ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
DEFAULT_SPECIAL = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                   "cls_token": "[CLS]", "mask_token": "[MASK]"}


def _category(ch):
    return unicodedata.category(ch)


def _is_control(ch):
    if ch in "\t\n\r":
        return False
    return _category(ch).startswith("C")


def _is_whitespace(ch):
    return ch in " \t\n\r" or _category(ch) == "Zs"


def _is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return _category(ch).startswith("P")


def _is_cjk(cp):
    ranges = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
              (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
    return any(lo <= cp <= hi for lo, hi in ranges)


class RefBert:
    def __init__(self, vocab_path, do_lower_case=True, strip_accents=None,
                 tokenize_chinese_chars=True, never_split=None, do_basic_tokenize=True,
                 **special):
        # Text mode = universal newlines; load_vocab strips only the "\n".
        with open(vocab_path, encoding="utf-8") as f:
            lines = f.readlines()
        self.vocab = {}
        for i, line in enumerate(lines):
            self.vocab[line.rstrip("\n")] = i
        self.inv = {i: t for t, i in self.vocab.items()}
        self.lower = do_lower_case
        self.strip_accents = strip_accents
        self.chinese = tokenize_chinese_chars
        self.basic = do_basic_tokenize
        self.never_cfg = set(never_split or [])
        tokens = dict(DEFAULT_SPECIAL)
        tokens.update(special)
        self.special = [tokens[k] for k in SPECIAL_ORDER if tokens.get(k)]
        self.unk, self.cls, self.sep = tokens["unk_token"], tokens["cls_token"], tokens["sep_token"]
        self.never_all = self.never_cfg | set(self.special)

    # -- PreTrainedTokenizer.tokenize: special tokens out, per-character lowercasing ---------
    def _special_at(self, text, i):
        for s in self.special:  # first listed wins (a regex alternation)
            if text.startswith(s, i):
                return s
        return None

    def _segments(self, text):
        """[(is_special, str)] with the non-special characters lowercased one by one."""
        out, cur, i = [], [], 0
        while i < len(text):
            s = self._special_at(text, i)
            if s is not None:
                if cur:
                    out.append((False, "".join(cur)))
                    cur = []
                out.append((True, s))
                i += len(s)
                continue
            ch = text[i]
            # lower() of one character at a time (a regex "." match: newlines untouched);
            # only with basic tokenization, since do_lower_case lives on the BasicTokenizer
            if self.lower and self.basic and ch != "\n":
                ch = ch.lower()
            cur.append(ch)
            i += 1
        if cur:
            out.append((False, "".join(cur)))
        return out

    # -- BasicTokenizer -------------------------------------------------------------------
    def _clean(self, text):
        out = []
        for ch in text:
            if ord(ch) in (0, 0xFFFD) or _is_control(ch):
                continue
            out.append(" " if _is_whitespace(ch) else ch)
        return "".join(out)

    def _strip(self, text):
        return "".join(c for c in unicodedata.normalize("NFD", text) if _category(c) != "Mn")

    def _split_punc(self, text):
        if text in self.never_all:
            return [text]
        words, new = [], True
        for ch in text:
            if _is_punctuation(ch):
                words.append(ch)
                new = True
            else:
                if new:
                    words.append("")
                new = False
                words[-1] += ch
        return words

    def _basic(self, text):
        text = self._clean(text)
        if self.chinese:
            text = "".join(f" {c} " if _is_cjk(ord(c)) else c for c in text)
        pieces = []
        for tok in text.split():
            if tok not in self.never_all:
                if self.lower:
                    tok = tok.lower()
                    if self.strip_accents is not False:
                        tok = self._strip(tok)
                elif self.strip_accents:
                    tok = self._strip(tok)
            pieces.extend(self._split_punc(tok))
        return " ".join(pieces).split()

    # -- WordpieceTokenizer ---------------------------------------------------------------
    def _wordpiece(self, word):
        if len(word) > 100:
            return [self.unk]
        out, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                sub = ("##" if start else "") + word[start:end]
                if sub in self.vocab:
                    break
                end -= 1
            if end == start:
                return [self.unk]
            out.append(("##" if start else "") + word[start:end])
            start = end
        return out

    def tokens(self, text):
        toks = []
        for special, seg in self._segments(text):
            if special:
                toks.append(seg)
            elif not self.basic:
                for w in seg.split():
                    toks.extend(self._wordpiece(w))
            else:
                for w in self._basic(seg):
                    toks.extend([w] if w in self.never_cfg else self._wordpiece(w))
        return toks

    def ids(self, text):
        unk = self.vocab[self.unk]
        return [self.vocab.get(t, unk) for t in self.tokens(text)]

    # -- encode with truncation ('longest_first') -----------------------------------------
    def encode(self, a, b=None, max_len=128):
        ia = self.ids(a)
        ib = self.ids(b) if b is not None else None
        remove = len(ia) + (len(ib) if ib is not None else 0) + (3 if ib is not None else 2) - max_len
        if remove > 0:
            if ib is None:
                ia = ia[:-remove]
            else:
                for _ in range(remove):
                    if len(ia) > len(ib):
                        ia = ia[:-1]
                    else:
                        ib = ib[:-1]
        cls, sep = self.vocab[self.cls], self.vocab[self.sep]
        ids = [cls] + ia + [sep]
        types = [0] * len(ids)
        if ib is not None:
            ids += ib + [sep]
            types += [1] * (len(ib) + 1)
        return ids, types
