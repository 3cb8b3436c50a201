"""bertology ablate: every entry against the float64 torch reference, a few entries against
`bertology eval --head-mask` with that configuration (bit for bit: same batches, same layers
below the ablated one), the base score against eval, and the layer-forward count against
the formula of the cached scheme.
"""
import os

import h5py
import numpy as np

import reference
from bttest import GLUE, bertology, models

L, H, N = 3, 4, 100


def eval_score(work, m, data, mask, name):
    out = os.path.join(work, name)
    cmd = ["eval", "--model", m, "--task", "sst-2", "--data", data, "--subset", str(N),
           "--max-seq-length", "64", "--batch-tokens", "400", "--threads", "1", "--quiet", "--out", out]
    if mask is not None:
        np.save(os.path.join(work, name + ".npy"), mask.astype(np.float32))
        cmd += ["--head-mask", os.path.join(work, name + ".npy")]
    bertology(cmd)
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        return float(f["metrics"].attrs["acc"])


def test_ablate(work):
    sst = os.path.join(GLUE, "SST-2")
    m = models.bert(os.path.join(work, "model"), layers=L, hidden=32, heads=H, seed=8)
    out = os.path.join(work, "ablate")
    p = bertology(["ablate", "--model", m, "--task", "sst-2", "--data", sst, "--subset", str(N),
                    "--max-seq-length", "64", "--batch-tokens", "400", "--threads", "1", "--quiet", "--out", out])
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        assert f.attrs["status"] == "complete"
        without, change = f["ablation/score_without_head"][()], f["ablation/score_change"][()]
        only, base = f["ablation/score_only_head"][()], float(f["ablation/base_score"][()])
        fwd, naive = f["ablation/layer_forwards_vs_naive"][()]
        assert abs(f["metrics"].attrs["acc"] - base) == 0
    assert without.shape == only.shape == (L, H)
    assert np.array_equal(change, without - base)
    assert np.array_equal(np.load(os.path.join(out, "head_ablation.npy")), change.astype(np.float32))
    assert np.array_equal(np.load(os.path.join(out, "head_alone.npy")), only.astype(np.float32))

    # the reference: one masked forward per configuration
    ref = reference.Reference(m, reference.examples(os.path.join(out, "run.h5")))
    want_base = ref.score("acc", ref.run(np.ones((L, H)), grad=False)[0])
    assert abs(base - want_base) < 1e-12, (base, want_base)
    for l in range(L):
        for h in range(H):
            g = np.ones((L, H))
            g[l, h] = 0
            s = ref.score("acc", ref.run(g, grad=False)[0])
            assert abs(without[l, h] - s) < 1e-12, "without (%d,%d): %r, reference %r" % (l, h, without[l, h], s)
            g = np.ones((L, H))
            g[l] = 0
            g[l, h] = 1
            s = ref.score("acc", ref.run(g, grad=False)[0])
            assert abs(only[l, h] - s) < 1e-12, "only (%d,%d): %r, reference %r" % (l, h, only[l, h], s)

    # eval with the same gates: the same numbers exactly
    assert eval_score(work, m, sst, None, "eval_base") == base
    for l, h in [(0, 0), (1, 2), (2, 3)]:
        g = np.ones((L, H))
        g[l, h] = 0
        assert eval_score(work, m, sst, g, "eval_wo_%d_%d" % (l, h)) == without[l, h], (l, h)
    for l, h in [(0, 1), (2, 0)]:
        g = np.ones((L, H))
        g[l] = 0
        g[l, h] = 1
        assert eval_score(work, m, sst, g, "eval_only_%d_%d" % (l, h)) == only[l, h], (l, h)

    # per batch: L + H*L*(L+1) layer forwards cached, (1 + 2*L*H)*L as full passes
    per, per_naive = L + H * L * (L + 1), (1 + 2 * L * H) * L
    assert fwd % per == 0 and naive == fwd // per * per_naive, (fwd, naive)
    assert "%d layer forwards instead of %d" % (fwd, naive) in p.stdout, p.stdout
    assert "Score change when only this head is masked" in p.stdout
    print("ok ablate: %d x %d entries = reference = eval --head-mask; %d layer forwards vs %d naive (%.2fx)"
          % (L, H, fwd, naive, naive / fwd))
