#!/usr/bin/python3
"""`bertology importance` under mpirun -np 1..4 gives the same bits.

For example, token and batch granularity (with --save-attentions, f32 and f16, and hidden
states in one case): head_importance.npy and attn_entropy.npy are byte-identical, every run.h5
dataset (per-example rows and tensors included) is byte-identical when read with h5py, every
attribute is equal except command_line, created and n_ranks, and `h5diff` given each dataset's
path finds no difference between the np=1 and np=3 files. The printed tables are identical too.
"""
import os
import re
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import check  # noqa: E402

CONFIGS = [
    ("example", ["--batch-tokens", "128", "--save-attentions"]),
    ("token", ["--granularity", "token", "--batch-tokens", "160", "--save-attentions",
               "--save-hidden", "--dtype", "f32"]),
    ("batch", ["--granularity", "batch", "--batch-size", "4", "--save-attentions",
               "--layers", "1"]),
    ("hf", ["--granularity", "batch", "--batch-size", "3", "--hf-compat"]),
]
SUBSET = 48


def tables(stdout):
    """The printed output without the summary line (it has seconds and the rank count)."""
    return [ln for ln in stdout.splitlines() if not ln.startswith("importance:")]


def h5diff_datasets(a, b, paths):
    """h5diff of each dataset by path (attributes of the root legitimately differ)."""
    for p in paths:
        r = subprocess.run(["h5diff", "-r", a, b, p, p], capture_output=True, text=True)
        check(r.returncode == 0, "h5diff np=1 vs np=3 %s: exit %d\n%s" % (p, r.returncode,
                                                                          r.stdout[-1500:]))
    # The whole-file h5diff (attributes included) must find differences only in the volatile
    # root attributes: each object or attribute block ends with "N differences found".
    r = subprocess.run(["h5diff", "-v", a, b], capture_output=True, text=True)
    current, differing = None, set()
    for ln in r.stdout.splitlines():
        if ln.startswith(("attribute: <", "dataset: <", "group  : <")):
            current = ln.split("<", 1)[1].split(">")[0]
        m = re.match(r"(\d+) differences? found", ln)
        if m and int(m.group(1)) > 0:
            differing.add(current)
    volatile = {"%s of </" % k for k in common.VOLATILE_ATTRS}
    check(differing and differing <= volatile,
          "h5diff whole file: differences in %s (expected only %s)" % (sorted(differing),
                                                                     sorted(volatile)))


def main():
    args = common.setup(common.parser(__doc__).parse_args())
    m = common.model(args, "model", layers=3, hidden=32, heads=4, seed=11)
    for name, extra in CONFIGS:
        outs = {}
        for np_ in (1, 2, 3, 4):
            out = os.path.join(args.work, "%s_np%d" % (name, np_))
            p = common.importance(args, np_, out, m, "--subset", SUBSET, *extra)
            if p:
                outs[np_] = (out, p.stdout)
        if 1 not in outs:
            continue
        ref, ref_stdout = outs[1]
        imp = np.load(os.path.join(ref, "head_importance.npy"))
        ent = np.load(os.path.join(ref, "attn_entropy.npy"))
        # not trivially equal: real numbers, spread over heads
        check(imp.shape == (3, 4) and imp.dtype == np.float32 and np.ptp(imp) > 0,
              "%s: head_importance.npy %s %s" % (name, imp.shape, imp))
        check(ent.shape == (3, 4) and np.all(ent > 0), "%s: attn_entropy.npy %s" % (name, ent))
        n_ds = 0
        for np_, (out, stdout) in sorted(outs.items()):
            if np_ == 1:
                continue
            what = "%s np=1 vs np=%d" % (name, np_)
            for f in ("head_importance.npy", "attn_entropy.npy"):
                with open(os.path.join(ref, f), "rb") as fa, open(os.path.join(out, f), "rb") as fb:
                    check(fa.read() == fb.read(), "%s: %s differs" % (what, f))
            n_ds = common.compare_h5(os.path.join(ref, "run.h5"), os.path.join(out, "run.h5"), what)
            check(tables(stdout) == tables(ref_stdout), "%s: printed tables differ" % what)
        ds, attrs = common.h5_contents(os.path.join(ref, "run.h5"))
        check("/examples/gate_grad" in ds and ds["/examples/gate_grad"].shape == (SUBSET, 3, 4),
              "%s: per-example gate_grad missing" % name)
        check(np.array_equal(ds["/examples/index"], np.arange(SUBSET)), "%s: /examples/index" % name)
        if "--save-attentions" in extra:
            check("/attentions/data" in ds and ds["/attentions/data"].size > 0,
                  "%s: attentions not saved" % name)
        print("%s: %d datasets identical for np=1..4" % (name, n_ds))
        if 3 in outs:
            h5diff_datasets(os.path.join(ref, "run.h5"), os.path.join(outs[3][0], "run.h5"),
                            sorted(ds))
    return common.finish()


if __name__ == "__main__":
    sys.exit(main())
