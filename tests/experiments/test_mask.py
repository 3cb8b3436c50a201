"""bertology mask against a PyTorch re-implementation of the Python script's mask_heads loop.

The reference recomputes importance and score at every step with the float64 torch BERT of
tests/ref (per-example gate gradients, SPEC normalisation) and runs the loop of HF's
run_bertology.py mask_heads: masked heads' importance set to +inf, stable ascending sort, the
first n switched off, stop when the score falls below threshold * original -- with its dead
guard (`len(current_heads_to_mask) <= num_to_mask`, always L*H) replaced by the SPEC's "fewer
than n heads remain on". Michel's schedule is re-implemented the same way: percent of all heads
masked, int(L*H*p/100), ranked by the first importance (or re-scored with --exact), the K most
important heads still on in every layer protected.

Checked: the masks step by step, the scores, the importance at every step, the final mask in
head_mask.npy and run.h5, the stop line; and that NaN scores (constant STS-B targets) stop.
"""
import os

import h5py
import numpy as np
import pytest
import torch

import reference
from bttest import GLUE, bertology, models


class Passes:
    """The reference's pass at a mask: (normalised importance or None, score)."""

    def __init__(self, ref, metric):
        self.ref, self.metric = ref, metric

    def __call__(self, mask, grad=True):
        logits, grads = self.ref.run(mask, grad)
        return (self.ref.importance(grads) if grad else None), self.ref.score(self.metric, logits)


def protected(imp, mask, k):
    """The k most important heads still on in every layer (ties: lower head)."""
    keep = np.zeros(mask.shape, bool)
    for l in range(mask.shape[0]):
        on = [h for h in range(mask.shape[1]) if mask[l, h] != 0]
        for h in sorted(on, key=lambda h: -imp[l, h])[:k]:  # sorted() is stable
            keep[l, h] = True
    return keep


def hf_mask_heads(passes, L, H, amount, threshold, min_heads=0, scores=None):
    """run_bertology.py's mask_heads, the guard fixed; min_heads protects as --min-heads-per-layer;
    scores: a fixed ranking (--scores) in place of every step's importance, which is then not
    computed after the first pass."""
    head_importance, original_score = passes(np.ones((L, H)))
    rank = head_importance if scores is None else scores
    steps = [(np.ones((L, H)), head_importance, original_score)]
    new_head_mask = torch.ones(L, H, dtype=torch.float64)
    num_to_mask = max(1, int(new_head_mask.numel() * amount))
    current_score = original_score
    head_mask = new_head_mask.clone()
    while current_score >= original_score * threshold:
        head_mask = new_head_mask.clone()
        imp = torch.tensor(rank).clone()
        imp[head_mask == 0.0] = float("inf")
        imp[torch.tensor(protected(rank, head_mask.numpy(), min_heads))] = float("inf")
        if int((imp != float("inf")).sum()) < num_to_mask:
            break
        current_heads_to_mask = imp.view(-1).sort(stable=True)[1][:num_to_mask]
        new_head_mask = new_head_mask.view(-1)
        new_head_mask[current_heads_to_mask] = 0.0
        new_head_mask = new_head_mask.view_as(head_mask).clone()
        head_importance, current_score = passes(new_head_mask.numpy(), grad=scores is None)
        steps.append((new_head_mask.numpy().copy(), head_importance, current_score))
        if scores is None:
            rank = head_importance
    return head_mask.numpy(), steps


def michel(passes, L, H, percents, exact, min_heads, threshold, scores=None):
    imp, s0 = passes(np.ones((L, H)))
    mask = np.ones((L, H))
    steps = [(mask.copy(), imp, s0)]
    if scores is not None:
        imp = scores
    for p in sorted(percents):
        n_more = int(L * H * p / 100) - int((mask == 0).sum())
        keep = protected(imp, mask, min_heads)
        cand = sorted((imp[l, h], l * H + h) for l in range(L) for h in range(H) if mask[l, h] and not keep[l, h])
        for _, i in cand[:max(n_more, 0)]:
            mask.flat[i] = 0
        new_imp, s = passes(mask, grad=exact)
        if exact:
            imp = new_imp
        steps.append((mask.copy(), new_imp, s))
    ok = [i for i, (_, _, s) in enumerate(steps) if s >= threshold * s0]
    return steps[ok[-1] if ok else 0][0], steps


def compare(name, out, final, steps, stop_words):
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        assert f.attrs["status"] == "complete"
        masks, scores = f["masking/mask"][()], f["masking/score"][()]
        imps, on = f["masking/importance"][()], f["masking/heads_remaining"][()]
        fin = f["masking/final_mask"][()]
    assert len(masks) == len(steps), "%s: %d steps, the reference took %d" % (name, len(masks), len(steps))
    for s, (m, imp, score) in enumerate(steps):
        assert (masks[s] == m).all(), "%s: step %d mask\n%s\nreference\n%s" % (name, s, masks[s], m)
        assert on[s] == int(m.sum()), (name, s)
        assert abs(scores[s] - score) < 1e-6, "%s: step %d score %r, reference %r" % (name, s, scores[s], score)
        if imp is not None:
            assert np.allclose(imps[s], imp, rtol=1e-4, atol=1e-5), "%s: step %d importance" % (name, s)
        else:
            assert np.isnan(imps[s]).all(), "%s: step %d has importance it did not compute" % name
    npy = np.load(os.path.join(out, "head_mask.npy"))
    assert npy.dtype == np.float32 and npy.shape == final.shape and (npy == final).all(), (name, npy, final)
    assert (fin == final).all()
    for w in stop_words:
        assert w in out_text(out), "%s: output lacks %r" % (name, w)
    print("ok %-22s %d steps, %d of %d heads kept, scores %s" % (
        name, len(steps), int(final.sum()), final.size, " ".join("%.4f" % s[2] for s in steps)))


_stdout = {}


def out_text(out):
    return _stdout[out]


def run_mask(work, name, m, task, data, n, extra):
    out = os.path.join(work, name)
    p = bertology(["mask", "--model", m, "--task", task, "--data", data, "--subset", str(n),
                    "--max-seq-length", "64", "--batch-tokens", "600", "--threads", "1", "--quiet",
                    "--out", out] + extra)
    _stdout[out] = p.stdout
    return out


L, H = 3, 4


@pytest.fixture(scope="module")
def model(work):
    return models.bert(os.path.join(work, "model_cls"), layers=3, hidden=32, heads=4, seed=3)


@pytest.fixture(scope="module")
def acc(work, model):
    """The reference's passes on the SST-2 examples of the first search's run.h5."""
    out = run_mask(work, "hf_amount0.1", model, "sst-2", os.path.join(GLUE, "SST-2"), 150, ["--threshold", "0.97"])
    return Passes(reference.Reference(model, reference.examples(os.path.join(out, "run.h5"))), "acc")


def test_hf_one_head_per_step(work, model, acc):
    """HF loop, one head per step"""
    out = os.path.join(work, "hf_amount0.1")
    final, steps = hf_mask_heads(acc, L, H, 0.1, 0.97)
    assert len(steps) >= 3, "the test needs a search that masks a few heads before stopping"
    compare("hf_amount0.1", out, final, steps, ["Final head mask", "stopped: fewer than 1 heads remain on"])


def test_hf_three_per_step_layer_minimum(work, model, acc):
    out = run_mask(work, "hf_amount0.25_min1", model, "sst-2", os.path.join(GLUE, "SST-2"), 150,
                   ["--threshold", "0.5", "--amount", "0.25", "--min-heads-per-layer", "1"])
    final, steps = hf_mask_heads(acc, L, H, 0.25, 0.5, min_heads=1)
    compare("hf_amount0.25_min1", out, final, steps, ["stopped: fewer than 3 heads can still be masked"])


@pytest.mark.parametrize("exact", [False, True], ids=["first_importance", "exact"])
def test_michel_schedule(exact, work, model, acc):
    """Michel's schedule, first importance only and re-scored"""
    name = "percents%s" % ("_exact" if exact else "")
    out = run_mask(work, name, model, "sst-2", os.path.join(GLUE, "SST-2"), 150,
                   ["--percents", "50,25,75", "--min-heads-per-layer", "1", "--threshold", "0.9"]
                   + (["--exact"] if exact else []))
    final, steps = michel(acc, L, H, [25, 50, 75], exact, 1, 0.9)
    compare(name, out, final, steps, ["schedule done"])


def fixed_scores(work, name, seed):
    """[L, H] float64 scores with a tie (the lower (layer, head) goes first) and negative values."""
    s = np.random.default_rng(seed).normal(size=(L, H))
    s[1, 2] = s[0, 3]
    path = os.path.join(work, name)
    np.save(path, s)
    return path, s.astype(np.float32)


@pytest.mark.parametrize("loop", ["hf", "percents"])
def test_fixed_scores(loop, work, model, acc):
    """--scores: every step ranked by a file's [L, H] scores (highest kept), forward-only steps"""
    path, scores = fixed_scores(work, "scores_%s.npy" % loop, 21)
    if loop == "hf":
        extra, (final, steps) = ["--threshold", "0.5", "--amount", "0.2"], hf_mask_heads(acc, L, H, 0.2, 0.5,
                                                                                          scores=scores)
    else:
        extra = ["--percents", "25,50,75", "--min-heads-per-layer", "1", "--threshold", "0.9"]
        final, steps = michel(acc, L, H, [25, 50, 75], False, 1, 0.9, scores=scores)
    out = run_mask(work, "scores_" + loop, model, "sst-2", os.path.join(GLUE, "SST-2"), 150, extra + ["--scores", path])
    compare("scores_" + loop, out, final, steps, ["ranked by --scores"])
    # the ranking differs from the importance's: the test would not tell the two apart otherwise
    by_imp = (hf_mask_heads(acc, L, H, 0.2, 0.5) if loop == "hf" else michel(acc, L, H, [25, 50, 75], False, 1, 0.9))[1]
    assert any((a[0] != b[0]).any() for a, b in zip(steps[1:], by_imp[1:])), "scores rank as the importance does"
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        assert list(f["masking"].attrs["method"]) == ["scores"] and list(f["masking"].attrs["scores_file"]) == [path]
        assert (f["masking/rank_scores"][()] == scores).all()
    with h5py.File(os.path.join(work, "hf_amount0.1", "run.h5"), "r") as f:
        assert list(f["masking"].attrs["method"]) == ["gate"] and "rank_scores" not in f["masking"]


def test_other_metric(work, model):
    """another metric than the task's default"""
    out = run_mask(work, "cola_f1", model, "cola", os.path.join(GLUE, "CoLA"), 120,
                   ["--metric", "f1", "--threshold", "0.95"])
    rc = reference.Reference(model, reference.examples(os.path.join(out, "run.h5")))
    final, steps = hf_mask_heads(Passes(rc, "f1"), L, H, 0.1, 0.95)
    compare("cola_f1", out, final, steps, ["Masking steps (f1"])


@pytest.fixture(scope="module")
def model_reg(work):
    return models.bert(os.path.join(work, "model_reg"), layers=2, hidden=32, heads=4, labels=1, seed=4)


def test_regression(work, model_reg):
    """regression (STS-B format): squared-error importance, corr watched"""
    sts = reference.sts_b_dev(os.path.join(work, "STS-B"))
    out = run_mask(work, "sts-b", model_reg, "sts-b", sts, 60, ["--threshold", "0.6", "--amount", "0.2"])
    rr = reference.Reference(model_reg, reference.examples(os.path.join(out, "run.h5")))
    final, steps = hf_mask_heads(Passes(rr, "corr"), 2, 4, 0.2, 0.6)
    compare("sts-b", out, final, steps, ["Masking steps (corr"])


def test_nan_scores_stop(work, model_reg):
    """constant targets: every correlation is NaN, nothing can pass the threshold"""
    flat = reference.sts_b_dev(os.path.join(work, "STS-B-flat"), constant=True)
    out = run_mask(work, "sts-b_nan", model_reg, "sts-b", flat, 30, [])
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        assert np.isnan(f["masking/score"][0]) and len(f["masking/score"]) == 1
    assert (np.load(os.path.join(out, "head_mask.npy")) == 1).all()
    assert "scores NaN" in _stdout[out], _stdout[out]
    print("NaN original score: stops at once, nothing masked")
