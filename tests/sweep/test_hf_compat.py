"""`bertology importance --granularity batch --batch-size B --hf-compat --max-seq-length 128`
equals hf_loop.py, a PyTorch re-implementation of HF's compute_heads_importance (padded batches,
batch-mean loss, never-zeroed head_mask.grad), for B = 1 and B = 4 on SST-2 and B = 4 on RTE
(sentence pairs, longest-first truncation), under mpirun -np 2. Without --hf-compat the batch
granularity equals the same loop with the gradient zeroed every batch.

Compared: head_importance.npy and attn_entropy.npy (float32, within float rounding: bertology
runs float32 unpadded, the reference float64 padded to 128), head ranks (equal, except between
heads whose reference importances tie within the tolerance), the accuracy, and the printed
tables line by line: same titles, header, row labels, tab layout and 5-decimal format, and the
same numbers within 2 units of the last digit.
"""
import os
import re

import numpy as np
import pytest

import hf_loop
from bttest import GLUE, bertology, models

IMP_TOL, ENT_RTOL = 1e-4, 1e-5

CASES = [  # (name, task, subset, batch size, hf-compat)
    ("sst2_b1", "sst-2", 12, 1, True),
    ("sst2_b4", "sst-2", 18, 4, True),
    ("sst2_b4_plain", "sst-2", 18, 4, False),
    ("rte_b4", "rte", 10, 4, True),
]


def tables(stdout):
    """The three tables: lines from "Attention entropies" up to the metric lines."""
    lines = stdout.splitlines()
    start = lines.index("Attention entropies") if "Attention entropies" in lines else 0
    end = start
    while end < len(lines) and (end == start or not re.match(r"^\w+ = |^importance:", lines[end])):
        end += 1
    return lines[start:end]


def compare_tables(check, name, got, want):
    if not check(len(got) == len(want), "%s: %d table lines printed, HF layout has %d:\n%s"
                 % (name, len(got), len(want), "\n".join(got))):
        return
    for g, w in zip(got, want):
        gf, wf = g.split("\t"), w.split("\t")
        same_layout = len(gf) == len(wf) and gf[0] == wf[0] and all(
            re.fullmatch(r"-?\d+\.\d{5}", a) is not None if "." in b else re.fullmatch(r"\d+", a)
            is not None for a, b in zip(gf[1:], wf[1:]) if not w.startswith("lv"))
        if w.startswith("lv"):
            same_layout = g == w
        if not check(same_layout, "%s: line %r, HF prints %r" % (name, g, w)):
            continue
        if w.startswith("layer") and "." in w:
            diff = max(abs(float(a) - float(b)) for a, b in zip(gf[1:], wf[1:]))
            check(diff <= 2e-5, "%s: %r vs HF %r" % (name, g, w))


@pytest.fixture(scope="module")
def model(work):
    # L == H so that HF's header (it counts layers, not heads) reads the same
    return models.bert(os.path.join(work, "model"), layers=4, hidden=32, heads=4, seed=3)


@pytest.mark.parametrize("name,task,subset,bs,hf", CASES, ids=[c[0] for c in CASES])
def test_equals_hf_loop(name, task, subset, bs, hf, model, work, check, blas_one_thread):
    out = os.path.join(work, name)
    data = os.path.join(GLUE, {"sst-2": "SST-2", "rte": "RTE"}[task])
    extra = ["--granularity", "batch", "--batch-size", bs, "--max-seq-length", 128,
             "--subset", subset] + (["--hf-compat"] if hf else [])
    p = bertology(["importance", "--model", model, "--task", task, "--data", data, "--out", out, "--threads", 1,
                   "--quiet"] + extra, np=2, timeout=180)
    ref = hf_loop.run(model, task, data, bs, 128, subset, os.path.join(work, name + "_ref"), zero_grad=not hf)
    imp = np.load(os.path.join(out, "head_importance.npy"))
    ent = np.load(os.path.join(out, "attn_entropy.npy"))
    check(imp.dtype == np.float32 and imp.shape == (4, 4), "%s: head_importance.npy %s %s"
          % (name, imp.dtype, imp.shape))
    d = np.abs(imp - ref["importance"]).max()
    check(d <= IMP_TOL, "%s: head_importance max |diff| %.3g\n%s\nHF loop:\n%s"
          % (name, d, imp, ref["importance"]))
    check(np.allclose(ent, ref["entropy"], rtol=ENT_RTOL, atol=0),
          "%s: attn_entropy\n%s\nHF loop:\n%s" % (name, ent, ref["entropy"]))
    got_lines, want_lines = tables(p.stdout), ref["lines"]
    compare_tables(check, name, got_lines, want_lines)
    # ranks: any disagreement must be between heads the reference cannot tell apart
    rk = [list(map(int, ln.split("\t")[1:])) for ln in got_lines[-4:]]
    rv, rr = ref["importance"].ravel(), ref["ranks"].ravel()
    got_r = np.array(rk).ravel()
    for i in np.flatnonzero(got_r != rr):
        j = int(np.flatnonzero(rr == got_r[i])[0])
        check(abs(rv[i] - rv[j]) <= IMP_TOL, "%s: head %d ranked %d, HF loop %d" % (name, i, got_r[i], rr[i]))
    acc = float(np.mean(ref["preds"].argmax(1) == ref["labels"]))
    m_acc = re.search(r"^acc = ([0-9.]+)$", p.stdout, re.M)
    check(m_acc is not None and abs(float(m_acc.group(1)) - acc) < 1e-6,
          "%s: printed acc %s, HF loop %.6f" % (name, m_acc and m_acc.group(1), acc))
    m_sum = re.search(r"^importance: (\d+) examples, (\d+) tokens", p.stdout, re.M)
    check(m_sum is not None and int(m_sum.group(1)) == subset and int(m_sum.group(2)) == int(ref["tot_tokens"]),
          "%s: summary line %s, want %d examples, %d tokens" % (name, m_sum and m_sum.group(0), subset,
                                                              ref["tot_tokens"]))
    print("%s: importance max |diff| %.2g, entropy max rel diff %.2g" % (
        name, d, np.max(np.abs(ent - ref["entropy"]) / ref["entropy"])))


def test_accumulation_matters(model, work):
    """The two HF variants differ far beyond the tolerance, so the agreement above cannot come
    from ignoring --hf-compat."""
    def ref_importance(name, zero):  # test_equals_hf_loop's reference when it ran
        path = os.path.join(work, name + "_ref", "head_importance.npy")
        if not os.path.exists(path):
            hf_loop.run(model, "sst-2", os.path.join(GLUE, "SST-2"), 4, 128, 18, os.path.dirname(path), zero_grad=zero)
        return np.load(path)
    a, b = ref_importance("sst2_b4", False), ref_importance("sst2_b4_plain", True)
    assert np.abs(a - b).max() > 100 * IMP_TOL, "accumulated and zeroed HF loops agree: %s" % a
