"""bertology commands that several tests run the same way."""
import os

from .h5 import npy_outputs, run_differences
from .proc import bertology


def forward_ids(model, seqs, out, extra=(), labels=None):
    """`bertology forward` (one process, one thread) on explicit token ids; {name: array} of
    the .npy files it wrote."""
    os.makedirs(out, exist_ok=True)
    ids = os.path.join(out, "ids.txt")
    with open(ids, "w") as f:
        f.writelines(" ".join(map(str, s)) + "\n" for s in seqs)
    argv = ["forward", "--model", model, "--ids", ids, "--threads", 1, "--out", out] + list(extra)
    if labels is not None:
        with open(os.path.join(out, "labels.txt"), "w") as f:
            f.writelines("%d\n" % y for y in labels)
        argv += ["--labels", os.path.join(out, "labels.txt")]
    bertology(argv)
    return npy_outputs(out)


def ranks_agree(check, what, argv, out_base, nps=(1, 2, 3), groups=(), tables=None,
                npy=("head_importance.npy", "attn_entropy.npy"), timeout=300):
    """`bertology ARGV --out OUT_BASE_npN` for each N in nps, and every run after the first
    checked against the first (soft checks): run_differences (the npy files, run.h5 bitwise, h5diff
    on groups) and the printed tables (tables(stdout): the lines that must not change, e.g.
    without the one with seconds and the rank count). Returns the first run's directory."""
    outs = {}
    for n in nps:
        out = "%s_np%d" % (out_base, n)
        outs[n] = (out, bertology(list(argv) + ["--out", out], np=n, quiet_mpi=True, timeout=timeout).stdout)
    (ref, ref_stdout), first = outs[nps[0]], nps[0]
    for n in nps[1:]:
        out, stdout = outs[n]
        diffs = run_differences(ref, out, npy=npy, groups=groups)
        check(not diffs, "%s np=%d vs np=%d: %s" % (what, first, n, "\n".join(diffs)))
        if tables is not None:
            check(tables(stdout) == tables(ref_stdout), "%s np=%d vs np=%d: printed tables differ" % (what, first, n))
        print("%s np=%d vs np=%d: %s identical" % (what, first, n, "run.h5, the .npy files and the tables"
                                                    if tables else "run.h5 and the .npy files"))
    return ref
