"""The UD treebank read independently of bertology, and each word's pieces as docs/spec.md
defines them (test_syntax.py, test_ud_runs.py)."""
import os

import bpe_ref
import wordpiece_ref


def read_conllu(path):
    """[(words, first line)], words = [(form, upos, head, deprel)]; ranges and empty nodes
    skipped."""
    sents, cur, first = [], [], None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                if cur:
                    sents.append((cur, first))
                cur = []
                continue
            if line.startswith("#"):
                continue
            c = line.split("\t")
            if "-" in c[0] or "." in c[0]:
                continue
            if not cur:
                first = n
            cur.append((c[1], c[3], int(c[6]), c[7]))
    if cur:
        sents.append((cur, first))
    return sents


class Aligner:
    """Pieces of each word (docs/spec.md): WordPiece of the word alone; byte-level BPE with a
    leading space for every word but the first."""

    def __init__(self, kind, model_dir):
        self.kind = kind
        if kind == "bert":
            self.tok = wordpiece_ref.RefBert(os.path.join(model_dir, "vocab.txt"))
            self.pre, self.suf = [self.tok.vocab["[CLS]"]], [self.tok.vocab["[SEP]"]]
        else:
            self.tok = bpe_ref.RefBPE(os.path.join(model_dir, "vocab.json"), os.path.join(model_dir, "merges.txt"),
                                      kind)
            self.pre, self.suf = ([], []) if kind == "gpt2" else ([self.tok.cls], [self.tok.sep])

    def encode(self, forms):
        ids, spans = list(self.pre), []
        for i, w in enumerate(forms):
            p = self.tok.ids(w) if self.kind == "bert" else self.tok.tokenize(w if i == 0 else " " + w)
            spans.append((len(ids), len(p)))
            ids += p
        return ids + self.suf, spans
