#!/usr/bin/python3
"""PyTorch speed baseline for head importance on a bert-base-sized model (not a test).

    bench_torch.py [--model DIR] [--threads 2] [--iters 3] [--ours path/to/bertology]

Times, in float32 with torch.set_num_threads(threads), sequences of 128 tokens:
  (a) hf:   as HF's run_bertology.py runs: batch 1 padded to 128, attention mask, every
            parameter requires grad (loss.backward() also computes all weight gradients),
            entropy of the returned attentions;
  (b) best: batch 8 x 128, parameters frozen, only the gates require grad; one gate copy per
            sequence ([B, L, H]) so each example gets its own gradient as bertology computes;
  (c) fwd:  forward only, batch 8 x 128, no autograd.
Prints s/example and tokens/s (128 tokens per example). With --ours it runs
`bertology bench --model DIR --threads N` and divides its `bench mode=... T=128 ... tok/s=X`
rates by ours/torch. Without --model a random checkpoint is written to a temp dir
(make_checkpoint.py --bert-base, about 3 s).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_checkpoint  # noqa: E402
import torch_bert  # noqa: E402

T = 128


def entropy_sum(probs, mask):
    """HF's entropy(): 0 log 0 = 0, masked query rows dropped, summed over batch and rows."""
    out = []
    for p in probs:
        p = p.detach()
        plogp = p * torch.log(p)
        plogp[p == 0] = 0
        out.append((-plogp.sum(-1) * mask[:, None, :]).sum((0, 2)))
    return out


def timed(fn, iters):
    fn()  # warm-up: allocator, thread pool, lazy init
    best, total = float("inf"), 0.0
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best, total = min(best, dt), total + dt
    return best, total / iters


def bench(m, iters):
    L, H, C, V = m.L, m.H, m.C, m.cfg["vocab_size"]
    g = torch.Generator().manual_seed(0)

    def batch(B):
        ids = torch.randint(0, V, (B, T), generator=g)
        types = torch.zeros(B, T, dtype=torch.long)
        types[:, T // 2:] = 1
        mask = torch.ones(B, T)
        labels = torch.randint(0, max(C, 2), (B,), generator=g)
        return ids, types, mask, labels

    params = m.parameters()

    def hf_step():
        for p in params:
            p.requires_grad_(True)
            p.grad = None
        ids, types, mask, labels = batch(1)
        gates = torch.ones(L, H, requires_grad=True)
        logits, rec = m.forward(ids, types, gates, mask=mask, record="probs")
        m.loss(logits, labels).mean().backward()
        entropy_sum(rec["probs"], mask)
        return gates.grad

    def best_step(B=8):
        for p in params:
            p.requires_grad_(False)
            p.grad = None
        ids, types, mask, labels = batch(B)
        gates = torch.ones(B, L, H, requires_grad=True)
        logits, rec = m.forward(ids, types, gates, mask=mask, record="probs")
        m.loss(logits, labels).sum().backward()
        entropy_sum(rec["probs"], mask)
        return gates.grad.abs().sum(0)

    def fwd_step(B=8):
        with torch.no_grad():
            ids, types, mask, _ = batch(B)
            m.forward(ids, types, torch.ones(L, H), mask=mask)

    rows = []
    for name, fn, B in (("(a) hf: batch 1, param grads", hf_step, 1),
                        ("(b) best: batch 8, gates only", best_step, 8),
                        ("(c) fwd: batch 8, no grad", fwd_step, 8)):
        best, mean = timed(fn, iters)
        rows.append((name, B, best, mean))
        print("torch %-32s s/example=%.4f tokens/s=%.0f (best of %d; mean s/example=%.4f)"
              % (name, best / B, B * T / best, iters, mean / B), flush=True)
    return {"hf": B_rate(rows[0]), "best": B_rate(rows[1]), "fwd": B_rate(rows[2])}


def B_rate(row):
    _, B, best, _ = row
    return B * T / best


def ours(binary, model_dir, threads):
    p = subprocess.run([binary, "bench", "--model", model_dir, "--threads", str(threads)],
                       capture_output=True, text=True, timeout=3600)
    sys.stdout.write("".join("  | " + l + "\n" for l in p.stdout.splitlines()))
    if p.returncode != 0:
        print("bertology bench exited %d: %s" % (p.returncode, p.stderr.strip()))
        return {}
    rates = {}
    for line in p.stdout.splitlines():
        mo = re.search(r"mode=(\S+)", line)
        tok = re.search(r"(?:tok/s|tokens/s)=([0-9.eE+]+)", line)
        if line.startswith("bench") and mo and tok and re.search(r"\bT=128\b", line):
            rates[mo.group(1)] = float(tok.group(1))
    return rates


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="bert-base-sized checkpoint (default: write a random one)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--ours", help="bertology binary: also run `bertology bench` and compare")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    tmp = None
    model_dir = a.model
    if not model_dir:
        tmp = tempfile.TemporaryDirectory(prefix="bt_bench_")
        model_dir = os.path.join(tmp.name, "bert-base-random")
        t0 = time.perf_counter()
        make_checkpoint.make_checkpoint(model_dir, bert_base=True)
        print("wrote %s in %.1f s" % (model_dir, time.perf_counter() - t0))
    try:
        m = torch_bert.Bert(model_dir, dtype=torch.float32)
        print("torch %s, %d threads, L=%d D=%d H=%d F=%d, T=%d"
              % (torch.__version__, torch.get_num_threads(), m.L, m.D, m.H,
                 m.cfg["intermediate_size"], T), flush=True)
        torch_rates = bench(m, a.iters)
        del m
        if a.ours:
            r = ours(a.ours, model_dir, a.threads)
            if "fwd+bwd" not in r:
                print("no 'bench mode=fwd+bwd T=128 ... tok/s=' line from %s" % a.ours)
                return 1
            print("speed-up of bertology fwd+bwd (%.0f tok/s): %.2fx vs (a) hf, %.2fx vs (b) best"
                  % (r["fwd+bwd"], r["fwd+bwd"] / torch_rates["hf"],
                     r["fwd+bwd"] / torch_rates["best"]))
            if "fwd" in r:
                print("speed-up of bertology fwd (%.0f tok/s): %.2fx vs (c) torch forward"
                      % (r["fwd"], r["fwd"] / torch_rates["fwd"]))
    finally:
        if tmp:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
