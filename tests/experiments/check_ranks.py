#!/usr/bin/python3
"""mask, ablate and eval give bit-identical results for 1 and 3 MPI ranks (same threads per
rank): masks and scores of every step, importance, ablation tables, metrics, logits.

    check_ranks.py BERTOLOGY WORKDIR
"""
import os
import sys

import h5py
import numpy as np

import common

COMMON = ["--task", "sst-2", "--subset", "90", "--max-seq-length", "48", "--batch-tokens", "300",
          "--threads", "1", "--quiet"]
RUNS = {
    "mask": (["mask", "--threshold", "0.95"], ["masking/mask", "masking/score", "masking/importance",
                                               "masking/final_mask", "importance/raw", "examples/gate_grad"]),
    "mask_percents": (["mask", "--percents", "20,40,60", "--exact", "--min-heads-per-layer", "1"],
                      ["masking/mask", "masking/score", "masking/importance"]),
    "ablate": (["ablate"], ["ablation/score_without_head", "ablation/score_only_head",
                            "ablation/layer_forwards_vs_naive", "entropy/raw"]),
    "eval": (["eval"], ["examples/logits", "entropy/raw"]),
}


def load(path, names):
    with h5py.File(path, "r") as f:
        assert f.attrs["status"] == "complete"
        return {k: f[k][()] for k in names}, dict(f["metrics"].attrs)


def main():
    bertology, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    m = common.model(os.path.join(work, "model"), layers=2, hidden=32, heads=4, seed=21)
    data = os.path.join(common.GLUE, "SST-2")
    for name, (args, datasets) in RUNS.items():
        res = {}
        for np_ in (1, 3):
            out = os.path.join(work, "%s_np%d" % (name, np_))
            common.run([bertology] + args + ["--model", m, "--data", data, "--out", out] + COMMON, np_=np_)
            res[np_] = load(os.path.join(out, "run.h5"), datasets)
            if name.startswith("mask"):
                res[np_][0]["head_mask.npy"] = np.load(os.path.join(out, "head_mask.npy"))
        for k, v in res[1][0].items():
            w = res[3][0][k]
            assert v.shape == w.shape and v.tobytes() == w.tobytes(), "%s: %s differs between 1 and 3 ranks" % (name, k)
        assert res[1][1] == res[3][1], (name, res[1][1], res[3][1])
        if name.startswith("mask"):
            assert len(res[1][0]["masking/score"]) > 2, "%s: the search should take a few steps" % name
        print("ok %-14s np 1 == np 3 bitwise: %s, metrics %s" % (name, ", ".join(sorted(res[1][0])), res[1][1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
