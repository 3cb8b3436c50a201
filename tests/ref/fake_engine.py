#!/usr/bin/python3
"""A float32 PyTorch stand-in for `bertology forward`, to test compare_engine.py itself.

    fake_engine.py forward --model DIR --ids FILE [--types F] [--labels F] [--gates G.npy]
                   [--batch-tokens N] [--attentions] [--hidden] [--threads N] --out OUTDIR

It runs torch_bert in float32, so a correct float32 implementation is known to pass the
comparison tolerances, and with BT_FAKE_BUG set it plants one bug so the comparison is known
to catch it: gelu_tanh (tanh GELU for erf GELU), entropy_log2 (bits not nats), grad_scale
(gate gradient 0.1% too large), types_ignored (token types all 0), tok_noabs (token-level
importance without |.|), pack (result depends on batch composition). Bad input exits 2.
"""
import argparse
import os
import sys

import numpy as np
import torch

import torch_bert  # noqa: E402  (this script's directory is on sys.path)


def fail(msg):
    print("fake_engine: " + msg, file=sys.stderr)
    return 2


def read_rows(path, conv):
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append([conv(t) for t in line.split()])
            except ValueError:
                raise ValueError("%s:%d: not a number" % (path, n))
    return rows


def main(argv):
    if not argv or argv[0] != "forward":
        return fail("only the forward command is faked")
    ap = argparse.ArgumentParser()
    for k in ("--model", "--ids", "--types", "--labels", "--gates", "--out"):
        ap.add_argument(k)
    ap.add_argument("--batch-tokens", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--attentions", action="store_true")
    ap.add_argument("--hidden", action="store_true")
    a = ap.parse_args(argv[1:])
    bug = os.environ.get("BT_FAKE_BUG", "")
    torch.set_num_threads(max(1, a.threads))
    try:
        m = torch_bert.Bert(a.model, dtype=torch.float32)
    except (OSError, ValueError, KeyError) as e:
        return fail("%s: cannot load model: %s" % (a.model, e))
    if bug == "gelu_tanh" and m.cfg["hidden_act"] == "gelu":
        m.act = torch_bert._act("gelu_new")
    V, TV, P = m.cfg["vocab_size"], m.cfg["type_vocab_size"], m.cfg["max_position_embeddings"]
    try:
        seqs = read_rows(a.ids, int)
        types = read_rows(a.types, int) if a.types else [[0] * len(s) for s in seqs]
        labels = None
        if a.labels:
            conv = float if m.head == torch_bert.HEAD_REGRESS else int
            labels = [r[0] for r in read_rows(a.labels, conv)]
    except (OSError, ValueError) as e:
        return fail(str(e))
    for b, (s, t) in enumerate(zip(seqs, types)):
        if not 1 <= len(s) <= P:
            return fail("%s:%d: length %d not in 1..%d" % (a.ids, b + 1, len(s), P))
        if min(s) < 0 or max(s) >= V:
            return fail("%s:%d: token id out of range 0..%d" % (a.ids, b + 1, V - 1))
        if len(t) != len(s) or min(t) < 0 or max(t) >= TV:
            return fail("%s:%d: bad token types" % (a.types, b + 1))
    if len(types) != len(seqs) or (labels is not None and len(labels) != len(seqs)):
        return fail("%s: line count differs from %s" % (a.labels or a.types, a.ids))
    if labels is not None and m.head == torch_bert.HEAD_CLASSIFY:
        if any(not 0 <= v < m.C for v in labels):
            return fail("%s: label out of range 0..%d" % (a.labels, m.C - 1))
    gates = np.ones((m.L, m.H), np.float32)
    if a.gates:
        gates = np.load(a.gates)
        if gates.shape != (m.L, m.H) or not np.all(np.isfinite(gates)):
            return fail("%s: gates must be finite [%d, %d]" % (a.gates, m.L, m.H))
    if bug == "types_ignored":
        types = [[0] * len(s) for s in seqs]
    if labels is not None and m.head == torch_bert.HEAD_NONE:
        labels = None
    r = torch_bert.run(m, seqs, types, labels, gates)
    if bug == "grad_scale" and "gate_grad" in r:
        r["gate_grad"] = r["gate_grad"] * 1.001
    if bug == "tok_noabs" and "gate_grad" in r:
        r["gate_grad_tok"] = np.abs(r["gate_grad"])
    if bug == "entropy_log2":
        r["entropy"] = r["entropy"] / np.log(2)
    if bug == "pack" and len(seqs) > 1 and "logits" in r:
        r["logits"] = r["logits"] * (1 + 1e-4)
    os.makedirs(a.out, exist_ok=True)
    dtypes = {"logits": np.float32, "loss": np.float64, "gate_grad": np.float64,
              "gate_grad_tok": np.float64, "entropy": np.float64}
    for k, dt in dtypes.items():
        if k in r:
            np.save(os.path.join(a.out, k + ".npy"), np.asarray(r[k]).astype(dt))
    for b in range(len(seqs)):
        if a.attentions:
            np.save(os.path.join(a.out, "attn_%d.npy" % b), r["attn"][b].astype(np.float32))
        if a.hidden:
            np.save(os.path.join(a.out, "hidden_%d.npy" % b), r["hidden"][b].astype(np.float32))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
