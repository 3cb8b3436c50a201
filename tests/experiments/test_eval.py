"""bertology eval against the float64 torch reference and sklearn/scipy metrics.

For each task: logits in run.h5 agree with the reference's (1e-4), every prediction whose
reference margin is not a near-tie agrees, the metrics in run.h5 and on stdout equal sklearn's
or scipy's on our predictions, and predictions.tsv names the predicted and gold labels.
Also with --head-mask (one layer fully masked).
"""
import csv
import os

import h5py
import numpy as np
import pytest

import reference
from bttest import GLUE, bertology, models

LABELS = {"sst-2": ["0", "1"], "cola": ["0", "1"], "rte": ["entailment", "not_entailment"]}


def check_eval(work, task, data, n, labels, mask=None, metrics=()):
    name = "%s%s" % (task, "_masked" if mask is not None else "")
    m = models.bert(os.path.join(work, "model_%s_%d" % (task, labels)), layers=3, hidden=32, heads=4,
                     labels=labels, seed=11)
    out = os.path.join(work, name)
    cmd = ["eval", "--model", m, "--task", task, "--data", data, "--subset", str(n),
           "--max-seq-length", "64", "--batch-tokens", "400", "--threads", "1", "--quiet", "--out", out]
    if mask is not None:
        np.save(os.path.join(work, name + ".npy"), mask.astype(np.float32))
        cmd += ["--head-mask", os.path.join(work, name + ".npy")]
    p = bertology(cmd)
    exs = reference.examples(os.path.join(out, "run.h5"))
    assert len(exs) == n, (len(exs), n)
    ref = reference.Reference(m, exs)
    gates = np.ones((ref.L, ref.H)) if mask is None else mask
    want, _ = ref.run(gates, grad=False)
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        assert f.attrs["status"] == "complete"
        got = f["examples/logits"][()].astype(np.float64)
        stored = dict(f["metrics"].attrs)
    err = np.abs(got - want).max()
    assert err < 1e-4, "%s: logits differ from the reference by %g" % (name, err)
    ours, theirs = ref.predictions(got), ref.predictions(want)
    if not ref.regression:
        top2 = np.sort(want, 1)
        clear = top2[:, -1] - top2[:, -2] > 1e-4
        assert (ours[clear] == theirs[clear]).all(), "%s: predictions differ from the reference" % name
    for k in metrics:
        v = ref.score(k, got)
        assert abs(stored[k] - v) < 1e-9, "%s: %s %r, sklearn/scipy say %r" % (name, k, stored[k], v)
        assert ("%s = %.6f" % (k, v)) in p.stdout, "%s: stdout lacks %s = %.6f:\n%s" % (name, k, v, p.stdout)
    with open(os.path.join(out, "predictions.tsv")) as f:
        rows = list(csv.reader(f, delimiter="\t"))
    assert rows[0] == ["index", "prediction", "label"], rows[0]
    for i, r in enumerate(rows[1:]):
        if ref.regression:
            assert abs(float(r[1]) - got[i, 0]) < 1e-5 and abs(float(r[2]) - ref.gold[i]) < 1e-5, r
        else:
            assert r == [str(i), LABELS[task][ours[i]], LABELS[task][ref.gold[i]]], (r, ours[i], ref.gold[i])
    print("ok %-14s %3d examples, max |logit - ref| %.2g, %s" % (name, n, err,
          ", ".join("%s %.4f" % (k, stored[k]) for k in metrics)))


MASK = np.ones((3, 4))
MASK[0, [1, 2]] = 0
MASK[1, :] = 0

CASES = {  # name: (task, data directory under GLUE, examples, labels, head mask, metrics)
    "sst-2": ("sst-2", "SST-2", 120, 2, None, ["acc"]),
    "cola": ("cola", "CoLA", 150, 2, None, ["mcc"]),
    "rte": ("rte", "RTE", 40, 2, None, ["acc"]),
    "rte_masked": ("rte", "RTE", 40, 2, MASK, ["acc"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_glue_task(name, work):
    task, d, n, labels, mask, metrics = CASES[name]
    check_eval(work, task, os.path.join(GLUE, d), n, labels, mask=mask, metrics=metrics)


def test_regression(work):
    sts = reference.sts_b_dev(os.path.join(work, "STS-B"))
    check_eval(work, "sts-b", sts, 60, 1, metrics=["pearson", "spearmanr", "corr"])
