"""index.html's data without a browser (bertology_analysis.page), on hand-built run files.

Checked against independent code here (zlib, base64, numpy sorting): the 8-bit encoding of
whole rows and of the top k of each row; the page budget (a prefix of the rows asked for first,
then data order; the page never above it); every section appears exactly when a run holds its
data, the CAT-scores one from a /cat group as bertology cat writes it; text from the files cannot end
the data element early.
"""
import base64
import json
import os
import re
import zlib

import numpy as np
import pytest

import fake_run
from bertology_analysis import load_run
from bertology_analysis.page import build_page, decode_attention, encode_attention

L, H = 2, 3


def maps_for(examples, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.dirichlet(np.ones(len(e)) * 0.5, size=(L, H, len(e))) for e in examples]


def sentences(n, seed=1):
    rng = np.random.default_rng(seed)
    words = [w for w in fake_run.VOCAB if not w.startswith("[")]
    return [[fake_run.ID["[CLS]"]] + [fake_run.ID[w] for w in rng.choice(words, rng.integers(3, 14))]
            + [fake_run.ID["[SEP]"]] for _ in range(n)]


def data_of(page):
    m = re.search(r'<script type="application/json" id="bt-data">(.*?)</script>', page, re.S)
    assert m
    return json.loads(m.group(1))


@pytest.fixture(scope="module")
def model(work):
    return fake_run.write_vocab(os.path.join(work, "model"))


@pytest.mark.parametrize("L,H", [(2, 3), (3, 8)])  # 6 maps; 24, more than the encoder takes per step
def test_dense_encoding(L, H):
    a = np.random.default_rng(2).dirichlet(np.ones(9), size=(L, H, 9))
    rec = encode_attention(a)
    assert rec["enc"] == "dense" and rec["T"] == 9
    raw = np.frombuffer(zlib.decompress(base64.b64decode(rec["z"])), np.uint8)
    assert raw.size == L * H * 81
    np.testing.assert_array_equal(raw.reshape(L, H, 9, 9), np.floor(a * 255 + 0.5))
    np.testing.assert_allclose(decode_attention(rec, L * H).reshape(a.shape), a, atol=0.5 / 255 + 1e-12)


@pytest.mark.parametrize("L,H", [(2, 3), (3, 8)])
def test_top_k_encoding(L, H):
    rng = np.random.default_rng(3)
    T, k = 20, 4
    a = rng.dirichlet(np.ones(T) * 0.3, size=(L, H, T))
    a[0, 0, 0, :] = 1.0 / T                             # a row of ties: the lowest keys are kept
    rec = encode_attention(a, top_k=k)
    assert rec["enc"] == "topk" and rec["k"] == k and rec["ib"] == 2
    raw = zlib.decompress(base64.b64decode(rec["z"]))
    n = L * H * T * k
    idx = np.frombuffer(raw[:2 * n], "<u2").reshape(L, H, T, k)
    val = np.frombuffer(raw[2 * n:], np.uint8).reshape(L, H, T, k)
    byte = np.floor(a * 255 + 0.5).astype(int)
    for l in range(L):
        for h in range(H):
            for t in range(T):
                # the k largest stored values, ties to the lower key
                want = sorted(range(T), key=lambda s: (-byte[l, h, t, s], s))[:k]
                assert list(idx[l, h, t]) == want
                assert list(val[l, h, t]) == [byte[l, h, t, s] for s in want]
    assert list(idx[0, 0, 0]) == [0, 1, 2, 3]
    kept = np.mean([[[a[l, h, t, list(idx[l, h, t])].sum() for t in range(T)] for h in range(H)] for l in range(L)])
    assert rec["mass"] == pytest.approx(kept) and rec["mass"] > 0.5
    dec = decode_attention(rec, L * H).reshape(L, H, T, T)
    assert (dec > 0).sum(-1).max() <= k
    # rows no longer than 3 k are stored whole: the indices would cost more than they save
    assert encode_attention(a[..., :12, :12], top_k=k)["enc"] == "dense"


def test_budget_and_order(work, model):
    ex = sentences(30)
    path = fake_run.write_run(os.path.join(work, "budget.h5"), ex, maps_for(ex), L, H, model_dir=model)
    with load_run(path) as r:
        full, info = build_page([r], "t", examples=[7, 3], page_bytes=0, log=lambda *_: None)
        assert info["embedded"] == 30
        sizes = {int(k): len(v["z"]) for k, v in data_of(full)["examples"]["maps"].items()}
        budget = len(full.encode()) - sum(sizes.values()) + sizes[7] + sizes[3] + sizes[0] + 200
        page, info = build_page([r], "t", examples=[7, 3], page_bytes=budget, log=lambda *_: None)
    assert len(page.encode()) <= budget
    doc = data_of(page)
    rows = [int(x) for x in doc["examples"]["maps"]]
    order = [7, 3] + [r for r in range(30) if r not in (7, 3)]
    assert rows == order[:len(rows)] and 3 <= len(rows) < 30, rows
    assert budget - len(page.encode()) < sizes[order[len(rows)]] + 100, "the next map would not have fitted"
    assert info["embedded"] == len(rows)
    assert any("of 30 examples embedded" in n for n in doc["notes"])
    assert len(doc["examples"]["rows"]) == 30, "every example is listed, with or without maps"
    assert doc["examples"]["default"] == 7


def section_ids(page):
    return [s["id"] for s in data_of(page)["sections"]]


def test_sections_follow_the_data(work, model):
    ex = sentences(3)
    m = maps_for(ex)
    plain = fake_run.write_run(os.path.join(work, "plain.h5"), ex, m, L, H, model_dir=model)
    cat = np.arange(L * H, dtype=np.float32).reshape(L, H) / 10
    # bertology cat's layout (docs/run_h5.md): rows per group, "all" last; go has no example
    py_heads = cat[::-1].copy()
    cat_groups = {"/cat/head_score": np.stack([py_heads, np.zeros((L, H)), cat]).astype(np.float64),
                  "/cat/layer_score": np.stack([py_heads.mean(1), np.zeros(L), cat.mean(1)]),
                  "/cat/examples": np.array([4, 0, 4], np.int64), "/cat@groups": ["python", "go", "all"],
                  "/cat@graph": "u-ast"}
    with_cat = fake_run.write_run(os.path.join(work, "cat.h5"), ex, m, L, H, model_dir=model, groups=cat_groups)
    bad_cat = fake_run.write_run(os.path.join(work, "badcat.h5"), ex, m, L, H, model_dir=model, groups=dict(
        cat_groups, **{"/cat/head_score": np.zeros((3, L + 1, H))}))
    R = 3
    acc = np.random.default_rng(5).random((R, L, H, 2)).astype(np.float32)
    syntax = fake_run.write_run(os.path.join(work, "syntax.h5"), ex, m, L, H, model_dir=model, groups={
        "/syntax/correct": np.rint(acc * 100).astype(np.int64), "/syntax/total": np.full((R, L, H, 2), 100, np.int64),
        "/syntax/accuracy": acc, "/syntax/arcs": np.array([100, 200, 300], np.int64),
        "/syntax/baseline_accuracy": np.array([.1, .2, .3], np.float32),
        "/syntax/baseline_offset": np.array([1, -1, 1], np.int32), "/syntax/skipped": np.zeros(2, np.int64),
        "/syntax@relations": ["nsubj", "obj", "all"], "/syntax@directions": ["dep->head", "head->dep"]})
    probes = {"run": "x/run.h5", "layers": [0, 1, 2], "tasks": {"upos": {
        "accuracy": [.3, .6, .7], "mix_accuracy": [.3, .65, .72], "majority": .2, "n_classes": 17,
        "expected_layer": 1.2}}}
    quiet = dict(log=lambda *_: None)
    with load_run(plain) as r:
        page, info = build_page([r], "t", **quiet)
    assert section_ids(page) == ["heads"]
    assert any("CAT-scores: no /cat in any run" in s for s in info["skipped"])
    with load_run(plain) as r, load_run(with_cat) as c:
        page, info = build_page([r, c], "t", **quiet)
    doc = data_of(page)
    assert "cat" in section_ids(page)
    np.testing.assert_allclose(doc["head_values"]["cat"]["values"], cat, rtol=1e-6)
    sec = next(x for x in doc["sections"] if x["id"] == "cat")
    curve = next(b for b in sec["blocks"] if b["kind"] == "curve")
    # one curve per language with examples, and the pooled one: go (no example) is left out
    assert [c["name"] for c in curve["series"]] == ["python", "all"]
    np.testing.assert_allclose(curve["series"][0]["y"], py_heads.mean(1), rtol=1e-6)
    np.testing.assert_allclose(curve["series"][1]["y"], cat.mean(1), rtol=1e-6)
    with load_run(bad_cat) as c:
        page, info = build_page([c], "t", **quiet)
    assert "cat" not in section_ids(page) and any("/cat/head_score has [L, H] = (3, 3)" in s for s in info["skipped"])
    with load_run(syntax) as s:
        page, info = build_page([s], "t", probes=probes, min_arcs=150, **quiet)
    doc = data_of(page)
    assert {"syntax", "probes"} <= set(section_ids(page))
    sec = next(x for x in doc["sections"] if x["id"] == "syntax")
    table = next(b for b in sec["blocks"] if b["kind"] == "table")
    assert [r[0] for r in table["rows"]] == ["all", "obj"], "relations with >= 150 arcs, most frequent first"
    b = int(np.argmax(np.rint(acc[1] * 100).reshape(-1)))          # obj's best (layer, head, direction)
    assert table["rows"][1][2] == "%d-%d" % (b // (2 * H) + 1, b // 2 % H + 1)
    np.testing.assert_allclose(doc["head_values"]["syntax_best"]["values"], np.nanmax(acc[[1]], axis=(0, 3)),
                               rtol=1e-6)
    curve = next(x for x in doc["sections"] if x["id"] == "probes")["blocks"][0]
    assert curve["series"][0]["y"] == [.3, .6, .7] and curve["hline"]["y"] == .2


def test_text_cannot_break_the_page(work):
    nasty = "<!--<script></script><script>window.pwned=1</script>"
    model = os.path.join(work, "nasty_model")
    os.makedirs(model, exist_ok=True)
    with open(os.path.join(model, "vocab.txt"), "w") as f:
        f.write("\n".join(fake_run.VOCAB + [nasty]) + "\n")
    ex = [[fake_run.ID["[CLS]"], len(fake_run.VOCAB), fake_run.ID["[SEP]"]]]
    path = fake_run.write_run(os.path.join(work, "nasty.h5"), ex, maps_for(ex), L, H, model_dir=model)
    with load_run(path) as r:
        page, _ = build_page([r], "a <b> & </title>", log=lambda *_: None)
    assert page.count("</script>") == 2, "only the data and code elements end"
    data = re.search(r'id="bt-data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in data
    assert "<title>a &lt;b&gt; &amp; &lt;/title&gt;</title>" in page
    doc = data_of(page)
    assert nasty in doc["examples"]["tokens"]


def test_masking_curves_side_by_side(work, model):
    """Three mask runs, ranked by the gate importance, by the attention attribution (mask
    --method attattr) and by --scores: one curve each, named by what ranked the heads; a single
    run keeps its one curve named by the metric."""
    ex = sentences(3)
    m = maps_for(ex)
    runs = {}
    for name, method, pct, score in (("gate", None, [0, 25, 50], [.9, .88, .7]),
                                     ("attattr", "attattr", [0, 25, 50], [.9, .9, .8]),
                                     ("attr", "/data/attr_scores.npy", [0, 25, 50, 75], [.9, .89, .85, .6])):
        groups = {"/masking/score": np.array(score), "/masking/percent_masked": np.array(pct, np.float64)}
        if method == "attattr":
            groups.update({"/masking@method": ["attattr"], "/masking@scores_file": [""]})
        elif method:
            groups.update({"/masking@method": ["scores"], "/masking@scores_file": [method]})
        runs[name] = fake_run.write_run(os.path.join(work, "mask_%s.h5" % name), ex, m, L, H, model_dir=model,
                                        groups=groups)
    quiet = dict(log=lambda *_: None)
    with load_run(runs["gate"]) as g, load_run(runs["attattr"]) as t, load_run(runs["attr"]) as a:
        doc = data_of(build_page([g, t, a], "t", **quiet)[0])
    sec = next(x for x in doc["sections"] if x["id"] == "masking")
    curve = next(b for b in sec["blocks"] if b["kind"] == "curve")
    names = [s["name"] for s in curve["series"]]
    assert len(names) == 3 and names[0].startswith("gate importance") and names[1].startswith(
        "attention attribution") and names[2].startswith("scores: attr_scores.npy"), names
    np.testing.assert_allclose(curve["series"][1]["y"], [.9, .9, .8])
    np.testing.assert_allclose(curve["series"][2]["x"], [0, 25, 50, 75])
    np.testing.assert_allclose(curve["series"][2]["y"], [.9, .89, .85, .6])
    with load_run(runs["attr"]) as a:
        doc = data_of(build_page([a], "t", **quiet)[0])
    sec = next(x for x in doc["sections"] if x["id"] == "masking")
    assert len(next(b for b in sec["blocks"] if b["kind"] == "curve")["series"]) == 1
