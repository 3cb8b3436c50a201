"""index.html in headless Chromium on hand-built runs: every section at once (masking, ablation,
syntax, probes and CAT-scores from a /cat group), and bert-large sizes (24 layers x 16 heads) at
512 tokens with the top 16 of each row embedded.

Checked: no console error or request; a token made to end the page's data element early is
shown as text; each section is drawn; the CAT grid shows each head's
score in its colour; a head in the syntax table selects that head; at 24 x 16 x 512 the model
view draws all 384 maps and the head view with every head draws at most 16 x 512 x 8 lines (its
default top-8 per row beyond 64 tokens). Load and drawing times are printed.
"""
import os

import numpy as np
import pytest

import fake_run
import pagecheck as pc
from bertology_analysis import load_run
from bertology_analysis.page import write_page


NASTY = "<!--<script></script><script>window.pwned=1</script>"


def sentence(rng, n):
    words = [w for w in fake_run.VOCAB if not w.startswith("[")]
    return [fake_run.ID["[CLS]"]] + [fake_run.ID[w] for w in rng.choice(words, n - 2)] + [fake_run.ID["[SEP]"]]


@pytest.fixture(scope="module")
def all_sections(work):
    rng = np.random.default_rng(0)
    L, H = 3, 4
    model = os.path.join(work, "model")
    os.makedirs(model, exist_ok=True)
    with open(os.path.join(model, "vocab.txt"), "w") as f:  # a token that tries to end the data element
        f.write("\n".join(fake_run.VOCAB + [NASTY]) + "\n")
    ex = [sentence(rng, n) for n in (9, 14, 6)]
    ex[0][2] = len(fake_run.VOCAB)
    maps = [rng.dirichlet(np.ones(len(e)) * 0.4, size=(L, H, len(e))) for e in ex]
    R = 2
    acc = rng.random((R, L, H, 2)).astype(np.float32)
    cat = rng.random((L, H)).astype(np.float32)
    groups = {"/masking/score": np.array([.9, .85, .6]), "/masking/heads_remaining": np.array([12, 10, 8]),
              "/masking/final_step": np.int64(1), "/masking/threshold_score": .8,
              "/ablation/score_change": rng.normal(size=(L, H)) / 10, "/ablation/base_score": .9,
              "/syntax/correct": np.rint(acc * 500).astype(np.int64), "/syntax/total": np.full((R, L, H, 2), 500),
              "/syntax/accuracy": acc, "/syntax/arcs": np.array([500, 500], np.int64),
              "/syntax/baseline_accuracy": np.array([.1, .2], np.float32),
              "/syntax/baseline_offset": np.array([1, -1], np.int32), "/syntax/skipped": np.zeros(2, np.int64),
              "/syntax@relations": ["nsubj", "all"], "/syntax@directions": ["dep->head", "head->dep"],
              # bertology cat's layout (docs/run_h5.md): one row per group, the pooled "all" last
              "/cat/head_score": np.stack([cat[::-1], cat]).astype(np.float64),
              "/cat/layer_score": np.stack([cat[::-1].mean(1), cat.mean(1)]).astype(np.float64),
              "/cat/examples": np.array([5, 5], np.int64), "/cat@groups": ["java", "all"], "/cat@graph": "u-ast"}
    path = fake_run.write_run(os.path.join(work, "all.h5"), ex, maps, L, H, model_dir=model, groups=groups)
    probes = {"run": path, "layers": [0, 1, 2, 3], "tasks": {
        t: {"accuracy": [.2, .5, .6, .55], "mix_accuracy": [.2, .55, .65, .66], "majority": .15, "n_classes": 9,
            "expected_layer": 1.4} for t in ("upos", "relation")}}
    page = os.path.join(work, "all", "index.html")
    os.makedirs(os.path.dirname(page), exist_ok=True)
    with load_run(path) as r:
        write_page(page, [r], "every section", probes=probes, log=lambda *_: None)
    return {"page": page, "cat": cat, "L": L, "H": H}


def test_every_section(chrome, all_sections):
    figures = pc.load(chrome, all_sections["page"])
    assert pc.console_messages(chrome) == []
    assert set(pc.requests(chrome)) == {"file://" + all_sections["page"]}
    ids = chrome.execute_script("return [...document.querySelectorAll('section')].map(s => s.id)")
    assert ids == ["heads", "attention", "masking", "ablation", "syntax", "probes", "cat"], ids
    assert chrome.execute_script("return window.pwned === undefined && btReport.state.row") == 0
    shown = chrome.execute_script("return [...document.querySelectorAll('#ex-tokens span')].map(e => e.textContent)")
    assert shown[2] == NASTY, "text from the files is shown as text"
    assert chrome.execute_script("return document.querySelectorAll('#probes polyline').length") == 4
    canvas = chrome.find_element(pc.By.CSS_SELECTOR, 'canvas[data-key="cat"]')
    g = pc.geom(canvas)
    img = pc.element_image(chrome, canvas)
    cat = all_sections["cat"].astype(np.float64)
    for l in range(g["L"]):
        for h in range(g["H"]):
            got = np.round(img[int(g["y0"] + l * g["cell"] + 3), int(g["x0"] + h * g["cell"] + 3)] * 255)
            assert np.abs(got - pc.colour_of(cat[l, h], cat.min(), cat.max())).max() <= 3, (l, h)
    cell = chrome.find_element(pc.By.CSS_SELECTOR, "#syntax td.headcell")
    l, h = (int(x) - 1 for x in cell.text.split("-"))
    cell.click()
    assert chrome.execute_script("return [btReport.state.layer, btReport.state.head]") == [l, h]
    print("\nall sections: first paint %.0f ms, ready %.0f ms" % (figures["first_paint_ms"], figures["ready_ms"]))


@pytest.fixture(scope="module")
def large(work):
    """24 x 16 heads, examples of 512 and 100 tokens; each row's attention on a few keys plus a
    little everywhere (as trained heads look), float16 as bertology stores it by default."""
    rng = np.random.default_rng(1)
    L, H = 24, 16
    model = fake_run.write_vocab(os.path.join(work, "model_large"))
    ex = [sentence(rng, n) for n in (512, 100)]
    maps = []
    for e in ex:
        T = len(e)
        a = np.full((L, H, T, T), 0.05 / T, np.float32)
        keys = rng.integers(0, T, size=(L, H, T, 3))
        np.put_along_axis(a, keys, 0.95 / 3, axis=-1)
        a /= a.sum(-1, keepdims=True)
        maps.append(a.astype(np.float16))
    path = fake_run.write_run(os.path.join(work, "large.h5"), ex, maps, L, H, model_dir=model, dtype=np.float16)
    del maps
    page = os.path.join(work, "large", "index.html")
    os.makedirs(os.path.dirname(page), exist_ok=True)
    with load_run(path) as r:
        info = write_page(page, [r], "bert-large sized", top_k=16, page_bytes=0, log=lambda *_: None)
    print("\nlarge page: %.1f MB for %d examples (top 16 of each row)" % (info["bytes"] / 1e6, info["embedded"]))
    return {"page": page, "L": L, "H": H}


def test_bert_large_at_512_tokens(chrome, large):
    figures = pc.load(chrome, large["page"])
    assert pc.console_messages(chrome) == []
    assert chrome.execute_script("return btReport.state.attn.T") == 512
    canvas = pc.by_id(chrome, "model-view")
    g = pc.geom(canvas)
    assert len(g["layers"]) == large["L"] and g["H"] == large["H"]
    img = pc.canvas_image(chrome, canvas)
    step = g["size"] + g["gap"]
    blank = [(k, h) for k in range(len(g["layers"])) for h in range(g["H"])
             if img[g["y0"] + k * step:g["y0"] + k * step + g["size"], g["x0"] + h * step:g["x0"] + h * step + g["size"]].std()
             < 0.01]
    assert not blank, "blank maps in the model view: %s" % blank[:5]
    ms = chrome.execute_async_script(
        "const cb = arguments[arguments.length - 1]; const t0 = performance.now();"
        "[...document.querySelectorAll('#head-view-panel button')].find(b => b.textContent === 'all heads').click();"
        "requestAnimationFrame(() => cb(performance.now() - t0));")
    lines = int(pc.by_id(chrome, "head-view").get_attribute("data-lines"))
    assert 0 < lines <= 16 * 512 * 8
    t0 = chrome.execute_script("return performance.now()")
    chrome.execute_script("btReport.selectHead(20, 7)")
    select_ms = chrome.execute_script("return performance.now()") - t0
    print("\nbert-large page: first paint %.0f ms, first example drawn %.0f ms; head view with 16 heads (%d lines) "
          "%.0f ms; selecting a head (head view, map, model view) %.0f ms"
          % (figures["first_paint_ms"], figures["ready_ms"], lines, ms, select_ms))
