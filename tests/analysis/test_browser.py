"""The demo's interactive page (index.html) in a real browser: Debian's chromium, headless, driven
by python3-selenium through chromium-driver.

The page is made as jobs/demo.sh makes it: bertology importance on the bundled demo model over
the whole SST-2 dev set with every attention map saved (the demo's run), plus mask and ablate
runs on the first examples (the demo's full masking search takes a minute), then
analysis/report.py. Checked: the page stays within the 5 MB budget; it loads from file:// with
no console error or warning and no request besides itself; the importance grid shows every
head's value in the viridis colour of its value (read from run.h5, colours from matplotlib);
the model view draws all L x H maps; clicking a head selects it and redraws the head view;
hovering a token leaves only that token's lines; picking another example shows its tokens
(decoded here from run.h5 and the model's vocab.txt); PNG and SVG exports are written, the SVG's
cells equal run.h5's attention of that head to 8 bits; a full-page screenshot has the expected
regions. The load figures (first paint, ready) are printed, not asserted (the machine is shared).
"""
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pytest

import pagecheck as pc
from bttest import DEMO_MODEL, DEMO_SST2, SOURCE, bertology, run

BUDGET = 5_000_000


@pytest.fixture(scope="module")
def demo(work):
    model = DEMO_MODEL
    common = ["--model", model, "--task", "sst-2", "--data", DEMO_SST2, "--threads", "1", "--quiet"]
    bertology(["importance", *common, "--out", "importance", "--save-attentions"], cwd=work, timeout=900)
    bertology(["mask", *common, "--subset", "96", "--out", "mask"], cwd=work, timeout=900)
    bertology(["ablate", *common, "--subset", "48", "--out", "ablate"], cwd=work, timeout=900)
    out = os.path.join(work, "report")
    print(run([sys.executable, os.path.join(SOURCE, "analysis/report.py"), "importance/run.h5", "mask/run.h5",
               "ablate/run.h5", "--out", out], cwd=work, timeout=900).stdout)
    page = os.path.join(out, "index.html")
    vocab = open(os.path.join(model, "vocab.txt"), encoding="utf-8").read().split("\n")
    return {"page": page, "run": os.path.join(work, "importance/run.h5"), "vocab": vocab, "work": work}


@pytest.fixture(scope="module")
def loaded(chrome, demo):
    figures = pc.load(chrome, demo["page"])
    print("\ndemo page: %.2f MB, first contentful paint %.0f ms, first example drawn %.0f ms after navigation"
          % (os.path.getsize(demo["page"]) / 1e6, figures["first_paint_ms"], figures["ready_ms"]))
    return figures


def tokens_of(demo, row):
    with h5py.File(demo["run"], "r") as f:
        T, o = int(f["examples/length"][row]), int(f["examples/token_offset"][row])
        return [demo["vocab"][t] for t in f["examples/token_ids"][o:o + T]]


def attention_of(demo, row):
    with h5py.File(demo["run"], "r") as f:
        T, o = int(f["examples/length"][row]), int(f["attentions/offset"][row])
        Ls, H = len(f["attentions"].attrs["layers"]), int(f.attrs["n_heads"])
        return f["attentions/data"][o:o + Ls * H * T * T].astype(np.float64).reshape(Ls, H, T, T)


def test_budget(demo):
    size = os.path.getsize(demo["page"])
    assert size <= BUDGET, "index.html is %d bytes, above the 5 MB budget" % size
    html = open(demo["page"], encoding="utf-8").read()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "a reference to another host"
    assert "<script src" not in html and "<link rel=\"stylesheet\"" not in html, "everything is inlined"


def test_no_errors_no_requests(chrome, demo, loaded):
    assert pc.console_messages(chrome) == []
    urls = pc.requests(chrome)
    page_url = "file://" + demo["page"]
    assert urls and all(u == page_url for u in urls), "requests besides the page itself: %s" % [
        u for u in urls if u != page_url]


def test_importance_cells(chrome, demo, loaded):
    """Every one of the L x H cells shows its head's importance in its viridis colour."""
    with h5py.File(demo["run"], "r") as f:
        imp = f["importance/normalized"][()].astype(np.float64)
    L, H = imp.shape
    canvas = chrome.find_element(pc.By.CSS_SELECTOR, 'canvas[data-key="importance"]')
    g = pc.geom(canvas)
    assert (g["L"], g["H"]) == (L, H)
    img = pc.element_image(chrome, canvas)
    lo, hi = imp.min(), imp.max()
    for l in range(L):
        for h in range(H):
            # a point off the centre: the centre may carry the printed value
            y = int(g["y0"] + l * g["cell"] + 3)
            x = int(g["x0"] + h * g["cell"] + 3)
            got = np.round(img[y, x] * 255).astype(int)
            want = pc.colour_of(imp[l, h], lo, hi)
            assert np.abs(got - want).max() <= 3, "cell layer %d head %d: %s, want %s" % (l + 1, h + 1, got, want)


def test_model_view_cells(chrome, demo, loaded):
    """The model view draws one map per saved layer and head, each with some structure."""
    canvas = pc.by_id(chrome, "model-view")
    g = pc.geom(canvas)
    with h5py.File(demo["run"], "r") as f:
        assert g["layers"] == [int(x) for x in f["attentions"].attrs["layers"]] and g["H"] == int(f.attrs["n_heads"])
    img = pc.canvas_image(chrome, canvas)
    for k in range(len(g["layers"])):
        for h in range(g["H"]):
            x, y = g["x0"] + h * (g["size"] + g["gap"]), g["y0"] + k * (g["size"] + g["gap"])
            tile = img[y + 2:y + g["size"] - 2, x + 2:x + g["size"] - 2]
            assert tile.std() > 0.005 and tile.min() < 0.95, "model view: map of layer %d head %d is blank" % (
                g["layers"][k] + 1, h + 1)


def test_click_head_changes_head_view(chrome, loaded):
    st = chrome.execute_script("return [btReport.state.layer, btReport.state.head]")
    hv = pc.by_id(chrome, "head-view")
    before = chrome.execute_script("return arguments[0].toDataURL()", hv)
    canvas = chrome.find_element(pc.By.CSS_SELECTOR, 'canvas[data-key="importance"]')
    g = pc.geom(canvas)
    l, h = (st[0] + 1) % g["L"], (st[1] + 3) % g["H"]
    pc.click_at(chrome, canvas, g["x0"] + (h + .5) * g["cell"], g["y0"] + (l + .5) * g["cell"])
    assert chrome.execute_script("return [btReport.state.layer, btReport.state.head]") == [l, h]
    assert pc.by_id(chrome, "hv-layer").get_attribute("value") == str(l)
    after = chrome.execute_script("return arguments[0].toDataURL()", hv)
    assert after != before, "the head view did not change"
    assert "layer %d, head %d" % (l + 1, h + 1) in pc.by_id(chrome, "head-map-title").text
    assert "layer %d, head %d" % (l + 1, h + 1) in pc.by_id(chrome, "head-card").text


def test_hover_token_shows_its_lines(chrome, demo, loaded):
    chrome.execute_script("btReport.selectHead(btReport.state.layer, btReport.state.head)")  # that head only
    hv = pc.by_id(chrome, "head-view")
    all_lines = int(hv.get_attribute("data-lines"))
    g = pc.geom(hv)
    t = 1
    chrome.execute_script("arguments[0].scrollIntoView({block: 'center'})", hv)
    pc.hover_at(chrome, hv, g["xl"] - 10, g["pad"] + (t + .5) * g["rh"])
    one = int(pc.wait_for(lambda: hv.get_attribute("data-lines") != str(all_lines) and hv.get_attribute("data-lines"),
                          "the hover to redraw"))
    row, l, h = chrome.execute_script("return [btReport.state.row, btReport.state.layer, btReport.state.head]")
    a = attention_of(demo, row)[l, h, t]        # every layer saved in the demo
    assert 0 < one == int((np.rint(a * 255) >= 1).sum()) < all_lines
    pc.hover_at(chrome, pc.by_id(chrome, "head-map-title"), 2, 2)
    pc.wait_for(lambda: hv.get_attribute("data-lines") == str(all_lines), "the lines to come back")


def shown_tokens(chrome):
    return chrome.execute_script("return [...document.querySelectorAll('#ex-tokens span')].map(e => e.textContent)")


def test_switch_example_changes_tokens(chrome, demo, loaded):
    row0 = chrome.execute_script("return btReport.state.row")
    shown0 = shown_tokens(chrome)
    assert shown0 == tokens_of(demo, row0)
    doc_maps = chrome.execute_script("return Object.keys(btReport.data.examples.maps).map(Number)")
    row = next(r for r in doc_maps if r != row0 and tokens_of(demo, r) != shown0 and len(tokens_of(demo, r)) > 8)
    word = max(tokens_of(demo, row)[1:-1], key=len)
    search = pc.by_id(chrome, "picker-search")
    search.clear()
    search.send_keys(word)
    item = pc.wait_for(lambda: chrome.find_elements(pc.By.CSS_SELECTOR, '#picker-list .ex[data-row="%d"]' % row),
                       "example %d in the list" % row)[0]
    item.click()
    pc.wait_for(lambda: chrome.execute_script("return btReport.state.row") == row and
                chrome.execute_script("return btReport.state.attn && btReport.state.attn.T") == len(tokens_of(demo, row)),
                "example %d to load" % row)
    assert shown_tokens(chrome) == tokens_of(demo, row)
    assert int(pc.by_id(chrome, "picker-count").text.split()[0]) >= 1
    search.clear()
    search.send_keys("#%d" % row0)
    pc.wait_for(lambda: pc.by_id(chrome, "picker-count").text.startswith("1 of"), "search by row")


def test_export_png_and_svg(chrome, demo, loaded):
    row, l, h = chrome.execute_script("return [btReport.state.row, btReport.state.layer, btReport.state.head]")
    base = os.path.join(chrome.downloads, "attention_ex%d_L%dH%d" % (row, l + 1, h + 1))
    for ext in (".png", ".svg"):
        if os.path.exists(base + ext):
            os.remove(base + ext)
    pc.by_id(chrome, "export-png").click()
    pc.wait_for(lambda: os.path.exists(base + ".png") and os.path.getsize(base + ".png") > 0, "the PNG download")
    with open(base + ".png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    img = pc.matplotlib.image.imread(base + ".png")
    T = len(tokens_of(demo, row))
    assert img.shape[0] > T and img.shape[1] > T and img[..., :3].std() > 0.02
    pc.by_id(chrome, "export-svg").click()
    pc.wait_for(lambda: os.path.exists(base + ".svg") and os.path.getsize(base + ".svg") > 0, "the SVG download")
    svg = ET.parse(base + ".svg").getroot()
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text for t in svg.iter(ns + "text")]
    assert texts[0] == "example #%d, layer %d, head %d" % (row, l + 1, h + 1)
    g = next(e for e in svg.iter(ns + "g") if e.get("id") == "map")
    cell = float(g.get("data-cell"))
    assert int(g.get("data-tokens")) == T
    got = np.zeros((T, T))
    for r in g.iter(ns + "rect"):
        if r.find(ns + "title") is not None:
            got[int(round(float(r.get("y")) / cell)), int(round(float(r.get("x")) / cell))] = float(r.find(ns + "title").text)
    want = np.rint(attention_of(demo, row)[l, h] * 255) / 255
    assert np.abs(got - want).max() <= 0.0006, "the SVG's cells are the head's attention (3 decimals)"
    if cell >= 8:
        assert texts.count(tokens_of(demo, row)[1]) >= 2, "token labels on both axes"


def test_sections_and_screenshot(chrome, demo, loaded):
    ids = chrome.execute_script("return [...document.querySelectorAll('section')].map(s => s.id)")
    assert ids[:2] == ["heads", "attention"] and {"clark", "masking", "ablation"} <= set(ids)
    notes = pc.by_id(chrome, "app").find_element(pc.By.CSS_SELECTOR, "ul.notes").text
    assert "CAT-scores" in notes and "syntax" in notes, "the sections these runs lack are named"
    with h5py.File(os.path.join(demo["work"], "mask/run.h5"), "r") as f:
        steps = f["masking/score"].shape[0]
    pts = chrome.execute_script("return document.querySelector('#masking polyline').getAttribute('points')")
    assert len(pts.split()) == steps, "the masking curve has one point per step"
    height = chrome.execute_script("return document.documentElement.scrollHeight")
    chrome.set_window_size(1400, min(height + 100, 8000))
    chrome.execute_script("window.scrollTo(0, 0)")
    shot = os.path.join(demo["work"], "page.png")
    chrome.save_screenshot(shot)
    chrome.set_window_size(1400, 1000)
    img = pc.matplotlib.image.imread(shot)[..., :3]
    assert img.shape[0] > 1500 and img.std() > 0.05, "a non-blank page"
    for name in ("canvas[data-key='importance']", "#head-view", "#head-map", "#model-view"):
        r = chrome.execute_script("const r = document.querySelector(arguments[0]).getBoundingClientRect();"
                                  "return [r.left + scrollX, r.top + scrollY, r.width, r.height];", name)
        x, y, w, h = (int(v) for v in r)
        region = img[y:y + h, x:x + w]
        assert region.size and region.std() > 0.02 and (region < 0.9).mean() > 0.01, "%s is blank" % name
    print(json.dumps({"screenshot": shot}))
