#!/usr/bin/python3
"""`bertology bench` (issues 13 and 14): its failures, its FLOP count, its SST-2 lengths.

    check_bench.py --bertology BIN --source DIR --work DIR

1. A BertModel checkpoint (no head): bench prints the forward case, then fails with the engine's
   error on the backward (exit != 0, one stderr line), and never claims a backward rate.
2. The FLOPs bench reports per batch equal a count written here from the model's shapes, for a
   BERT classifier (pooler + classifier) and the tiny GPT-2 of tests/data (its tied LM head is
   almost all of its products), forward and forward + backward.
3. The SST-2 dev lengths compiled into bench (src/cli/bench_sst2.h) are what `bertology tokenize`
   gives for data/glue/SST-2/dev.tsv, and the T=sst2 case packs them in file order up to
   --batch-tokens.
4. --gemm with an unknown backend: exit 2 and one line.
5. `bertology importance` with each built backend (--gemm, and BT_GEMM in the environment):
   run.h5 records the backend that ran (options JSON "gemm", bertology_version "GEMM <name> (...)"),
   --verbose names it; the same backend twice gives the same bits, two backends agree to float
   rounding (1e-5 relative on the importance scores).
"""
import random
import argparse
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ref"))
import make_checkpoint  # noqa: E402


def bench(binary, model, *extra):
    return subprocess.run([binary, "bench", "--model", model, "--reps", "1", "--threads", "1",
                           "--batch-tokens", "256"] + list(extra), capture_output=True, text=True, timeout=600)


def cases(stdout):
    out = {}
    for line in stdout.splitlines():
        mo = re.match(r"bench mode=(\S+) T=(\S+) tokens=(\d+) seqs=(\d+) .* flop=(\S+) ", line)
        if mo:
            out[(mo.group(1), mo.group(2))] = (int(mo.group(3)), int(mo.group(4)), float(mo.group(5)))
    return out


def flops(cfg, lens, backward):
    """Multiply-adds x 2 of every product the engine runs (docs/engine.md), from config.json."""
    D = cfg.get("hidden_size", cfg.get("n_embd"))
    L = cfg.get("num_hidden_layers", cfg.get("n_layer"))
    F = cfg.get("intermediate_size") or cfg.get("n_inner") or 4 * D
    V = cfg["vocab_size"]
    lm = "GPT2LMHeadModel" in cfg.get("architectures", [])
    C = cfg.get("num_labels", 2)
    total = 0.0
    for T in lens:
        qkv, o, ffn = 2 * T * 3 * D * D, 2 * T * D * D, 2 * 2 * T * D * F
        scores, context = 2 * T * T * D, 2 * T * T * D  # Q K^T and P V, all heads together
        for layer in range(L):
            total += qkv + o + ffn + scores + context
            if backward:
                total += o + ffn  # dL/d(ctx), dL/d(input of the FFN)
                if layer > 0:  # layer 0 stops at its gates: no dq/dk/dv, no dL/dx
                    total += qkv + 2 * (scores + context)
        if lm:
            total += 2 * (T - 1) * V * D * (2 if backward else 1)
        else:
            total += (2 * D * D + 2 * D * C) * (2 if backward else 1)
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bertology", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    fails = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            fails.append(what)

    # 1. no head
    nohead = make_checkpoint.make_checkpoint(os.path.join(a.work, "nohead"), no_head=True, max_pos=160)
    p = bench(a.bertology, nohead)
    c = cases(p.stdout)
    check(p.returncode != 0, "no head: bench exits non-zero (got %d)" % p.returncode)
    check(("fwd", "128") in c and not any(m == "fwd+bwd" for m, _ in c), "no head: forward timed, no backward line")
    err = [l for l in p.stderr.splitlines() if l.strip()]
    check(len(err) == 1 and "backward needs a full forward pass with labels" in err[0]
          and err[0].startswith("bertology bench:"), "no head: one line with the engine's error: %r" % err)

    # 2. FLOPs: BERT classifier and the tiny GPT-2 (LM head)
    bert = make_checkpoint.make_checkpoint(os.path.join(a.work, "bert"), max_pos=160, labels=3)
    gpt2 = os.path.join(a.source, "tests", "data", "models", "tiny-gpt2")
    with open(os.path.join(a.source, "src", "cli", "bench_sst2.h")) as f:
        table = [int(x) for x in re.findall(r"\d+", f.read().split("{", 1)[1].split("}", 1)[0])]
    for model in (bert, gpt2):
        with open(os.path.join(model, "config.json")) as f:
            cfg = json.load(f)
        p = bench(a.bertology, model)
        check(p.returncode == 0, "%s: bench exits 0 (%s)" % (os.path.basename(model), p.stderr.strip()))
        c = cases(p.stdout)
        sst, n = [], 0
        for T in table:
            if n + T > 256:
                break
            sst.append(T)
            n += T
        for (mode, label), (tokens, seqs, flop) in sorted(c.items()):
            lens = [128] * 2 if label == "128" else sst
            want = flops(cfg, lens, mode == "fwd+bwd")
            check(tokens == sum(lens) and seqs == len(lens), "%s %s T=%s: %d tokens in %d sequences"
                  % (os.path.basename(model), mode, label, tokens, seqs))
            check(abs(flop - want) <= 1e-6 * want, "%s %s T=%s: %.6e FLOP counted, %.6e by the shapes"
                  % (os.path.basename(model), mode, label, flop, want))
        check(len(c) == 4, "%s: four cases timed" % os.path.basename(model))

    # 3. the compiled SST-2 lengths are the tokenizer's
    with open(os.path.join(a.source, "data", "glue", "SST-2", "dev.tsv")) as f:
        sentences = [l.rstrip("\n").split("\t")[0] for l in f.readlines()[1:]]
    p = subprocess.run([a.bertology, "tokenize", "--model", os.path.join(a.source, "data", "demo-sst2")],
                       input="\n".join(sentences) + "\n", capture_output=True, text=True, timeout=300)
    lens = [len(l.split()) for l in p.stdout.splitlines()]
    check(p.returncode == 0 and lens == table, "bench_sst2.h = `bertology tokenize` of SST-2 dev (%d lengths)" % len(lens))

    # 4. bad --gemm
    p = bench(a.bertology, bert, "--gemm", "cublas")
    check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "--gemm cublas" in p.stderr,
          "--gemm cublas: exit 2, one line (%r)" % p.stderr.strip())

    # 5. importance: what run.h5 records per backend
    import h5py
    import numpy as np
    tiny = make_checkpoint.make_checkpoint(os.path.join(a.work, "tiny"), vocab_txt=True, max_pos=64)
    data = os.path.join(a.work, "sst-2")
    os.makedirs(data, exist_ok=True)
    rng = random.Random(1)
    with open(os.path.join(data, "dev.tsv"), "w") as f:
        f.write("sentence\tlabel\n")
        for i in range(40):
            f.write("%s\t%d\n" % (" ".join("tok%d" % rng.randrange(5, 100) for _ in range(rng.randrange(3, 40))), i % 2))
    backends = ["blas"] + (["onednn"] if subprocess.run(
        [a.bertology, "bench", "--gemm", "onednn", "--help"], capture_output=True, text=True).returncode == 0 else [])
    imp = {}
    for k, (backend, how) in enumerate([(b, h) for b in backends for h in ("flag", "env")]):
        out = os.path.join(a.work, "imp_%s_%s" % (backend, how))
        env = dict(os.environ, BT_GEMM=backend if how == "env" else "")
        cmd = [a.bertology, "importance", "--model", tiny, "--task", "sst-2", "--data", data, "--out", out,
               "--threads", "2", "--batch-tokens", "256", "--max-seq-length", "64", "--verbose", "--quiet"]
        p = subprocess.run(cmd + (["--gemm", backend] if how == "flag" else []), capture_output=True, text=True,
                           env=env, timeout=600)
        check(p.returncode == 0, "importance --gemm %s (%s): exit 0 (%s)" % (backend, how, p.stderr.strip()[-300:]))
        if p.returncode:
            continue
        check(re.search(r"^bertology importance: GEMM %s \(" % backend, p.stderr, re.M) is not None,
              "importance (%s, %s): --verbose names the GEMM" % (backend, how))
        with h5py.File(os.path.join(out, "run.h5"), "r") as f:
            opts = json.loads(f.attrs["options"])
            ver = f.attrs["bertology_version"]
            ver = ver.decode() if isinstance(ver, bytes) else ver
        check(opts.get("gemm") == backend, "run.h5 options gemm = %r (%s, %s)" % (opts.get("gemm"), backend, how))
        check("GEMM %s (" % backend in ver, "run.h5 bertology_version names the GEMM: %r" % ver)
        imp[(backend, how)] = np.load(os.path.join(out, "head_importance.npy"))
    for backend in backends:
        if (backend, "flag") in imp and (backend, "env") in imp:
            check(np.array_equal(imp[(backend, "flag")], imp[(backend, "env")]),
                  "%s twice: bitwise identical importance" % backend)
    if len(backends) == 2 and ("blas", "flag") in imp and ("onednn", "flag") in imp:
        x, y = imp[("blas", "flag")], imp[("onednn", "flag")]
        d = np.abs(x - y).max() / np.abs(x).max()
        check(d <= 1e-5, "blas vs onednn: importance within 1e-5 relative (%.2e)" % d)

    print("RESULT: %s" % ("PASS" if not fails else "FAIL (%d)" % len(fails)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
