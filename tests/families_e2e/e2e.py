"""Shared pieces of the model-family end-to-end tests (tests/families_e2e.cmake).

Random checkpoints of each family come from tests/ref/make_checkpoint_family.py, with real
tokenizer files: GPT-2 gets tests/data/vocab/gpt2 (vocab 50257), DistilBERT
bert-base-uncased's vocab.txt (30522), RoBERTa a vocab.json built here from GPT-2's (see
roberta_vocab). Every bertology run goes through mpirun under `timeout`, so a hang or a rank
that never exits fails the test instead of blocking ctest.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ref"))
sys.path.insert(0, os.path.join(HERE, "..", "text"))
import make_checkpoint_family  # noqa: E402

# Attributes that legitimately differ between two runs of the same computation.
VOLATILE_ATTRS = {"command_line", "created", "n_ranks", "checkpoint_id"}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return bool(cond)


def finish():
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


def parser(doc):
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--bertology", required=True)
    ap.add_argument("--mpiexec", default="mpirun")
    ap.add_argument("--testdata", required=True, help="the test fixtures (tests/data)")
    ap.add_argument("--source", help="the source tree (analysis/report.py)")
    ap.add_argument("--work", required=True)
    return ap


def setup(args):
    if os.path.isdir(args.work):
        shutil.rmtree(args.work)
    os.makedirs(args.work)
    data = args.testdata
    args.glue = os.path.join(data, "glue")
    args.gpt2_vocab = os.path.join(data, "vocab", "gpt2")
    args.bert_vocab = os.path.join(data, "vocab", "bert-base-uncased", "vocab.txt")
    args.tiny_gpt2 = os.path.join(data, "models", "tiny-gpt2")
    # One BLAS thread per rank: bitwise reproducible for a fixed thread count, and the
    # machine's 2 cores are shared by up to 3 ranks.
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    return args


# ---- checkpoints ---------------------------------------------------------------------------

def gpt2(args, name, **kw):
    """A random GPT2LMHeadModel (or ForSequenceClassification with labels=C) over GPT-2's BPE."""
    out = os.path.join(args.work, name)
    kw = dict(dict(layers=3, hidden=32, heads=4, vocab=50257, max_pos=64, seed=3), **kw)
    make_checkpoint_family.make_checkpoint(out, "gpt2", **kw)
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(args.gpt2_vocab, f), os.path.join(out, f))
    return out


def distilbert(args, name, **kw):
    out = os.path.join(args.work, name)
    kw = dict(dict(layers=2, hidden=32, heads=4, vocab=30522, max_pos=64, labels=2, seed=5), **kw)
    make_checkpoint_family.make_checkpoint(out, "distilbert", **kw)
    shutil.copy(args.bert_vocab, os.path.join(out, "vocab.txt"))
    return out


def roberta_vocab(args):
    """roberta-base's conventions on GPT-2's merges: <s>=0 <pad>=1 </s>=2 <unk>=3, GPT-2's
    tokens shifted by 4 (roberta-base's own vocab.json is GPT-2's tokens re-numbered by
    fairseq's dictionary; the numbering does not matter to BPE, only the merges do), <mask>
    last. Returns (path of vocab.json, size)."""
    path = os.path.join(args.work, "roberta_vocab.json")
    with open(os.path.join(args.gpt2_vocab, "vocab.json"), encoding="utf-8") as f:
        gpt2_vocab = json.load(f)
    v = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for tok, i in sorted(gpt2_vocab.items(), key=lambda kv: kv[1]):
        v[tok] = i + 4
    v["<mask>"] = len(v)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(v, f, ensure_ascii=False)
    return path, len(v)


def roberta(args, name, **kw):
    vocab, n = roberta_vocab(args)
    out = os.path.join(args.work, name)
    # positions start at padding_idx + 1 = 2: max_pos rows hold 64 tokens
    kw = dict(dict(layers=2, hidden=32, heads=4, vocab=n, max_pos=66, labels=2, seed=4), **kw)
    make_checkpoint_family.make_checkpoint(out, "roberta", **kw)
    shutil.copy(vocab, os.path.join(out, "vocab.json"))
    shutil.copy(os.path.join(args.gpt2_vocab, "merges.txt"), os.path.join(out, "merges.txt"))
    return out


# ---- data ----------------------------------------------------------------------------------

def tsv_column(path, col, n=None):
    """Column `col` of a GLUE TSV (header skipped), as Python's csv would not: GLUE rows are
    plain tab-separated, no quoting."""
    with open(path, encoding="utf-8") as f:
        rows = [ln.rstrip("\n").split("\t") for ln in f.read().split("\n")[1:] if ln.strip()]
    vals = [r[col] for r in rows]
    return vals[:n] if n else vals


def text_file(args, name, lines):
    path = os.path.join(args.work, name)
    with open(path, "wb") as f:
        for ln in lines:
            f.write((ln.encode("utf-8") if isinstance(ln, str) else ln) + b"\n")
    return path


def corpus(args, name, n):
    """n lines of RTE premises (1-3 sentences each: many longer than a 32-token window)."""
    return text_file(args, name, tsv_column(os.path.join(args.glue, "RTE", "dev.tsv"), 1, n))


# ---- running -------------------------------------------------------------------------------

def mpirun(args, np_, argv, timeout=300):
    """`timeout T mpirun -q -np N bertology ARGV`; CompletedProcess (rc 124 on timeout)."""
    cmd = ["timeout", "-k", "10", str(timeout), args.mpiexec, "--oversubscribe",
           "--allow-run-as-root", "-q", "-np", str(np_), args.bertology] + [str(a) for a in argv]
    return subprocess.run(cmd, capture_output=True, text=True)


def run_ok(args, np_, argv, what, timeout=300):
    """mpirun that must exit 0; None (and a failure) otherwise."""
    p = mpirun(args, np_, argv, timeout)
    ok = check(p.returncode == 0, "%s (np=%d): exit %d\n$ bertology %s\n%s" % (
        what, np_, p.returncode, " ".join(map(str, argv)), p.stderr[-3000:]))
    return p if ok else None


def forward(args, model, seqs, out, *extra, labels=None):
    """`bertology forward` (one process) on explicit ids; {name: array} of what it wrote."""
    os.makedirs(out, exist_ok=True)
    ids = os.path.join(out, "ids.txt")
    with open(ids, "w") as f:
        f.writelines(" ".join(map(str, s)) + "\n" for s in seqs)
    argv = ["forward", "--model", model, "--ids", ids, "--threads", 1, "--out", out] + list(extra)
    if labels is not None:
        with open(os.path.join(out, "labels.txt"), "w") as f:
            f.writelines("%d\n" % y for y in labels)
        argv += ["--labels", os.path.join(out, "labels.txt")]
    if run_ok(args, 1, argv, "forward on %s" % model) is None:
        return None
    return {f[:-4]: np.load(os.path.join(out, f)) for f in os.listdir(out) if f.endswith(".npy")}


# ---- comparing -----------------------------------------------------------------------------

def h5_contents(path):
    """{dataset path: array} and {object path@attr: value} of a whole file."""
    ds, attrs = {}, {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                ds["/" + name] = obj[()]
            for k, v in obj.attrs.items():
                attrs["/%s@%s" % (name, k)] = v
        for k, v in f.attrs.items():
            attrs["/@" + k] = v
        f.visititems(visit)
    return ds, attrs


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype == object:  # strings: their bytes are pointers
        return b.dtype == object and a.shape == b.shape and a.tolist() == b.tolist()
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def same_files(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def compare_h5(a, b, what):
    """Every dataset byte-identical, every attribute equal except VOLATILE_ATTRS. Returns the
    number of datasets compared."""
    da, aa = h5_contents(a)
    db, ab = h5_contents(b)
    check(sorted(da) == sorted(db), "%s: dataset lists differ: %s vs %s" % (what, sorted(da), sorted(db)))
    for k in sorted(set(da) & set(db)):
        check(same_bits(da[k], db[k]), "%s: dataset %s differs" % (what, k))
    for k in sorted(set(aa) | set(ab)):
        if k.split("@", 1)[1] in VOLATILE_ATTRS:
            continue
        va, vb = aa.get(k), ab.get(k)
        eq = va is not None and vb is not None and (
            va == vb if isinstance(va, (str, bytes)) else same_bits(va, vb))
        check(eq, "%s: attribute %s differs: %r vs %r" % (what, k, va, vb))
    return len(da)


def h5diff_groups(a, b, groups, what):
    """The HDF5 tools' own verdict, group by group (root attributes legitimately differ)."""
    for g in groups:
        r = subprocess.run(["h5diff", "-r", a, b, g, g], capture_output=True, text=True)
        check(r.returncode == 0, "%s: h5diff %s: exit %d\n%s" % (what, g, r.returncode,
                                                                r.stdout[-1500:] + r.stderr[-500:]))


def max_diff(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return float("inf")
    return float(np.max(np.abs(got - want))) if got.size else 0.0


def close(name, got, want, tol):
    """|got - want| <= tol everywhere; prints the largest difference either way."""
    d = max_diff(got, want)
    print("  %-40s max |diff| %.3g (tol %.1g)" % (name, d, tol))
    return check(d <= tol, "%s: max |diff| %.3g > %.3g (shapes %s, %s)" % (
        name, d, tol, np.shape(got), np.shape(want)))


def rows(run_h5):
    """Token ids of every example stored in run.h5, in data order."""
    with h5py.File(run_h5, "r") as f:
        ids, off, ln = f["examples/token_ids"][()], f["examples/token_offset"][()], f["examples/length"][()]
    return [[int(t) for t in ids[o:o + n]] for o, n in zip(off, ln)]
