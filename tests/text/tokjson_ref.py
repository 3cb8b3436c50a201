#!/usr/bin/python3
"""Reference model of tokenizer.json (the Hugging Face `tokenizers` library's format) for the
components bertology reads, written from the library's documented behaviour (no tokenizers
code), and writers that turn classic vocabulary files into tokenizer.json the way
transformers' convert_slow_tokenizer does (BertConverter, GPT2Converter, RobertaConverter).

Encoding, as the library runs it:
  added tokens   cut out of the raw text first: at the leftmost position where one matches,
                 the longest; lstrip / rstrip swallow the Unicode White_Space next to it;
                 empty splits are dropped;
  each split     normalizer -> pre-tokenizer -> model:
    WordPiece    NFD / Lowercase / StripAccents (drop Mn) in the order given, or
                 BertNormalizer: drop NUL, U+FFFD and controls, whitespace -> ' ', spaces
                 around CJK, strip accents (NFD, drop Mn) when strip_accents (null: follow
                 lowercase), then lowercase, one character at a time; BertPreTokenizer: split
                 on whitespace, each punctuation character its own word; WordPiece: greedy
                 longest match, "##" continuations, words over 100 characters -> unk;
    BPE          ByteLevel: a space put before a split that does not start with one
                 (add_prefix_space), GPT-2's regex, bytes as characters; BPE merges by rank;
  post-processor TemplateProcessing / BertProcessing / RobertaProcessing / ByteLevel;
  truncation     longest_first as transformers' tokenizer(a, b, truncation=True) does it
                 (one token at a time from the longer side, the second on a tie).
"""
import json
import os
import unicodedata

from bpe_ref import bytes_to_unicode, pattern
from wordpiece_ref import _is_cjk, _is_control, _is_punctuation, _is_whitespace

# Unicode White_Space (Rust's char::is_whitespace)
WHITE_SPACE = set(map(chr, list(range(0x09, 0x0E)) + [0x20, 0x85, 0xA0, 0x1680] + list(range(0x2000, 0x200B))
                      + [0x2028, 0x2029, 0x202F, 0x205F, 0x3000]))


class RefTokJson:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
        m = j["model"]
        self.kind = m["type"]
        self.vocab = m["vocab"]
        self.inv = {v: k for k, v in self.vocab.items()}
        self.added = {}
        for t in j.get("added_tokens") or []:
            if t["content"] not in self.added:
                self.added[t["content"]] = (t["id"], t.get("lstrip", False), t.get("rstrip", False))
                self.inv.setdefault(t["id"], t["content"])
        if self.kind == "WordPiece":
            nz = j["normalizer"]
            if nz["type"] == "BertNormalizer":
                self.steps = None
                self.lower = nz.get("lowercase", True)
                sa = nz.get("strip_accents")
                self.strip = self.lower if sa is None else sa
                self.chinese = nz.get("handle_chinese_chars", True)
            else:  # NFD / Lowercase / StripAccents, alone or in a Sequence, applied in order
                self.steps = [x["type"] for x in (nz["normalizers"] if nz["type"] == "Sequence" else [nz])]
            self.unk = self.vocab[m["unk_token"]]
        else:
            merges = [tuple(x.split(" ")) if isinstance(x, str) else tuple(x) for x in m["merges"]]
            self.ranks = {p: r for r, p in enumerate(merges)}
            self.unk = self.vocab.get(m.get("unk_token")) if m.get("unk_token") else None
            self.prefix = j["pre_tokenizer"].get("add_prefix_space", True)
            self.byte_char = bytes_to_unicode()
            self.regex = pattern()
        self.single, self.pair = self._template(j.get("post_processor"))
        self.types = self.kind == "WordPiece"

    # -- post-processor --------------------------------------------------------------------
    def _template(self, p):
        A, B = ("A", 0), ("B", 0)
        if p is None or p["type"] == "ByteLevel":
            return [A], [A, B]
        if p["type"] == "Sequence":
            out = ([A], [A, B])
            for q in p["processors"]:
                if q["type"] != "ByteLevel":
                    out = self._template(q)
            return out
        if p["type"] in ("BertProcessing", "RobertaProcessing"):
            cls, sep = ("S", p["cls"][1], 0), ("S", p["sep"][1], 0)
            if p["type"] == "BertProcessing":
                return [cls, A, sep], [cls, A, sep, ("B", 1), ("S", p["sep"][1], 1)]
            return [cls, A, sep], [cls, A, sep, sep, B, sep]
        assert p["type"] == "TemplateProcessing"
        sp = p["special_tokens"]

        def side(lst):
            out = []
            for piece in lst:
                if "Sequence" in piece:
                    out.append((piece["Sequence"]["id"], piece["Sequence"]["type_id"]))
                else:
                    s = piece["SpecialToken"]
                    out.extend(("S", i, s["type_id"]) for i in sp[s["id"]]["ids"])
            return out
        return side(p["single"]), side(p["pair"])

    # -- added tokens ----------------------------------------------------------------------
    def split_added(self, text):
        """[(added id or None, text)]"""
        out, seg, i = [], 0, 0
        while i < len(text):
            best = max((t for t in self.added if text.startswith(t, i)), key=len, default=None)
            if best is None:
                i += 1
                continue
            tid, lstrip, rstrip = self.added[best]
            e = i
            if lstrip:
                while e > seg and text[e - 1] in WHITE_SPACE:
                    e -= 1
            out.append((None, text[seg:e]))
            out.append((tid, best))
            i += len(best)
            if rstrip:
                while i < len(text) and text[i] in WHITE_SPACE:
                    i += 1
            seg = i
        out.append((None, text[seg:]))
        return [(t, s) for t, s in out if t is not None or s]

    # -- WordPiece -------------------------------------------------------------------------
    def _normalize(self, s):
        if self.steps is not None:
            for step in self.steps:
                if step == "NFD":
                    s = unicodedata.normalize("NFD", s)
                elif step == "Lowercase":
                    s = "".join(c.lower() for c in s)
                else:  # StripAccents: drop the nonspacing marks
                    s = "".join(c for c in s if unicodedata.category(c) != "Mn")
            return s
        out = []
        for ch in s:
            if ord(ch) in (0, 0xFFFD) or _is_control(ch):
                continue
            ch = " " if _is_whitespace(ch) else ch
            out.append(" %s " % ch if self.chinese and _is_cjk(ord(ch)) else ch)
        s = "".join(out)
        if self.strip:
            s = "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")
        if self.lower:
            s = "".join(c.lower() for c in s)
        return s

    def _pretokenize(self, s):
        words, cur = [], []
        for ch in s:
            if ch in WHITE_SPACE:
                if cur:
                    words.append("".join(cur))
                cur = []
            elif _is_punctuation(ch):
                if cur:
                    words.append("".join(cur))
                words.append(ch)
                cur = []
            else:
                cur.append(ch)
        if cur:
            words.append("".join(cur))
        return words

    def _wordpiece(self, w):
        if len(w) > 100:
            return [self.unk]
        out, start = [], 0
        while start < len(w):
            end = len(w)
            while end > start:
                sub = ("##" if start else "") + w[start:end]
                if sub in self.vocab:
                    break
                end -= 1
            if end == start:
                return [self.unk]
            out.append(self.vocab[("##" if start else "") + w[start:end]])
            start = end
        return out

    # -- byte-level BPE --------------------------------------------------------------------
    def _bpe(self, word):
        word = list(word)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        return [self.vocab.get(t, self.unk) for t in word]

    def _split_ids(self, s):
        if self.kind == "WordPiece":
            return [i for w in self._pretokenize(self._normalize(s)) for i in self._wordpiece(w)]
        if self.prefix and not s.startswith(" "):
            s = " " + s
        ids = []
        for piece in self.regex.findall(s):
            ids.extend(self._bpe("".join(self.byte_char[b] for b in piece.encode("utf-8"))))
        return ids

    def ids(self, text):
        out = []
        for tid, s in self.split_added(text):
            out.extend([tid] if tid is not None else self._split_ids(s))
        return out

    def encode(self, a, b=None, max_len=128):
        ia = self.ids(a)
        ib = self.ids(b) if b is not None else None
        tmpl = self.single if ib is None else self.pair
        n_special = sum(1 for p in tmpl if p[0] == "S")
        ib_ = ib or []
        while len(ia) + len(ib_) + n_special > max_len:
            if len(ia) > len(ib_):
                ia.pop()
            else:
                ib_.pop()
        ids, types = [], []
        for p in tmpl:
            if p[0] == "S":
                ids.append(p[1])
                types.append(p[2])
            else:
                seq = ia if p[0] == "A" else ib_
                ids.extend(seq)
                types.extend([p[1]] * len(seq))
        if not self.types:
            types = [0] * len(ids)
        return ids, types


# --- writers ---------------------------------------------------------------------------------

def _added(tokens):
    return [{"id": i, "content": t, "single_word": False, "lstrip": lstrip, "rstrip": False,
             "normalized": False, "special": True} for t, i, lstrip in tokens]


def bert_json(vocab_txt, lowercase=True, strip_accents=None, processor="template", normalizer=None):
    with open(vocab_txt, encoding="utf-8") as f:
        toks = f.read().split("\n")
    if toks and toks[-1] == "":
        toks.pop()
    vocab = {}
    for i, t in enumerate(toks):
        vocab[t] = i
    sp = [(t, vocab[t], False) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]") if t in vocab]
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    if processor == "template":
        post = {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                           {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                         {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
                "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [cls], "tokens": ["[CLS]"]},
                                   "[SEP]": {"id": "[SEP]", "ids": [sep], "tokens": ["[SEP]"]}}}
    else:
        post = {"type": "BertProcessing", "sep": ["[SEP]", sep], "cls": ["[CLS]", cls]}
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": _added(sp),
            "normalizer": normalizer or {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                                         "strip_accents": strip_accents, "lowercase": lowercase},
            "pre_tokenizer": {"type": "BertPreTokenizer"}, "post_processor": post,
            "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                      "max_input_chars_per_word": 100, "vocab": vocab}}


def bpe_json(vocab_json, merges_txt, style="gpt2", add_prefix_space=False, merges_as_pairs=False, extra=()):
    """extra: (token, id, lstrip) added tokens beyond the vocabulary (RoBERTa's here)."""
    with open(vocab_json, encoding="utf-8") as f:
        vocab = json.load(f)
    with open(merges_txt, encoding="utf-8") as f:
        merges = [m for m in f.read().split("\n")[1:] if m]
    if merges_as_pairs:
        merges = [m.split(" ") for m in merges]
    added = [("<|endoftext|>", vocab["<|endoftext|>"], False)] if style == "gpt2" else list(extra)
    if style == "roberta":
        ids = {t: i for t, i, _ in extra}
        post = {"type": "RobertaProcessing", "sep": ["</s>", ids["</s>"]], "cls": ["<s>", ids["<s>"]],
                "trim_offsets": True, "add_prefix_space": add_prefix_space}
    else:
        post = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": _added(added),
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": True,
                              "use_regex": True},
            "post_processor": post, "decoder": {"type": "ByteLevel"},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                      "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                      "merges": merges}}


def write(d, obj):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)
