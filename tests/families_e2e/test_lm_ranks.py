"""GPT-2 language-model importance (`--text`) is the same for any number of ranks, and its
run.h5 holds what an independent float64 PyTorch GPT-2 computes.

* A random GPT2LMHeadModel (3 layers x 4 heads, GPT-2's 50257-token BPE) on RTE premises, 32-
  token windows, --save-attentions: np = 1, 2, 3 give byte-identical head_importance.npy and
  attn_entropy.npy, every run.h5 dataset byte-identical (h5py), every attribute equal except
  command_line / created / n_ranks, `h5diff` finds no difference in /importance /entropy
  /examples /attentions /metrics, and the printed tables are identical.
* The stored attention is causal (nothing above the diagonal) and each row sums to 1.
* Per window, loss, gate gradient and entropy equal tests/ref/torch_gpt2.py's (mean next-token
  cross-entropy; d loss / d gate); /metrics loss is the mean window loss, perplexity its exp.
* The real tiny GPT-2 checkpoint (tests/data/models/tiny-gpt2, no tokenizer files: given
  with --tokenizer) runs at np = 1 and 3 with identical results equal to the reference.
"""
import math
import os

import h5py
import numpy as np
import pytest

import torch_families
from bttest import GLUE, GPT2_VOCAB, TINY_GPT2, example_ids, models, ranks_agree, text_file, tsv_column

L, H, MAXLEN, LINES = 3, 4, 32, 14
GROUPS = ["/importance", "/entropy", "/examples", "/attentions", "/metrics"]


def tables(stdout):
    """Printed output without the summary line (seconds and the rank count differ)."""
    return [ln for ln in stdout.splitlines() if not ln.startswith("importance:")]


def ranks_identical(check, work, name, model, text, extra, nps=(1, 2, 3)):
    """Runs importance at each np; checks everything against np=1; returns np=1's out dir."""
    groups = [g for g in GROUPS if g != "/attentions" or "--save-attentions" in extra]
    return ranks_agree(check, name, ["importance", "--model", model, "--text", text, "--max-seq-length", MAXLEN,
                                     "--threads", 1, "--quiet"] + extra, os.path.join(work, name), nps, groups, tables)


def check_attention(check, path, name):
    with h5py.File(path, "r") as f:
        lens, aoff = f["examples/length"][()], f["attentions/offset"][()]
        data = f["attentions/data"]
        worst_upper, worst_sum = 0.0, 0.0
        for i, T in enumerate(lens):
            T = int(T)
            a = data[aoff[i]:aoff[i] + L * H * T * T].astype(np.float64).reshape(L, H, T, T)
            worst_upper = max(worst_upper, float(np.abs(np.triu(a, 1)).max()) if T > 1 else 0.0)
            worst_sum = max(worst_sum, float(np.abs(a.sum(-1) - 1).max()))
    print("%s: attention above the diagonal max %.3g, |row sum - 1| max %.3g" % (name, worst_upper, worst_sum))
    check(worst_upper == 0.0, "%s: stored attention is not causal (%.3g above the diagonal)" % (name, worst_upper))
    check(worst_sum < 2e-3, "%s: attention rows do not sum to 1 (%.3g, float16 storage)" % (name, worst_sum))


def against_reference(check, model_dir, run_dir, name, picks):
    """Windows `picks` of run.h5 against the float64 torch reference of the same directory."""
    ref = torch_families.load(model_dir)
    seqs = example_ids(os.path.join(run_dir, "run.h5"))
    with h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
        loss, gg, ent = f["examples/loss"][()], f["examples/gate_grad"][()], f["examples/entropy"][()]
        metrics = dict(f["metrics"].attrs)
    for i in picks:
        r = ref.example(seqs[i])
        check.close("%s window %d (T=%d) loss" % (name, i, len(seqs[i])), loss[i], r["loss"], 1e-4 * abs(r["loss"]))
        check.close("%s window %d gate_grad" % (name, i), gg[i], r["gate_grad"],
                  1e-4 * max(np.abs(r["gate_grad"]).max(), 1e-3))
        check.close("%s window %d entropy" % (name, i), ent[i], r["entropy"], 1e-4 * max(np.abs(r["entropy"]).max(), 1))
    mean = float(np.mean(loss.astype(np.float64)))
    check.close("%s /metrics loss = mean window loss" % name, metrics["loss"], mean, 1e-6 * mean)
    check.close("%s /metrics perplexity = exp(loss)" % name, metrics["perplexity"], math.exp(metrics["loss"]),
              1e-9 * metrics["perplexity"])
    check.close("%s /metrics inv_loss = 1/loss" % name, metrics["inv_loss"], 1 / metrics["loss"], 1e-12)
    return seqs


@pytest.fixture(scope="module")
def text(work):
    """LINES lines of RTE premises (1-3 sentences each: many longer than a 32-token window)."""
    return text_file(os.path.join(work, "rte.txt"), tsv_column(os.path.join(GLUE, "RTE", "dev.tsv"), 1, LINES))


def test_random_gpt2(work, text, check, blas_one_thread):
    model = models.gpt2(os.path.join(work, "gpt2"), layers=L, heads=H)
    ref = ranks_identical(check, work, "gpt2", model, text, ["--save-attentions"])
    imp = np.load(os.path.join(ref, "head_importance.npy"))
    ent = np.load(os.path.join(ref, "attn_entropy.npy"))
    check(imp.shape == (L, H) and np.ptp(imp) > 0, "head_importance.npy %s %s" % (imp.shape, imp))
    check(ent.shape == (L, H) and np.all(ent > 0), "attn_entropy.npy %s" % ent)
    check_attention(check, os.path.join(ref, "run.h5"), "gpt2")
    seqs = example_ids(os.path.join(ref, "run.h5"))
    lens = [len(s) for s in seqs]
    check(max(lens) == MAXLEN and min(lens) >= 2, "window lengths %d..%d" % (min(lens), max(lens)))
    # the first window, the first tail of a line split across windows, the last
    tail = next(i for i in range(1, len(lens)) if lens[i - 1] == MAXLEN and lens[i] < MAXLEN)
    against_reference(check, model, ref, "gpt2", sorted({0, tail, len(seqs) - 1}))


def test_tiny_gpt2(work, text, check, blas_one_thread):
    """the real tiny checkpoint: no tokenizer files of its own"""
    tiny = ranks_identical(check, work, "tiny", TINY_GPT2, text, ["--tokenizer", GPT2_VOCAB], nps=(1, 3))
    seqs = against_reference(check, TINY_GPT2, tiny, "tiny-gpt2", [0, 1])
    print("tiny-gpt2: %d windows" % len(seqs))
