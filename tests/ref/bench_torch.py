#!/usr/bin/python3
"""Speed of bertology against PyTorch on a bert-base-sized model, in one run (not a test).

    bench_torch.py [--model DIR] [--threads 2] [--iters 3] [--rounds 1]
                   [--ours path/to/bertology [--examples 64] [--gemm auto|blas|onednn]]

Times, in float32 with torch.set_num_threads(threads), sequences of 128 tokens:
  (a) hf:   as HF's run_bertology.py runs: batch 1 padded to 128, attention mask, every
            parameter requires grad (loss.backward() also computes all weight gradients),
            entropy of the returned attentions;
  (b) best: batch 8 x 128, parameters frozen, only the gates require grad; one gate copy per
            sequence ([B, L, H]) so each example gets its own gradient as bertology computes;
  (c) fwd:  forward only, batch 8 x 128, no autograd.
Each is the median of --iters runs after a warm-up (printed with min..max).

With --ours, in the same process and on the same checkpoint:
  `bertology bench` (GEMM rate of every backend, engine forward and forward + backward at
  T = 128) and `bertology importance` on --examples SST-2-format examples of exactly 128
  tokens (random words of the checkpoint's vocabulary), and prints the ratios of issue 14:
    gemm_GFLOP/s         fastest GEMM measured (target >= 380 on the issue's machine)
    bench/gemm           engine forward + backward FLOP rate over that GEMM (>= 0.80): the median
                         of per-run ratios, and the best run over the best product
    importance/torch     importance tokens/s over (b) best (>= 2.5) and over (a) hf (>= 8)
    importance/bench     importance tokens/s over bench's forward + backward at T = 128 (>= 0.95):
                         the median of per-round ratios, and the fastest importance run over
                         the fastest bench run of all rounds (--imp-runs importance runs a round)
With --rounds K the whole comparison repeats K times; each ratio is then reported as the median
over rounds with its min..max, and the 1-minute load average of each round is printed: on a
shared machine only ratios measured together mean anything. Without --model a random
checkpoint with a vocab.txt is written to a temp dir (make_checkpoint.py, about 3 s).
"""
import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time

import torch

import make_checkpoint
import torch_bert

T = 128


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


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
    ts = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), min(ts), max(ts)


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

    rates = {}
    for key, name, fn, B in (("hf", "(a) hf: batch 1, param grads", hf_step, 1),
                             ("best", "(b) best: batch 8, gates only", best_step, 8),
                             ("fwd", "(c) fwd: batch 8, no grad", fwd_step, 8)):
        med, lo, hi = timed(fn, iters)
        rates[key] = B * T / med
        print("torch %-32s s/example=%.4f tokens/s=%.0f (median of %d; %.0f..%.0f) load=%.2f"
              % (name, med / B, B * T / med, iters, B * T / hi, B * T / lo, load1()), flush=True)
    return rates


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    sys.stdout.write("".join("  | " + l + "\n" for l in p.stdout.splitlines()
                             if not re.match(r"(layer \d|lv, h|Attention|Head)", l)))
    if p.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(cmd[:2]), p.returncode, p.stderr.strip()))
    return p.stdout


def ours_bench(binary, model_dir, threads, gemm, reps):
    out = run([binary, "bench", "--model", model_dir, "--threads", str(threads), "--reps", str(reps)]
              + (["--gemm", gemm] if gemm else []))
    r = {}
    for line in out.splitlines():
        mo = re.search(r"^bench mode=(\S+) T=128 .*tok/s=([0-9.]+) \(median of \d+; [0-9.]+\.\.([0-9.]+)\)"
                       r".* ratio=([0-9.]+).* best_ratio=([0-9.]+)", line)
        if mo:
            r[mo.group(1)] = float(mo.group(2))
            r[mo.group(1) + "_best"] = float(mo.group(3))
            r[mo.group(1) + "_ratio"] = float(mo.group(4))
            r[mo.group(1) + "_best_ratio"] = float(mo.group(5))
        mo = re.search(r"^bench gemm_fastest=(\S+) GFLOP/s=([0-9.]+) engine_gemm=(\S+)", line)
        if mo:
            r["gemm_name"], r["gemm"], r["engine_gemm"] = mo.group(1), float(mo.group(2)), mo.group(3)
    if "fwd+bwd" not in r or "gemm" not in r:
        raise RuntimeError("no 'bench mode=fwd+bwd T=128' / 'bench gemm_fastest=' line from %s" % binary)
    return r


def write_examples(data_dir, n, vocab_size, seed=0):
    """SST-2-format dev.tsv: n sentences of T - 2 words of the checkpoint's vocab.txt (tok<i>),
    each one WordPiece token, so every example is exactly T tokens with [CLS] and [SEP]."""
    os.makedirs(data_dir, exist_ok=True)
    rng = random.Random(seed)
    with open(os.path.join(data_dir, "dev.tsv"), "w") as f:
        f.write("sentence\tlabel\n")
        for i in range(n):
            words = " ".join("tok%d" % rng.randrange(5, vocab_size) for _ in range(T - 2))
            f.write("%s\t%d\n" % (words, i % 2))


def ours_importance(binary, model_dir, data_dir, out_dir, threads, gemm):
    out = run([binary, "importance", "--model", model_dir, "--task", "sst-2", "--data", data_dir,
               "--out", out_dir, "--threads", str(threads), "--quiet"] + (["--gemm", gemm] if gemm else []))
    mo = re.search(r"^importance: (\d+) examples, (\d+) tokens, ([0-9.]+) s, ([0-9.]+) tokens/s", out, re.M)
    if not mo:
        raise RuntimeError("no 'importance: ... tokens/s' line from %s" % binary)
    if int(mo.group(2)) != int(mo.group(1)) * T:
        raise RuntimeError("importance saw %s tokens for %s examples, not %d each" % (mo.group(2), mo.group(1), T))
    return float(mo.group(4))


def summarize(rounds):
    rows = (("gemm_GFLOP/s", "gemm", ">= 380"),
            ("bench/gemm (median of per-run ratios)", "bench_gemm", ">= 0.80"),
            ("bench/gemm (best run / best product)", "bench_gemm_best", ">= 0.80"),
            ("importance/torch_best", "imp_best", ">= 2.5"),
            ("importance/torch_hf", "imp_hf", ">= 8"),
            ("importance/bench", "imp_bench", ">= 0.95"),
            ("importance/bench (best run / best run)", "imp_bench_best", ">= 0.95"),
            ("bench_fwd/torch_fwd", "fwd_fwd", ""))
    print("\nratios over %d round(s) (median, min..max; load %s):"
          % (len(rounds), ", ".join("%.2f" % r["load"] for r in rounds)))
    print("| ratio | median | min..max | target |")
    print("|---|---|---|---|")
    for name, key, target in rows:
        v = [r[key] for r in rounds]
        print("| %s | %.2f | %.2f..%.2f | %s |" % (name, statistics.median(v), min(v), max(v), target))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="bert-base-sized checkpoint with vocab.txt of tok<i> words "
                    "(default: write a random one)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--ours", help="bertology binary: also run `bertology bench` and `importance` and compare")
    ap.add_argument("--examples", type=int, default=64, help="examples for `bertology importance` (default 64)")
    ap.add_argument("--gemm", help="--gemm for bertology (default: its auto)")
    ap.add_argument("--imp-runs", type=int, default=1,
                    help="`bertology importance` runs per round (default 1): the round uses their median")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    tmp = tempfile.TemporaryDirectory(prefix="bt_bench_")
    model_dir = a.model
    try:
        if not model_dir:
            model_dir = os.path.join(tmp.name, "bert-base-random")
            t0 = time.perf_counter()
            make_checkpoint.make_checkpoint(model_dir, bert_base=True, vocab_txt=True)
            print("wrote %s in %.1f s" % (model_dir, time.perf_counter() - t0))
        m = torch_bert.Bert(model_dir, dtype=torch.float32)
        print("torch %s, %d threads, L=%d D=%d H=%d F=%d, T=%d"
              % (torch.__version__, torch.get_num_threads(), m.L, m.D, m.H,
                 m.cfg["intermediate_size"], T), flush=True)
        data_dir = os.path.join(tmp.name, "sst-2")
        if a.ours:
            write_examples(data_dir, a.examples, m.cfg["vocab_size"])
        rounds = []
        for k in range(a.rounds):
            if a.rounds > 1:
                print("round %d of %d, load %.2f" % (k + 1, a.rounds, load1()), flush=True)
            load = load1()
            tr = bench(m, a.iters)
            if not a.ours:
                continue
            b = ours_bench(a.ours, model_dir, a.threads, a.gemm, max(a.iters, 3))
            imps = [ours_importance(a.ours, model_dir, data_dir, os.path.join(tmp.name, "out%d_%d" % (k, j)),
                                    a.threads, a.gemm) for j in range(max(a.imp_runs, 1))]
            imp = statistics.median(imps)
            r = {"load": (load + load1()) / 2, "gemm": b["gemm"], "bench_gemm": b["fwd+bwd_ratio"],
                 "bench_gemm_best": b["fwd+bwd_best_ratio"],
                 "imp_best": imp / tr["best"], "imp_hf": imp / tr["hf"], "imp_bench": imp / b["fwd+bwd"],
                 "imp_fastest": max(imps), "bench_fastest": b["fwd+bwd_best"],
                 "fwd_fwd": b.get("fwd", float("nan")) / tr["fwd"]}
            print("round %d: bertology importance %.0f tok/s (%d examples), bench fwd+bwd %.0f tok/s, "
                  "torch best %.0f, hf %.0f tok/s; GEMM %s %.1f GFLOP/s (engine: %s)"
                  % (k + 1, imp, a.examples, b["fwd+bwd"], tr["best"], tr["hf"], b["gemm_name"], b["gemm"],
                     b["engine_gemm"]), flush=True)
            rounds.append(r)
        if rounds:
            # the best importance run over the best bench run of all rounds: what an idle
            # machine would show, when other processes slow some runs down
            best = max(r["imp_fastest"] for r in rounds) / max(r["bench_fastest"] for r in rounds)
            for r in rounds:
                r["imp_bench_best"] = best
            summarize(rounds)
    except RuntimeError as e:
        print("bench_torch.py: %s" % e, file=sys.stderr)
        return 1
    finally:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
