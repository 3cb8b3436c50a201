"""OpenAI GPT checkpoints through the CLI without --tokenizer: `bertology importance --text`
on an LM-head model and `bertology importance --task rte` on a classifier, both random
openai-gpt checkpoints (make_checkpoint_family.py) sized to the test vocabulary
tests/data/vocab/openai-gpt-glue and saved as pytorch_model.bin (the format old openai-gpt
fine-tunes ship in). The token ids run.h5 records must be gpt_ref.RefGPT's.
"""
import json
import os
import shutil

import pytest

import compare_torchbin
import make_checkpoint_family as mcf
from bttest import GLUE, OPENAI_GPT_VOCAB, bertology, example_ids
from gpt_ref import RefGPT


def model(tmp, name, vocab_dir, n_vocab, **kw):
    st = os.path.join(tmp, name + "_st")
    mcf.make_checkpoint(st, family="openai-gpt", layers=2, hidden=32, heads=4, vocab=n_vocab, max_pos=64,
                        seed=5, **kw)
    d = os.path.join(tmp, name)
    compare_torchbin.write_bin(st, d, "openai-gpt")
    for fn in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(vocab_dir, fn), d)
    return d


@pytest.fixture(scope="module")
def vocab():
    """(the test vocabulary's size, RefGPT on it)"""
    with open(os.path.join(OPENAI_GPT_VOCAB, "vocab.json"), encoding="utf-8") as f:
        n_vocab = max(json.load(f).values()) + 1
    return n_vocab, RefGPT(os.path.join(OPENAI_GPT_VOCAB, "vocab.json"), os.path.join(OPENAI_GPT_VOCAB, "merges.txt"))


def test_importance_text(vocab, work):
    """importance --text on an openai-gpt LM saved as pytorch_model.bin"""
    n_vocab, ref = vocab
    lm = model(work, "gpt_lm", OPENAI_GPT_VOCAB, n_vocab)
    text = os.path.join(work, "text.txt")
    with open(os.path.join(GLUE, "SST-2", "dev.tsv"), encoding="utf-8") as f:
        docs = [r.split("\t")[0] for r in f.read().split("\n")[1:13]]
    with open(text, "w", encoding="utf-8") as f:
        f.write("\n".join(docs) + "\n")
    out = os.path.join(work, "lm_out")
    bertology(["importance", "--model", lm, "--text", text, "--out", out, "--threads", "1",
               "--max-seq-length", "64", "--quiet"])
    assert example_ids(os.path.join(out, "run.h5")) == [ref.ids(d)[:64] for d in docs], "ids != RefGPT's"
    print("importance --text (openai-gpt LM, pytorch_model.bin): %d documents, ids = RefGPT's" % len(docs))


def test_importance_rte(vocab, work):
    """importance --task rte on an openai-gpt classifier"""
    n_vocab, ref = vocab
    cls = model(work, "gpt_cls", OPENAI_GPT_VOCAB, n_vocab, labels=2)
    out = os.path.join(work, "rte_out")
    bertology(["importance", "--model", cls, "--task", "rte", "--data", GLUE, "--subset", "8",
               "--out", out, "--threads", "1", "--max-seq-length", "48", "--quiet"])
    with open(os.path.join(GLUE, "RTE", "dev.tsv"), encoding="utf-8") as f:
        rows = [r.split("\t") for r in f.read().split("\n")[1:9]]
    want = [ref.encode(r[1], r[2], 48)[0] for r in rows]
    assert example_ids(os.path.join(out, "run.h5")) == want, "ids != RefGPT's"
    print("importance --task rte (openai-gpt classifier): %d examples, ids = RefGPT's" % len(rows))
