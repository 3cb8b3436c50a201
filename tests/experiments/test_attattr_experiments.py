"""mask and prune with --method attattr (issue 24, "pruning by any score"), against the
importance command they are built on:

- `mask --method attattr --percents P` ranks every step by the first pass's attribution: its
  masks and scores equal those of `mask --scores S.npy --percents P` with S the
  /importance/normalized of `importance --method attattr` on the same data, bit for bit (same
  plan, same normalisation), and /masking says method attattr;
- `mask --method attattr --exact` re-scores every step: the importance it records at step 1 is
  that of `importance --method attattr --head-mask <step 1's mask>`, and differs from step 0's;
- `prune --method attattr --percent P` removes the heads `prune --scores S.npy --percent P`
  removes, and says so on stdout.
The attribution itself is checked against torch in test_attattr.py; here what is checked is
that the experiments use it, and use it as the importance command computes it.
"""
import json
import os

import h5py
import numpy as np

from bttest import SST2, bertology, models

L, H = 3, 4
COMMON = ["--task", "sst-2", "--data", SST2, "--subset", "40", "--threads", "1", "--batch-tokens", "256",
          "--max-seq-length", "64"]
ATTR = ["--method", "attattr", "--steps", "3"]


def h5(path, *names):
    with h5py.File(os.path.join(path, "run.h5"), "r") as f:
        return [f[n][()] if not n.startswith("@") else [str(x) for x in f["masking"].attrs[n[1:]]] for n in names]


def test_mask_and_prune(work):
    m = models.bert(os.path.join(work, "model"), layers=L, hidden=32, heads=H, ff=64, seed=12)
    imp = os.path.join(work, "importance")
    bertology(["importance", "--model", m, "--out", imp] + COMMON + ATTR)
    (scores,) = h5(imp, "/importance/normalized")
    s_npy = os.path.join(work, "scores.npy")
    np.save(s_npy, scores.astype(np.float32))

    by_attr, by_file = os.path.join(work, "mask_attr"), os.path.join(work, "mask_file")
    bertology(["mask", "--model", m, "--out", by_attr, "--percents", "25,50,75"] + COMMON + ATTR)
    bertology(["mask", "--model", m, "--out", by_file, "--percents", "25,50,75", "--scores", s_npy] + COMMON)
    ma, sa, meth, first = h5(by_attr, "/masking/mask", "/masking/score", "@method", "/masking/importance")
    mf, sf = h5(by_file, "/masking/mask", "/masking/score")
    assert meth == ["attattr"], meth
    assert first[0].tobytes() == scores.tobytes(), "mask's first pass is not importance --method attattr's"
    assert ma.shape == mf.shape and ma.tobytes() == mf.tobytes(), (ma, mf)
    assert sa.tobytes() == sf.tobytes(), (sa, sf)
    assert (ma[-1] == 0).sum() == 9, ma[-1]  # 75 % of 12 heads

    exact = os.path.join(work, "mask_exact")
    bertology(["mask", "--model", m, "--out", exact, "--percents", "25,50", "--exact"] + COMMON + ATTR)
    masks, imps = h5(exact, "/masking/mask", "/masking/importance")
    hm = os.path.join(work, "step1.npy")
    np.save(hm, masks[1].astype(np.float32))
    again = os.path.join(work, "importance_step1")
    bertology(["importance", "--model", m, "--out", again, "--head-mask", hm] + COMMON + ATTR)
    (want,) = h5(again, "/importance/normalized")
    np.testing.assert_array_equal(imps[1], want)
    assert not np.array_equal(imps[1], imps[0])

    p_attr, p_file = os.path.join(work, "pruned_attr"), os.path.join(work, "pruned_file")
    r = bertology(["prune", "--model", m, "--out", p_attr, "--percent", "25"] + COMMON + ATTR)
    bertology(["prune", "--model", m, "--out", p_file, "--percent", "25", "--scores", s_npy] + COMMON)
    assert "scored by attention attribution (3 steps) over 40 examples" in r.stdout, r.stdout
    heads = []
    for d in (p_attr, p_file):
        with open(os.path.join(d, "config.json")) as f:
            heads.append(json.load(f)["pruned_heads"])
    assert heads[0] == heads[1] and sum(len(v) for v in heads[0].values()) == 3, heads
