"""Shared helpers of the sweep tests: argument parsing, random checkpoints, mpirun with a
timeout, run.h5 comparison. Every script imports it and passes --bertology, --mpiexec,
--testdata and --work (see tests/sweep.cmake)."""
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
import make_checkpoint  # noqa: E402

# Attributes that legitimately differ between two runs of the same computation.
VOLATILE_ATTRS = {"command_line", "created", "n_ranks", "checkpoint_id"}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


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
    ap.add_argument("--work", required=True)
    return ap


def setup(args):
    if os.path.isdir(args.work):
        shutil.rmtree(args.work)
    os.makedirs(args.work)
    args.sst2 = os.path.join(args.testdata, "glue", "SST-2")
    args.vocab = os.path.join(args.testdata, "vocab", "bert-base-uncased", "vocab.txt")
    # One BLAS thread per rank: results are bitwise reproducible for a fixed thread count, and
    # the machine has 2 cores shared by several ranks.
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    return args


def model(args, name, **kw):
    """A random BERT classifier loadable with the real bert-base-uncased WordPiece vocabulary."""
    out = os.path.join(args.work, name)
    kw.setdefault("vocab", 30522)
    kw.setdefault("max_pos", 128)
    make_checkpoint.make_checkpoint(out, **kw)
    shutil.copy(args.vocab, os.path.join(out, "vocab.txt"))
    return out


def session_alive(sid):
    """Processes still in session sid (an mpirun started in a session of its own, and its ranks),
    from /proc: field 6 of stat is the session id."""
    alive = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid and fields[0] != "Z":
                alive.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return alive


def mpirun(args, np_, argv, timeout=180, quiet=False, wrapper=None):
    """`mpirun -np N [wrapper] bertology ARGV` under a timeout; returns CompletedProcess."""
    cmd = [args.mpiexec, "--oversubscribe", "--allow-run-as-root", "-np", str(np_)]
    if quiet:
        cmd.append("-q")  # no "Primary job terminated ..." banner: stderr is ours alone
    cmd += list(wrapper or []) + [args.bertology] + [str(a) for a in argv]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out, err = (x.decode(errors="replace") if isinstance(x, bytes) else (x or "") for x in (e.stdout, e.stderr))
        return subprocess.CompletedProcess(cmd, 124, out, err + "\nTIMEOUT")


def importance(args, np_, out, model_dir, *extra, task="sst-2", data=None, timeout=180):
    argv = ["importance", "--model", model_dir, "--task", task, "--data", data or args.sst2,
            "--out", out, "--threads", 1, "--quiet"] + list(extra)
    p = mpirun(args, np_, argv, timeout=timeout)
    if not check(p.returncode == 0, "np=%d %s: exit %d\n%s" % (np_, " ".join(map(str, extra)),
                                                               p.returncode, p.stderr[-2000:])):
        return None
    return p


def h5_contents(path):
    """{dataset path: array} and {object path/attr: value} of a whole file."""
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
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return a.tobytes() == b.tobytes()


def compare_h5(a, b, what, options_may_differ=()):
    """Every dataset byte-identical, every attribute equal except VOLATILE_ATTRS; in the root's
    options JSON, the keys options_may_differ are left out (a resumed run keeps the options of
    the run it resumes, e.g. its --checkpoint-every)."""
    da, aa = h5_contents(a)
    db, ab = h5_contents(b)
    for attrs in (aa, ab):
        if options_may_differ and "/@options" in attrs:
            opts = json.loads(attrs["/@options"])
            attrs["/@options"] = json.dumps({k: v for k, v in opts.items() if k not in options_may_differ})
    check(sorted(da) == sorted(db), "%s: dataset lists differ: %s vs %s" % (what, sorted(da), sorted(db)))
    for k in sorted(set(da) & set(db)):
        check(same_bits(da[k], db[k]), "%s: dataset %s differs" % (what, k))
    keys = {k for k in set(aa) | set(ab) if k.split("@", 1)[1] not in VOLATILE_ATTRS}
    for k in sorted(keys):
        va, vb = aa.get(k), ab.get(k)
        eq = va is not None and vb is not None and (
            va == vb if isinstance(va, (str, bytes)) else same_bits(va, vb))
        check(eq, "%s: attribute %s differs: %r vs %r" % (what, k, va, vb))
    return len(da)
