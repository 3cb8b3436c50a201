"""Compares bertology's GLUE metrics (tests/tools/metrics_eval) with sklearn.metrics and
scipy.stats on random and edge-case inputs."""
import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from bttest import run, tool

TOL = 1e-12
rng = np.random.default_rng(20240611)


def class_cases():
    def rand(k, n, p=None):
        return rng.choice(k, size=n, p=p), rng.choice(k, size=n, p=p)

    cases = []
    for n in (1, 2, 7, 100, 5000):
        y, p = rand(2, n)
        cases.append(("binary random n=%d" % n, 2, y, p))
    y, p = rand(2, 1000, p=[0.9, 0.1])
    cases.append(("binary imbalanced", 2, y, p))
    y = rng.choice(2, size=50)
    cases += [
        ("all 0, all right", 2, np.zeros(20, int), np.zeros(20, int)),
        ("all 1, all right", 2, np.ones(20, int), np.ones(20, int)),
        ("labels all 1, preds mixed", 2, np.ones(50, int), rng.choice(2, size=50)),
        ("labels all 0, preds mixed", 2, np.zeros(50, int), rng.choice(2, size=50)),
        ("constant prediction 0", 2, y, np.zeros(50, int)),
        ("constant prediction 1", 2, y, np.ones(50, int)),
        ("perfect", 2, y, y.copy()),
        ("inverted", 2, y, 1 - y),
    ]
    for k, n in ((3, 1000), (3, 10), (5, 400), (8, 3000)):
        y, p = rand(k, n)
        cases.append(("%d-class random n=%d" % (k, n), k, y, p))
    y = rng.choice(3, size=300)
    cases += [
        ("3-class constant prediction", 3, y, np.full(300, 2)),
        ("3-class, class 2 never predicted", 3, y, rng.choice(2, size=300)),
        ("3-class perfect", 3, y, y.copy()),
        ("3-class all one label", 3, np.full(40, 1), rng.choice(3, size=40)),
    ]
    return cases


def class_expected(k, y, p):
    acc = accuracy_score(y, p)
    if k == 2:
        f1 = f1_score(y, p, zero_division=0)
    else:  # class 1 against the rest
        f1 = f1_score(y, p, labels=[1], average=None, zero_division=0)[0]
    return [acc, f1, matthews_corrcoef(y, p), (acc + f1) / 2]


def reg_cases():
    cases = []
    for n in (2, 3, 50, 1000):
        x = rng.normal(size=n)
        # two close points have a variance far below (x - 2.5)^2: the shift-2.5 moment sums
        # lose digits there (documented in metrics.h), so n = 2 checks the arrays only
        cases.append(("normal n=%d" % n, x, 0.6 * x + rng.normal(size=n), n > 2))
    t = np.round(rng.uniform(0, 5, 1500) * 5) / 5  # STS-B gold scores sit on a grid: ties
    pred = np.clip(t + rng.normal(0, 1, 1500), 0, 5).round(1)
    cases.append(("sts-b like, ties on both sides", pred, t, True))
    x = rng.choice(2, size=200).astype(float)
    cases.append(("heavy ties 0/1 vs 0/1/2", x, rng.choice(3, size=200).astype(float), True))
    x = rng.uniform(0, 5, 100)
    cases += [
        ("constant prediction", np.full(100, 2.7), x, True),
        ("constant target", x, np.full(100, 0.1), True),
        ("perfect linear", x, 2 * x + 1, True),
        ("inverted", x, -x, True),
        ("monotone non-linear", x, np.exp(x), True),
        ("NaN in prediction", np.where(np.arange(100) == 7, np.nan, x), x, True),
        # moment sums with shift 0 or 2.5 cannot resolve a 1e-3 spread at 1e6: arrays only
        ("large offset", 1e6 + rng.normal(0, 1e-3, 300), rng.normal(size=300), False),
    ]
    return cases


def reg_expected(x, y):
    if len(x) < 2:
        return [math.nan] * 3
    if np.isnan(x).any() or np.isnan(y).any():
        pr = math.nan  # scipy.stats.pearsonr raises on NaN; numpy.corrcoef propagates it
    else:
        pr = stats.pearsonr(x, y)[0]
    sr = stats.spearmanr(x, y)[0]
    return [pr, sr, (pr + sr) / 2]


worst = [0.0]


def close(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    worst[0] = max(worst[0], abs(a - b))
    return abs(a - b) <= TOL


# constant-input and ill-defined-F1 warnings are the point here
@pytest.mark.filterwarnings("ignore")
def test_metrics_vs_sklearn_scipy():
    ccases, rcases = class_cases(), reg_cases()
    lines = []
    for _, k, y, p in ccases:
        lines.append("class %d %d" % (k, len(y)))
        lines += ["%d %d" % (a, b) for a, b in zip(p, y)]
    for _, x, y, _ in rcases:
        lines.append("reg %d" % len(x))
        lines += ["%r %r" % (float(a), float(b)) for a, b in zip(x, y)]
    out = run([tool("metrics_eval")], input="\n".join(lines) + "\n").stdout.split("\n")
    fails, checks = 0, 0
    for i, (name, k, y, p) in enumerate(ccases):
        got = [float(v) for v in out[i].split()]
        want = class_expected(k, y, p)
        for j, metric in enumerate(("acc", "f1", "mcc", "acc_and_f1")):
            checks += 2
            if not close(got[j], want[j]):
                fails += 1
                print("FAIL %s %s: bertology %.17g, sklearn %.17g" % (name, metric, got[j], want[j]))
            if got[4 + j] != got[j]:  # merged partial tables must give the very same number
                fails += 1
                print("FAIL %s %s merged %.17g != whole %.17g" % (name, metric, got[4 + j], got[j]))
    for i, (name, x, y, moments_ok) in enumerate(rcases):
        got = [float(v) for v in out[len(ccases) + i].split()]
        want = reg_expected(x, y)
        names = ["pearson", "spearmanr", "corr"]
        if moments_ok:
            want += [want[0], want[0]]
            names += ["pearson (moments, shift 0)", "pearson (moments, shift 2.5, merged)"]
        for j, metric in enumerate(names):
            checks += 1
            if not close(got[j], want[j]):
                fails += 1
                print("FAIL %s %s: bertology %.17g, scipy %.17g" % (name, metric, got[j], want[j]))
    print("%d cases, %d checks, %d failures (tolerance %g, largest difference %.3g)"
          % (len(ccases) + len(rcases), checks, fails, TOL, worst[0]))
    assert not fails, "%d of %d checks failed (the FAIL lines above)" % (fails, checks)
