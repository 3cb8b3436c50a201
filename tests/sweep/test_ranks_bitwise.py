"""`bertology importance` under mpirun -np 1..4 gives the same bits.

For example, token and batch granularity (with --save-attentions, f32 and f16, hidden states
in one case and the attention rollout, --save-rollout, in another): head_importance.npy and attn_entropy.npy are byte-identical, every run.h5
dataset (per-example rows and tensors included) is byte-identical when read with h5py, every
attribute is equal except command_line, created and n_ranks, and `h5diff` given each dataset's
path finds no difference between the np=1 and np=3 files. The printed tables are identical too.
"""
import os
import re

import numpy as np
import pytest

from bttest import SST2, VOLATILE_ATTRS, contents, h5diff, models, ranks_agree, run

CONFIGS = [
    ("example", ["--batch-tokens", "128", "--save-attentions", "--save-rollout"]),
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


def h5diff_datasets(check, a, b, paths):
    """h5diff of each dataset by path (attributes of the root legitimately differ)."""
    for msg in h5diff(a, b, paths, "-r"):
        check(False, "np=1 vs np=3: " + msg)
    # The whole-file h5diff (attributes included) must find differences only in the volatile
    # root attributes: each object or attribute block ends with "N differences found".
    r = run(["h5diff", "-v", a, b], expect=None)
    current, differing = None, set()
    for ln in r.stdout.splitlines():
        if ln.startswith(("attribute: <", "dataset: <", "group  : <")):
            current = ln.split("<", 1)[1].split(">")[0]
        m = re.match(r"(\d+) differences? found", ln)
        if m and int(m.group(1)) > 0:
            differing.add(current)
    volatile = {"%s of </" % k for k in VOLATILE_ATTRS}
    check(differing and differing <= volatile,
          "h5diff whole file: differences in %s (expected only %s)" % (sorted(differing),
                                                                     sorted(volatile)))


@pytest.fixture(scope="module")
def model(work):
    return models.bert(os.path.join(work, "model"), layers=3, hidden=32, heads=4, seed=11)


@pytest.mark.parametrize("name,extra", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_np1_to_np4_same_bits(name, extra, model, work, check, blas_one_thread):
    ref = ranks_agree(check, name, ["importance", "--model", model, "--task", "sst-2", "--data", SST2, "--threads", 1,
                                    "--quiet", "--subset", SUBSET] + extra, os.path.join(work, name), (1, 2, 3, 4),
                      tables=tables, timeout=180)
    imp = np.load(os.path.join(ref, "head_importance.npy"))
    ent = np.load(os.path.join(ref, "attn_entropy.npy"))
    # not trivially equal: real numbers, spread over heads
    check(imp.shape == (3, 4) and imp.dtype == np.float32 and np.ptp(imp) > 0,
          "%s: head_importance.npy %s %s" % (name, imp.shape, imp))
    check(ent.shape == (3, 4) and np.all(ent > 0), "%s: attn_entropy.npy %s" % (name, ent))
    ds, attrs = contents(os.path.join(ref, "run.h5"))
    check("/examples/gate_grad" in ds and ds["/examples/gate_grad"].shape == (SUBSET, 3, 4),
          "%s: per-example gate_grad missing" % name)
    check(np.array_equal(ds["/examples/index"], np.arange(SUBSET)), "%s: /examples/index" % name)
    if "--save-attentions" in extra:
        check("/attentions/data" in ds and ds["/attentions/data"].size > 0, "%s: attentions not saved" % name)
    if "--save-rollout" in extra:
        r = ds.get("/rollout/data")
        check(r is not None and r.size == ds["/examples/token_ids"].size and np.all(np.isfinite(r)),
              "%s: rollout not saved" % name)
    print("%s: %d datasets identical for np=1..4" % (name, len(ds)))
    h5diff_datasets(check, os.path.join(ref, "run.h5"), os.path.join(work, name + "_np3", "run.h5"), sorted(ds))
