#!/usr/bin/python3
"""OpenAI GPT checkpoints through the CLI without --tokenizer: `bertology importance --text`
on an LM-head model and `bertology importance --task rte` on a classifier, both random
openai-gpt checkpoints (make_checkpoint_family.py) sized to the test vocabulary
tests/data/vocab/openai-gpt-glue and saved as pytorch_model.bin (the format old openai-gpt
fine-tunes ship in). The token ids run.h5 records must be gpt_ref.RefGPT's.

usage: gpt_e2e.py BERTOLOGY SOURCE_DIR TMPDIR
"""
import json
import os
import shutil
import subprocess
import sys

import h5py

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "ref"))
from gpt_ref import RefGPT  # noqa: E402
import compare_torchbin  # noqa: E402
import make_checkpoint_family as mcf  # noqa: E402


def model(tmp, name, vocab_dir, n_vocab, **kw):
    st = os.path.join(tmp, name + "_st")
    mcf.make_checkpoint(st, family="openai-gpt", layers=2, hidden=32, heads=4, vocab=n_vocab, max_pos=64,
                        seed=5, **kw)
    d = os.path.join(tmp, name)
    compare_torchbin.write_bin(st, d, "openai-gpt")
    for fn in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(vocab_dir, fn), d)
    return d


def run_ids(out):
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        off, ids = f["examples/token_offset"][:], f["examples/token_ids"][:]
    return [list(map(int, ids[o:e])) for o, e in zip(off, list(off[1:]) + [len(ids)])]


def main():
    binary, src, tmp = sys.argv[1:4]
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    vocab_dir = os.path.join(src, "tests", "data", "vocab", "openai-gpt-glue")
    glue = os.path.join(src, "tests", "data", "glue")
    with open(os.path.join(vocab_dir, "vocab.json"), encoding="utf-8") as f:
        n_vocab = max(json.load(f).values()) + 1
    ref = RefGPT(os.path.join(vocab_dir, "vocab.json"), os.path.join(vocab_dir, "merges.txt"))
    bad = 0

    lm = model(tmp, "gpt_lm", vocab_dir, n_vocab)
    text = os.path.join(tmp, "text.txt")
    with open(os.path.join(glue, "SST-2", "dev.tsv"), encoding="utf-8") as f:
        docs = [r.split("\t")[0] for r in f.read().split("\n")[1:13]]
    with open(text, "w", encoding="utf-8") as f:
        f.write("\n".join(docs) + "\n")
    out = os.path.join(tmp, "lm_out")
    p = subprocess.run([binary, "importance", "--model", lm, "--text", text, "--out", out, "--threads", "1",
                        "--max-seq-length", "64", "--quiet"], capture_output=True, text=True)
    if p.returncode:
        print("FAIL importance --text: %s" % p.stderr.strip())
        bad += 1
    else:
        got, want = run_ids(out), [ref.ids(d)[:64] for d in docs]
        ok = got == want
        bad += not ok
        print("importance --text (openai-gpt LM, pytorch_model.bin): %d documents, ids %s RefGPT's"
              % (len(docs), "=" if ok else "!="))

    cls = model(tmp, "gpt_cls", vocab_dir, n_vocab, labels=2)
    out = os.path.join(tmp, "rte_out")
    p = subprocess.run([binary, "importance", "--model", cls, "--task", "rte", "--data", glue, "--subset", "8",
                        "--out", out, "--threads", "1", "--max-seq-length", "48", "--quiet"],
                       capture_output=True, text=True)
    if p.returncode:
        print("FAIL importance --task rte: %s" % p.stderr.strip())
        bad += 1
    else:
        with open(os.path.join(glue, "RTE", "dev.tsv"), encoding="utf-8") as f:
            rows = [r.split("\t") for r in f.read().split("\n")[1:9]]
        want = [ref.encode(r[1], r[2], 48)[0] for r in rows]
        got = run_ids(out)
        ok = got == want
        bad += not ok
        print("importance --task rte (openai-gpt classifier): %d examples, ids %s RefGPT's" % (len(rows), "=" if ok else "!="))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
