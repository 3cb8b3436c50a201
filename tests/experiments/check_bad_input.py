#!/usr/bin/python3
"""Bad input to eval/mask/ablate/prune: exit code 2, one line on stderr naming what is wrong,
no output file left behind.

    check_bad_input.py BERTOLOGY WORKDIR
"""
import os
import sys

import numpy as np

import common


def main():
    bertology, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    m = common.model(os.path.join(work, "model"), layers=2, hidden=32, heads=4, seed=2)
    data = os.path.join(common.GLUE, "SST-2")

    def mask_file(name, a):
        path = os.path.join(work, name)
        np.save(path, np.asarray(a, dtype=np.float32))
        return path

    wrong_shape = mask_file("shape.npy", np.ones((4, 2)))
    half = mask_file("half.npy", [[1, 0.5, 1, 1], [1, 1, 1, 1]])
    empty_layer = mask_file("empty_layer.npy", [[1, 1, 1, 1], [0, 0, 0, 0]])
    run = ["--model", m, "--task", "sst-2", "--data", data, "--subset", "20", "--threads", "1", "--quiet"]
    cases = [
        ("eval", ["--head-mask", wrong_shape], ["shape.npy", "shape", "[2, 4]"]),
        ("ablate", ["--head-mask", half], ["half.npy", "[0, 1]", "0.5", "0 or 1"]),
        ("mask", ["--head-mask", wrong_shape], ["shape.npy", "[2, 4]"]),
        ("mask", ["--threshold", "1.5"], ["--threshold 1.5", "(0, 1)"]),
        ("mask", ["--threshold", "0"], ["--threshold 0", "(0, 1)"]),
        ("mask", ["--amount", "1"], ["--amount 1", "(0, 1)"]),
        ("mask", ["--percents", "100", "--min-heads-per-layer", "1"],
         ["--percents 100 masks 8 of 8 heads", "--min-heads-per-layer 1 keeps 2"]),
        ("mask", ["--percents", "10,x"], ["--percents 10,x"]),
        ("mask", ["--percents", "0"], ["--percents 0", "(0, 100]"]),
        ("mask", ["--min-heads-per-layer", "5"], ["--min-heads-per-layer 5", "4 heads"]),
        ("mask", ["--head-mask", empty_layer, "--min-heads-per-layer", "1"],
         ["layer 1 with 0 heads", "--min-heads-per-layer 1"]),
        ("mask", ["--metric", "pearson"], ["--metric pearson", "regression"]),
        ("mask", ["--metric", "bleu"], ["bleu"]),
        ("mask", ["--exact"], ["--exact", "--percents"]),
        ("prune", [], ["--head-mask is required"]),
    ]
    for cmd, extra, words in cases:
        out = os.path.join(work, "out_%s" % cmd)
        argv = [bertology, cmd] + run + extra + ["--out", out]
        if cmd == "prune":
            argv = [bertology, cmd, "--model", m, "--out", out] + extra
        p = common.run(argv, expect=2)
        err = p.stderr.strip()
        assert err.count("\n") == 0 and err.startswith("bertology %s: " % cmd), repr(p.stderr)
        for w in words:
            assert w in err, "%s %s: %r lacks %r" % (cmd, extra, err, w)
        assert not os.path.exists(os.path.join(out, "run.h5")), (cmd, extra)
        assert not os.path.exists(os.path.join(out, "head_mask.npy")), (cmd, extra)
        print("ok %-6s %-40s %s" % (cmd, " ".join(extra)[:40], err))
    # prune onto its own model directory
    p = common.run([bertology, "prune", "--model", m, "--head-mask", half.replace("half", "empty_layer"),
                    "--out", m + "/."], expect=2)
    assert "is the model directory itself" in p.stderr, p.stderr
    print("ok prune  --out = --model                        ", p.stderr.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
