"""The report on real runs: bertology importance (--save-attentions), mask and ablate on a small
random BERT, then analysis/report.py.

Checks: exit status; every figure the summary embeds exists, is a PNG (signature) and reads back
with matplotlib; every PNG of the folder is embedded in summary.md and summary.html; the Clark
statistics in head_stats.csv and from clark_stats() equal a direct numpy computation on the
attention read with h5py (selector matrices as in Clark et al.'s notebook, not the package's
code); importance and entropy columns equal bertology's .npy files; the stored maps are
probability rows whose entropy is the run's /examples/entropy; a run saving only layer 2 leaves
layer 1 empty; the interactive page's data holds every example and, decoded here with zlib and
numpy, the attention of run.h5 to 8 bits.
"""
import base64
import csv
import json
import os
import re
import string
import sys
import unicodedata
import zlib

import h5py
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.image  # noqa: E402

from bertology_analysis import clark_stats, load_run  # noqa: E402
from bttest import SOURCE, SST2, bertology, models, run  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
STATS = ("cls", "sep", "punct", "self", "next", "prev", "distance")


@pytest.fixture(scope="module")
def runs(work):
    """The runs, the model given as a relative path as a user would type it; the report run
    from elsewhere ("/"): model_dir "model" is found next to imp/."""
    models.bert(os.path.join(work, "model"), layers=2, hidden=32, heads=4, labels=2)
    common = ["--model", "model", "--task", "sst-2", "--data", SST2, "--threads", "1", "--quiet"]
    bertology(["importance", *common, "--subset", "24", "--out", "imp", "--save-attentions"], cwd=work)
    bertology(["importance", *common, "--subset", "6", "--out", "imp_l2", "--save-attentions", "--layers", "1",
               "--dtype", "f32"], cwd=work)
    bertology(["mask", *common, "--subset", "24", "--out", "mask"], cwd=work)
    bertology(["ablate", *common, "--subset", "24", "--out", "ablate"], cwd=work)
    report = os.path.join(work, "report")
    print(run([sys.executable, os.path.join(SOURCE, "analysis/report.py"), "%s/imp/run.h5" % work,
               "%s/mask/run.h5" % work, "%s/ablate/run.h5" % work, "--out", report], cwd="/").stdout, end="")
    return {"work": work, "report": report, "imp": os.path.join(work, "imp/run.h5")}


def test_figures(runs):
    report = runs["report"]
    md = open(os.path.join(report, "summary.md"), encoding="utf-8").read()
    html = open(os.path.join(report, "summary.html"), encoding="utf-8").read()
    embedded = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", md)
    on_disk = sorted(f for f in os.listdir(report) if f.endswith(".png"))
    assert sorted(embedded) == on_disk
    for name in ("importance.png", "entropy.png", "importance_vs_entropy.png", "clark_stats.png",
                 "masking_curve.png", "masking_steps.png", "ablation_score_change.png",
                 "ablation_score_only_head.png", "attention_ex0_all.png"):
        assert name in embedded
    assert any(re.fullmatch(r"attention_ex\d+_L\dH\d\.png", f) for f in embedded), "a token-labelled attention map"
    assert "not shown" not in md, "no section skipped with all three runs"
    assert 'href="index.html"' in html, "the static page links the interactive one"
    for name in embedded:
        path = os.path.join(report, name)
        with open(path, "rb") as f:
            assert f.read(8) == PNG, name
        img = matplotlib.image.imread(path)
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100 and img.shape[2] in (3, 4) \
            and float(img[..., :3].std()) > 0.01, "%s reads back as a non-blank image %s" % (name, img.shape)
        assert 'src="%s"' % name in html

# ---- Clark statistics by direct computation on the stored attention ----------------------

def is_punct(tok):
    bare = tok[2:] if tok.startswith("##") and len(tok) > 2 else tok
    return bool(bare) and all(c in string.punctuation or unicodedata.category(c)[0] == "P" for c in bare)


def direct(vocab, path, weighting="tokens", punct=is_punct):
    """Notebook-style selectors [T, T] for every statistic, summed with attention."""
    with h5py.File(path, "r") as f:
        H = int(f.attrs["n_heads"])
        layers = list(f["attentions"].attrs["layers"])
        n = int(f.attrs["n_examples"])
        tot = {k: np.zeros((len(layers), H)) for k in STATS}
        ntok = 0
        for i in range(n):
            T = int(f["examples/length"][i])
            o = int(f["examples/token_offset"][i])
            toks = [vocab[t] for t in f["examples/token_ids"][o:o + T]]
            o = int(f["attentions/offset"][i])
            a = f["attentions/data"][o:o + len(layers) * H * T * T].astype(np.float64)
            a = a.reshape(len(layers), H, T, T)
            key = lambda m: np.tile(np.array(m, float)[None], (T, 1))  # noqa: E731
            pos = np.arange(T)
            sel = {"cls": key([t == "[CLS]" for t in toks]),
                   "sep": key([t == "[SEP]" for t in toks]),
                   "punct": key([punct(t) for t in toks]),
                   "self": np.eye(T), "next": np.eye(T, T, 1), "prev": np.eye(T, T, -1),
                   "distance": np.abs(pos[:, None] - pos[None, :]).astype(float)}
            for k in STATS:
                s = (a * sel[k]).sum(-1).sum(-1)
                tot[k] += s if weighting == "tokens" else s / T
            ntok += T
    return {k: v / (ntok if weighting == "tokens" else n) for k, v in tot.items()}


@pytest.fixture(scope="module")
def vocab(runs):
    return open(os.path.join(runs["work"], "model/vocab.txt"), encoding="utf-8").read().split("\n")


def test_clark_direct(runs, vocab):
    work, imp_h5 = runs["work"], runs["imp"]
    want = direct(vocab, imp_h5)
    with open(os.path.join(runs["report"], "head_stats.csv")) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8, "head_stats.csv has 2 x 4 rows"
    imp_npy = np.load(os.path.join(work, "imp/head_importance.npy"))
    ent_npy = np.load(os.path.join(work, "imp/attn_entropy.npy"))
    for r in rows:
        l, h = int(r["layer"]) - 1, int(r["head"]) - 1
        for k in STATS:
            assert np.isclose(float(r[k]), want[k][l, h], rtol=1e-5, atol=1e-9), \
                "csv %s layer %d head %d: %s vs direct %.8g" % (k, l + 1, h + 1, r[k], want[k][l, h])
        assert np.isclose(float(r["importance"]), imp_npy[l, h], rtol=1e-5, atol=1e-7)
        assert np.isclose(float(r["entropy"]), ent_npy[l, h], rtol=1e-5, atol=1e-7)
    with load_run(imp_h5) as r:
        got = clark_stats(r)
        got_ex = clark_stats(r, weighting="examples", punct="clark")
    want_ex = direct(vocab, imp_h5, "examples", lambda t: t in (".", ","))
    for k in STATS:
        np.testing.assert_allclose(got[k], want[k], rtol=0, atol=1e-12, err_msg="clark_stats %s = direct" % k)
        np.testing.assert_allclose(got_ex[k], want_ex[k], rtol=0, atol=1e-12,
                                   err_msg="clark_stats %s (examples, clark punct) = direct" % k)
    assert float(np.nanmax(want["cls"])) > 0 and float(np.nanmax(want["punct"])) > 0, \
        "the SST-2 sentences have [CLS] and punctuation attention to measure"


def test_stored_maps(runs):
    """The stored maps are what the run measured."""
    imp_h5 = runs["imp"]
    with load_run(imp_h5) as r, h5py.File(imp_h5, "r") as f:
        ent = f["examples/entropy"][()]
        worst_row = worst_ent = 0.0
        for i in range(r.n_examples):
            a = r.attention(i).astype(np.float64)
            T = a.shape[-1]
            worst_row = max(worst_row, float(np.abs(a.sum(-1) - 1).max()))
            e = -(a * np.log(np.where(a > 0, a, 1))).sum((-2, -1))
            worst_ent = max(worst_ent, float(np.abs(e - ent[i]).max() / T))
    assert worst_row < 2e-3, "float16 attention rows sum to 1 (worst %.2g)" % worst_row
    assert worst_ent < 2e-3, "entropy of stored maps = /examples/entropy (worst %.2g per token)" % worst_ent


def test_only_layer_2(runs, vocab):
    """Only layer 2 saved: layer 1 empty in the statistics, maps drawn for layer 2."""
    work = runs["work"]
    report2 = os.path.join(work, "report_l2")
    run([sys.executable, os.path.join(SOURCE, "analysis/report.py"), "imp_l2/run.h5",
         "--out", report2, "--heads", "2:1,1:1", "--examples", "3", "--quiet"], cwd=work)
    with open(os.path.join(report2, "head_stats.csv")) as f:
        rows = list(csv.DictReader(f))
    want2 = direct(vocab, os.path.join(work, "imp_l2/run.h5"))
    for r in rows:
        l, h = int(r["layer"]) - 1, int(r["head"]) - 1
        if l == 0:
            assert all(r[k] == "" for k in STATS), "layer 1 not saved: empty cells, got %s" % r
        else:
            assert all(np.isclose(float(r[k]), want2[k][0, h], rtol=1e-5, atol=1e-9) for k in STATS), \
                "layer 2 head %d statistics = direct (float32 run)" % (h + 1)
    pngs = sorted(f for f in os.listdir(report2) if f.endswith(".png"))
    assert "attention_ex3_L2H1.png" in pngs and "attention_ex3_L1H1.png" not in pngs, pngs
    assert "layer 1 not saved" in open(os.path.join(report2, "summary.md")).read()
    page = page_data(os.path.join(report2, "index.html"))
    ex = page["examples"]
    assert ex["layers"] == [1] and ex["default"] == 3, "the page has layer 2 only, example 3 first"


def page_data(path):
    html = open(path, encoding="utf-8").read()
    m = re.search(r'<script type="application/json" id="bt-data">(.*?)</script>', html, re.S)
    assert m, "%s: no data element" % path
    return json.loads(m.group(1))


def test_page_data(runs, vocab):
    """index.html's data, read with json/zlib/numpy here: every example listed with its tokens,
    label, prediction and loss from run.h5; the embedded maps equal run.h5's to 8 bits."""
    doc = page_data(os.path.join(runs["report"], "index.html"))
    assert {"heads", "clark", "masking", "ablation"} <= {s["id"] for s in doc["sections"]}
    assert doc["L"] == 2 and doc["H"] == 4
    with h5py.File(runs["imp"], "r") as f:
        n = int(f.attrs["n_examples"])
        lens, toff, ids = f["examples/length"][()], f["examples/token_offset"][()], f["examples/token_ids"][()]
        labels, logits, loss = f["examples/label"][()], f["examples/logits"][()], f["examples/loss"][()]
        aoff, data = f["attentions/offset"][()], f["attentions/data"]
        ex = doc["examples"]
        assert len(ex["rows"]) == n and len(ex["maps"]) == n, "24 small examples: every one embedded"
        for i in range(n):
            T = int(lens[i])
            row = ex["rows"][i]
            assert row[:5] == [i, T, int(labels[i]), int(np.argmax(logits[i])), pytest.approx(float(loss[i]))]
            assert [ex["tokens"][j] for j in ex["ids"][i]] == [vocab[t] for t in ids[toff[i]:toff[i] + T]]
            rec = ex["maps"][str(i)]
            got = np.frombuffer(zlib.decompress(base64.b64decode(rec["z"])), np.uint8).reshape(2, 4, T, T)
            a = data[aoff[i]:aoff[i] + 2 * 4 * T * T].astype(np.float64).reshape(2, 4, T, T)
            assert rec["enc"] == "dense" and np.abs(got / 255.0 - a).max() <= 0.5 / 255 + 1e-9
    np.testing.assert_allclose(np.array(doc["head_values"]["importance"]["values"], float),
                               np.load(os.path.join(runs["work"], "imp/head_importance.npy")), rtol=1e-6)
