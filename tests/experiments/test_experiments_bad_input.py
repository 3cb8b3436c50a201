"""Bad input to eval/mask/ablate/prune: exit code 2, one line on stderr naming what is wrong,
no output file left behind.
"""
import os

import numpy as np
import pytest

from bttest import SST2, bertology, models


@pytest.fixture(scope="module")
def model(work):
    return models.bert(os.path.join(work, "model"), layers=2, hidden=32, heads=4, seed=2)


def mask_file(work, name, a):
    path = os.path.join(work, name)
    np.save(path, np.asarray(a, dtype=np.float32))
    return path


MASKS = {"shape.npy": np.ones((4, 2)), "half.npy": [[1, 0.5, 1, 1], [1, 1, 1, 1]],
         "empty_layer.npy": [[1, 1, 1, 1], [0, 0, 0, 0]], "nan_scores.npy": [[1, 2, np.nan, 4], [5, 6, 7, 8]],
         "scores.npy": [[1, 2, 3, 4], [5, 6, 7, 8]]}
CASES = [  # command, its flags (a .npy named in MASKS is that mask), words the message must hold
    ("eval", ["--head-mask", "shape.npy"], ["shape.npy", "shape", "[2, 4]"]),
    ("ablate", ["--head-mask", "half.npy"], ["half.npy", "[0, 1]", "0.5", "0 or 1"]),
    ("mask", ["--head-mask", "shape.npy"], ["shape.npy", "[2, 4]"]),
    ("mask", ["--threshold", "1.5"], ["--threshold 1.5", "(0, 1)"]),
    ("mask", ["--threshold", "0"], ["--threshold 0", "(0, 1)"]),
    ("mask", ["--amount", "1"], ["--amount 1", "(0, 1)"]),
    ("mask", ["--percents", "100", "--min-heads-per-layer", "1"],
     ["--percents 100 masks 8 of 8 heads", "--min-heads-per-layer 1 keeps 2"]),
    ("mask", ["--percents", "10,x"], ["--percents 10,x"]),
    ("mask", ["--percents", "0"], ["--percents 0", "(0, 100]"]),
    ("mask", ["--min-heads-per-layer", "5"], ["--min-heads-per-layer 5", "4 heads"]),
    ("mask", ["--head-mask", "empty_layer.npy", "--min-heads-per-layer", "1"],
     ["layer 1 with 0 heads", "--min-heads-per-layer 1"]),
    ("mask", ["--metric", "pearson"], ["--metric pearson", "regression"]),
    ("mask", ["--metric", "bleu"], ["bleu"]),
    ("mask", ["--exact"], ["--exact", "--percents"]),
    ("prune", [], ["--head-mask", "--scores", "is required"]),
    ("mask", ["--scores", "shape.npy"], ["shape.npy", "head scores", "[2, 4]"]),
    ("mask", ["--scores", "nan_scores.npy"], ["nan_scores.npy", "[0, 2]", "nan", "finite"]),
    ("mask", ["--scores", "scores.npy", "--percents", "50", "--exact"], ["--exact", "--scores", "one or the other"]),
    ("prune", ["--scores", "scores.npy"], ["--scores needs --percent"]),
    ("prune", ["--percent", "50"], ["--percent goes with --scores"]),
    ("prune", ["--scores", "scores.npy", "--percent", "50", "--head-mask", "half.npy"], ["one or the other"]),
    ("prune", ["--scores", "scores.npy", "--percent", "100"], ["--percent 100", "(0, 100)"]),
    ("prune", ["--scores", "scores.npy", "--percent", "10"], ["--percent 10 of 8 heads is no head"]),
    ("prune", ["--scores", "scores.npy", "--percent", "80", "--min-heads-per-layer", "2"],
     ["--percent 80 removes 6 of 8 heads", "--min-heads-per-layer 2"]),
    # the attribution (issue 24)
    ("prune", ["--method", "attattr"], ["--method attattr needs --percent"]),
    ("prune", ["--method", "attattr", "--percent", "50"], ["--method attattr scores the heads on data", "--task"]),
    ("prune", ["--method", "attattr", "--percent", "50", "--head-mask", "half.npy"], ["--head-mask", "one or the other"]),
    ("mask", ["--method", "attattr", "--scores", "scores.npy"], ["--method attattr", "--scores", "one or the other"]),
    ("mask", ["--method", "attattr", "--steps", "0"], ["--steps 0", "1..10000"]),
    ("importance", ["--method", "attattr", "--attr-target", "best"], ["--attr-target best", "gold or pred"]),
    ("importance", ["--method", "shapley"], ["--method shapley", "gate or attattr"]),
    ("eval", ["--method", "attattr"], ["--method"]),
]


@pytest.mark.parametrize("cmd,extra,words", CASES, ids=["%s %s" % (c[0], " ".join(c[1])) for c in CASES])
def test_refused(cmd, extra, words, model, work):
    extra = [mask_file(work, a, MASKS[a]) if a in MASKS else a for a in extra]
    out = os.path.join(work, "out_%s" % cmd)
    argv = [cmd, "--model", model, "--task", "sst-2", "--data", SST2, "--subset", "20", "--threads", "1",
            "--quiet"] + extra + ["--out", out]
    if cmd == "prune":
        argv = [cmd, "--model", model, "--out", out] + extra
    p = bertology(argv, expect=2)
    err = p.stderr.strip()
    assert err.count("\n") == 0 and err.startswith("bertology %s: " % cmd), repr(p.stderr)
    for w in words:
        assert w in err, "%s %s: %r lacks %r" % (cmd, extra, err, w)
    assert not os.path.exists(os.path.join(out, "run.h5")), (cmd, extra)
    assert not os.path.exists(os.path.join(out, "head_mask.npy")), (cmd, extra)
    print("%-6s %-40s %s" % (cmd, " ".join(extra)[:40], err))


def test_prune_onto_its_model(model, work):
    p = bertology(["prune", "--model", model, "--head-mask", mask_file(work, "empty_layer.npy", MASKS["empty_layer.npy"]),
                   "--out", model + "/."], expect=2)
    assert "is the model directory itself" in p.stderr, p.stderr
    print("prune --out = --model:", p.stderr.strip())
