"""mask, ablate and eval give bit-identical results for 1 and 3 MPI ranks (same threads per
rank): masks and scores of every step, importance, ablation tables, metrics, logits.
"""
import os

import h5py
import numpy as np
import pytest

from bttest import SST2, bertology, models

COMMON = ["--task", "sst-2", "--subset", "90", "--max-seq-length", "48", "--batch-tokens", "300",
          "--threads", "1", "--quiet"]
RUNS = {
    "mask": (["mask", "--threshold", "0.95"], ["masking/mask", "masking/score", "masking/importance",
                                               "masking/final_mask", "importance/raw", "examples/gate_grad"]),
    "mask_percents": (["mask", "--percents", "20,40,60", "--exact", "--min-heads-per-layer", "1"],
                      ["masking/mask", "masking/score", "masking/importance"]),
    # SCORES: a random [L, H] score file written by the test
    "mask_scores": (["mask", "--threshold", "0.5", "--amount", "0.25", "--scores", "SCORES"],
                    ["masking/mask", "masking/score", "masking/rank_scores"]),
    "ablate": (["ablate"], ["ablation/score_without_head", "ablation/score_only_head",
                            "ablation/layer_forwards_vs_naive", "entropy/raw"]),
    "eval": (["eval"], ["examples/logits", "entropy/raw"]),
}


def load(path, names):
    with h5py.File(path, "r") as f:
        assert f.attrs["status"] == "complete"
        return {k: f[k][()] for k in names}, dict(f["metrics"].attrs)


@pytest.fixture(scope="module")
def model(work):
    return models.bert(os.path.join(work, "model"), layers=2, hidden=32, heads=4, seed=21)


@pytest.mark.parametrize("name", list(RUNS))
def test_np1_equals_np3(name, model, work):
    args, datasets = RUNS[name]
    scores = os.path.join(work, "scores.npy")
    np.save(scores, np.random.default_rng(3).random((2, 4)))
    args = [scores if a == "SCORES" else a for a in args]
    res = {}
    for np_ in (1, 3):
        out = os.path.join(work, "%s_np%d" % (name, np_))
        bertology(args + ["--model", model, "--data", SST2, "--out", out] + COMMON, np=np_)
        res[np_] = load(os.path.join(out, "run.h5"), datasets)
        if name.startswith("mask"):
            res[np_][0]["head_mask.npy"] = np.load(os.path.join(out, "head_mask.npy"))
    for k, v in res[1][0].items():
        w = res[3][0][k]
        assert v.shape == w.shape and v.tobytes() == w.tobytes(), "%s: %s differs between 1 and 3 ranks" % (name, k)
    assert res[1][1] == res[3][1], (name, res[1][1], res[3][1])
    if name.startswith("mask"):
        assert len(res[1][0]["masking/score"]) > 2, "%s: the search should take a few steps" % name
    print("%-14s np 1 == np 3 bitwise: %s, metrics %s" % (name, ", ".join(sorted(res[1][0])), res[1][1]))
