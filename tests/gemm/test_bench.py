"""`bertology bench` (issues 13 and 14): its failures, its FLOP count, its SST-2 lengths.

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
import json
import os
import random
import re

import h5py
import numpy as np
import pytest

import make_checkpoint
from bttest import DEMO_MODEL, DEMO_SST2, SOURCE, TINY_GPT2, bertology


def bench(model, *extra):
    return bertology(["bench", "--model", model, "--reps", "1", "--threads", "1", "--batch-tokens", "256"]
                     + list(extra), expect=None)


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


@pytest.fixture(scope="module")
def bert(work):
    return make_checkpoint.make_checkpoint(os.path.join(work, "bert"), max_pos=160, labels=3)


def sst2_table():
    with open(os.path.join(SOURCE, "src", "cli", "bench_sst2.h")) as f:
        return [int(x) for x in re.findall(r"\d+", f.read().split("{", 1)[1].split("}", 1)[0])]


def test_no_head(work, check):
    """1. no head: the forward case timed, then the engine's error on the backward."""
    check.verbose = True
    nohead = make_checkpoint.make_checkpoint(os.path.join(work, "nohead"), no_head=True, max_pos=160)
    p = bench(nohead)
    c = cases(p.stdout)
    check(p.returncode != 0, "no head: bench exits non-zero (got %d)" % p.returncode)
    check(("fwd", "128") in c and not any(m == "fwd+bwd" for m, _ in c), "no head: forward timed, no backward line")
    err = [ln for ln in p.stderr.splitlines() if ln.strip()]
    check(len(err) == 1 and "backward needs a full forward pass with labels" in err[0]
          and err[0].startswith("bertology bench:"), "no head: one line with the engine's error: %r" % err)


@pytest.mark.parametrize("which", ["bert", "tiny-gpt2"])
def test_flops(which, bert, check):
    """2. FLOPs: BERT classifier and the tiny GPT-2 (LM head)."""
    check.verbose = True
    model = bert if which == "bert" else TINY_GPT2
    table = sst2_table()
    with open(os.path.join(model, "config.json")) as f:
        cfg = json.load(f)
    p = bench(model)
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


def test_sst2_lengths_are_the_tokenizers():
    """3. the compiled SST-2 lengths are the tokenizer's."""
    table = sst2_table()
    with open(os.path.join(DEMO_SST2, "dev.tsv")) as f:
        sentences = [ln.rstrip("\n").split("\t")[0] for ln in f.readlines()[1:]]
    p = bertology(["tokenize", "--model", DEMO_MODEL], input="\n".join(sentences) + "\n", timeout=300)
    lens = [len(ln.split()) for ln in p.stdout.splitlines()]
    assert lens == table, "bench_sst2.h = `bertology tokenize` of SST-2 dev (%d lengths)" % len(lens)


def test_bad_gemm(bert):
    """4. bad --gemm."""
    p = bench(bert, "--gemm", "cublas")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "--gemm cublas" in p.stderr, \
        "--gemm cublas: exit 2, one line (%r)" % p.stderr.strip()


def test_importance_records_the_backend(work, check):
    """5. importance: what run.h5 records per backend."""
    check.verbose = True
    tiny = make_checkpoint.make_checkpoint(os.path.join(work, "tiny"), vocab_txt=True, max_pos=64)
    data = os.path.join(work, "sst-2")
    os.makedirs(data, exist_ok=True)
    rng = random.Random(1)
    with open(os.path.join(data, "dev.tsv"), "w") as f:
        f.write("sentence\tlabel\n")
        for i in range(40):
            f.write("%s\t%d\n" % (" ".join("tok%d" % rng.randrange(5, 100) for _ in range(rng.randrange(3, 40))), i % 2))
    backends = ["blas"] + (["onednn"] if bertology(["bench", "--gemm", "onednn", "--help"], expect=None).returncode == 0
                           else [])
    imp = {}
    for backend, how in [(b, h) for b in backends for h in ("flag", "env")]:
        out = os.path.join(work, "imp_%s_%s" % (backend, how))
        cmd = ["importance", "--model", tiny, "--task", "sst-2", "--data", data, "--out", out,
               "--threads", "2", "--batch-tokens", "256", "--max-seq-length", "64", "--verbose", "--quiet"]
        p = bertology(cmd + (["--gemm", backend] if how == "flag" else []), expect=None,
                      env={"BT_GEMM": backend if how == "env" else ""})
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
