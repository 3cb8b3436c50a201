#!/usr/bin/python3
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
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import torch_families  # noqa: E402  (tests/ref, on the path through e2e)
from e2e import check  # noqa: E402

L, H, MAXLEN, LINES = 3, 4, 32, 14
GROUPS = ["/importance", "/entropy", "/examples", "/attentions", "/metrics"]


def tables(stdout):
    """Printed output without the summary line (seconds and the rank count differ)."""
    return [ln for ln in stdout.splitlines() if not ln.startswith("importance:")]


def ranks_identical(args, name, model, text, extra, nps=(1, 2, 3)):
    """Runs importance at each np; checks everything against np=1; returns np=1's out dir."""
    outs = {}
    for np_ in nps:
        out = os.path.join(args.work, "%s_np%d" % (name, np_))
        p = e2e.run_ok(args, np_, ["importance", "--model", model, "--text", text, "--out", out,
                                   "--max-seq-length", MAXLEN, "--threads", 1, "--quiet"] + extra,
                       "%s importance" % name)
        if p:
            outs[np_] = (out, p.stdout)
    if 1 not in outs:
        return None
    ref, ref_stdout = outs[1]
    for np_, (out, stdout) in sorted(outs.items()):
        if np_ == 1:
            continue
        what = "%s np=1 vs np=%d" % (name, np_)
        for f in ("head_importance.npy", "attn_entropy.npy"):
            check(e2e.same_files(os.path.join(ref, f), os.path.join(out, f)), "%s: %s differs" % (what, f))
        n = e2e.compare_h5(os.path.join(ref, "run.h5"), os.path.join(out, "run.h5"), what)
        check(tables(stdout) == tables(ref_stdout), "%s: printed tables differ" % what)
        groups = [g for g in GROUPS if g != "/attentions" or "--save-attentions" in extra]
        e2e.h5diff_groups(os.path.join(ref, "run.h5"), os.path.join(out, "run.h5"), groups, what)
        print("%s: %d datasets, both .npy files and the tables identical" % (what, n))
    return ref


def check_attention(path, name):
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


def against_reference(model_dir, run_dir, name, picks):
    """Windows `picks` of run.h5 against the float64 torch reference of the same directory."""
    ref = torch_families.load(model_dir)
    seqs = e2e.rows(os.path.join(run_dir, "run.h5"))
    with h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
        loss, gg, ent = f["examples/loss"][()], f["examples/gate_grad"][()], f["examples/entropy"][()]
        metrics = dict(f["metrics"].attrs)
    for i in picks:
        r = ref.example(seqs[i])
        e2e.close("%s window %d (T=%d) loss" % (name, i, len(seqs[i])), loss[i], r["loss"], 1e-4 * abs(r["loss"]))
        e2e.close("%s window %d gate_grad" % (name, i), gg[i], r["gate_grad"],
                  1e-4 * max(np.abs(r["gate_grad"]).max(), 1e-3))
        e2e.close("%s window %d entropy" % (name, i), ent[i], r["entropy"], 1e-4 * max(np.abs(r["entropy"]).max(), 1))
    mean = float(np.mean(loss.astype(np.float64)))
    e2e.close("%s /metrics loss = mean window loss" % name, metrics["loss"], mean, 1e-6 * mean)
    e2e.close("%s /metrics perplexity = exp(loss)" % name, metrics["perplexity"], math.exp(metrics["loss"]),
              1e-9 * metrics["perplexity"])
    e2e.close("%s /metrics inv_loss = 1/loss" % name, metrics["inv_loss"], 1 / metrics["loss"], 1e-12)
    return seqs


def main():
    args = e2e.setup(e2e.parser(__doc__).parse_args())
    model = e2e.gpt2(args, "gpt2", layers=L, heads=H)
    text = e2e.corpus(args, "rte.txt", LINES)

    ref = ranks_identical(args, "gpt2", model, text, ["--save-attentions"])
    if ref:
        imp = np.load(os.path.join(ref, "head_importance.npy"))
        ent = np.load(os.path.join(ref, "attn_entropy.npy"))
        check(imp.shape == (L, H) and np.ptp(imp) > 0, "head_importance.npy %s %s" % (imp.shape, imp))
        check(ent.shape == (L, H) and np.all(ent > 0), "attn_entropy.npy %s" % ent)
        check_attention(os.path.join(ref, "run.h5"), "gpt2")
        seqs = e2e.rows(os.path.join(ref, "run.h5"))
        lens = [len(s) for s in seqs]
        check(max(lens) == MAXLEN and min(lens) >= 2, "window lengths %d..%d" % (min(lens), max(lens)))
        # the first window, the first tail of a line split across windows, the last
        tail = next(i for i in range(1, len(lens)) if lens[i - 1] == MAXLEN and lens[i] < MAXLEN)
        against_reference(model, ref, "gpt2", sorted({0, tail, len(seqs) - 1}))

    # the real tiny checkpoint: no tokenizer files of its own
    tiny = ranks_identical(args, "tiny", args.tiny_gpt2, text,
                           ["--tokenizer", args.gpt2_vocab], nps=(1, 3))
    if tiny:
        seqs = against_reference(args.tiny_gpt2, tiny, "tiny-gpt2", [0, 1])
        print("tiny-gpt2: %d windows" % len(seqs))
    return e2e.finish()


if __name__ == "__main__":
    sys.exit(main())
