"""bertology commands that several tests run the same way."""
import os

from .h5 import npy_outputs
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
