"""Random checkpoints with real tokenizer files, for tests that run whole commands on text.

The weights come from tests/ref/make_checkpoint.py (BERT) and make_checkpoint_family.py (GPT-2,
GPT, RoBERTa, DistilBERT); the tokenizer files are the real ones of tests/data, so GLUE text
tokenizes as it would for the published models.
"""
import json
import os
import shutil

import make_checkpoint
import make_checkpoint_family

from .paths import BERT_VOCAB, GPT2_VOCAB


def bert(path, **kw):
    """A random BERT (a classifier unless no_head=True) over bert-base-uncased's WordPiece
    vocabulary (30522 tokens, 128 positions unless given), vocab.txt included."""
    kw.setdefault("vocab", 30522)
    kw.setdefault("max_pos", 128)
    make_checkpoint.make_checkpoint(path, **kw)
    shutil.copy(BERT_VOCAB, os.path.join(path, "vocab.txt"))
    return path


def gpt2(path, **kw):
    """A random GPT2LMHeadModel (or ForSequenceClassification with labels=C) over GPT-2's BPE."""
    kw = dict(dict(layers=3, hidden=32, heads=4, vocab=50257, max_pos=64, seed=3), **kw)
    make_checkpoint_family.make_checkpoint(path, "gpt2", **kw)
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(GPT2_VOCAB, f), os.path.join(path, f))
    return path


def distilbert(path, **kw):
    """A random DistilBERT classifier over bert-base-uncased's vocabulary."""
    kw = dict(dict(layers=2, hidden=32, heads=4, vocab=30522, max_pos=64, labels=2, seed=5), **kw)
    make_checkpoint_family.make_checkpoint(path, "distilbert", **kw)
    shutil.copy(BERT_VOCAB, os.path.join(path, "vocab.txt"))
    return path


def roberta_vocab(path):
    """roberta-base's conventions on GPT-2's merges, written to path: <s>=0 <pad>=1 </s>=2
    <unk>=3, GPT-2's tokens shifted by 4 (roberta-base's own vocab.json is GPT-2's tokens
    re-numbered by fairseq's dictionary; the numbering does not matter to BPE, only the merges
    do), <mask> last. Returns the vocabulary size."""
    with open(os.path.join(GPT2_VOCAB, "vocab.json"), encoding="utf-8") as f:
        gpt2_vocab = json.load(f)
    v = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for tok, i in sorted(gpt2_vocab.items(), key=lambda kv: kv[1]):
        v[tok] = i + 4
    v["<mask>"] = len(v)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(v, f, ensure_ascii=False)
    return len(v)


def roberta(path, **kw):
    """A random RoBERTa classifier over roberta_vocab()."""
    os.makedirs(path, exist_ok=True)
    vocab = os.path.join(path, "vocab.json.tmp")
    n = roberta_vocab(vocab)
    # positions start at padding_idx + 1 = 2: max_pos rows hold 64 tokens
    kw = dict(dict(layers=2, hidden=32, heads=4, vocab=n, max_pos=66, labels=2, seed=4), **kw)
    make_checkpoint_family.make_checkpoint(path, "roberta", **kw)
    os.replace(vocab, os.path.join(path, "vocab.json"))
    shutil.copy(os.path.join(GPT2_VOCAB, "merges.txt"), os.path.join(path, "merges.txt"))
    return path
