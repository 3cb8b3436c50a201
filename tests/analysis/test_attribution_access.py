"""The analysis package reads what `importance --method attattr --save-attributions --save-rollout`
writes (docs/attribution.md, docs/run_h5.md), checked against h5py reads and against properties
the numbers must have whatever the code:

- Run.method says attattr, and gate for a gate run (and for files that say nothing);
- attribution(i) is example i's block [L, H, T, T] of /attribution/data (h5py, by the offsets):
  its max over (t, s) is attr_max[i], and the attr_max summed over examples is importance_raw;
- rollout(i) is a probability vector (a row of a product of row-stochastic matrices: entries
  >= 0, sum 1) of length T, read from /rollout/data at /examples/token_offset[i];
- a gate run has no attr_max, and attribution() and rollout() refuse with one clear RunError.
"""
import os

import h5py
import numpy as np
import pytest

from bertology_analysis import load_run
from bertology_analysis.run import RunError
from bttest import SST2, bertology, models

COMMON = ["--task", "sst-2", "--data", SST2, "--subset", "12", "--threads", "1", "--quiet", "--max-seq-length", "48"]


def test_attribution_and_rollout(work):
    m = models.bert(os.path.join(work, "model"), layers=2, hidden=32, heads=4, ff=64, seed=21)
    attr, gate = os.path.join(work, "attr"), os.path.join(work, "gate")
    bertology(["importance", "--model", m, "--out", attr, "--method", "attattr", "--steps", "3", "--save-attributions",
               "--dtype", "f32", "--save-rollout"] + COMMON)
    bertology(["importance", "--model", m, "--out", gate] + COMMON)
    with h5py.File(os.path.join(attr, "run.h5"), "r") as f:
        data, off = f["attribution/data"][()], f["attribution/offset"][()]
        lengths, toff = f["examples/length"][()], f["examples/token_offset"][()]
        roll = f["rollout/data"][()]
    with load_run(os.path.join(attr, "run.h5")) as r:
        L, H = r.shape
        assert r.method == "attattr"
        am = r.attr_max
        assert am.shape == (r.n_examples, L, H)
        for i in range(r.n_examples):
            T = int(lengths[i])
            a = r.attribution(i)
            assert a.shape == (L, H, T, T) and a.dtype == np.float32
            assert a.tobytes() == data[off[i]:off[i] + L * H * T * T].tobytes()
            np.testing.assert_allclose(a.reshape(L, H, -1).max(-1), am[i], rtol=1e-6, atol=0)
            v = r.rollout(i)
            assert v.shape == (T,) and v.tobytes() == roll[toff[i]:toff[i] + T].tobytes()
            assert (v >= 0).all() and abs(float(v.sum()) - 1.0) < 1e-5, v
        np.testing.assert_allclose(am.sum(0), r.importance_raw, rtol=1e-12)
    with load_run(os.path.join(gate, "run.h5")) as g:
        assert g.method == "gate" and g.attr_max is None
        with pytest.raises(RunError, match="--method attattr --save-attributions"):
            g.attribution(0)
        with pytest.raises(RunError, match="--save-rollout"):
            g.rollout(0)
