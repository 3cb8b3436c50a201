"""Helpers of the browser tests: load index.html, read what the page drew, click where a head is.

Everything the tests compare against is computed here from run.h5 and the colour maps
(matplotlib), never from the page's own data."""
import io
import json
import os
import shutil
import time

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
from matplotlib import colormaps  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


# As root Chromium needs --no-sandbox; the rest keep it off the network (no component updates,
# sync, QUIC or first-run fetches) and a fresh profile keeps runs independent.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-default-apps", "--disable-extensions", "--force-device-scale-factor=1",
                  "--window-size=1400,1000"]


def start_chromium(profile, downloads=None):
    """A WebDriver session on headless Chromium (BT_CHROMIUM / BT_CHROMEDRIVER override the
    Debian paths) with a fresh profile; downloads go to `downloads` (d.downloads)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    o = webdriver.ChromeOptions()
    o.binary_location = os.environ.get("BT_CHROMIUM", "/usr/bin/chromium")
    shutil.rmtree(profile, ignore_errors=True)
    for a in CHROMIUM_FLAGS + ["--user-data-dir=" + profile]:
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    d = webdriver.Chrome(service=Service(os.environ.get("BT_CHROMEDRIVER", "/usr/bin/chromedriver")), options=o)
    d.set_script_timeout(60)
    if downloads:
        os.makedirs(downloads, exist_ok=True)
        d.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    d.downloads = downloads
    return d


def load(d, path, fragment=""):
    """Opens the page from file:// (with #fragment), waits until the first example is drawn;
    returns the load figures in ms since navigation start: the first contentful paint (may be
    the "Loading" line), the page's 'bt-rendered' mark (header, grids, sections and picker in
    the document) and 'bt-ready' (the first example decoded and drawn in every view)."""
    d.get_log("browser")
    d.get_log("performance")
    d.get("file://" + path + ("#" + fragment if fragment else ""))
    ready = d.execute_async_script(
        "const cb = arguments[arguments.length - 1];"
        "window.btReport.ready.then(() => cb(performance.getEntriesByName('bt-ready')[0].startTime),"
        "                           e => cb('error: ' + e));")
    assert not isinstance(ready, str), ready
    # a small page can be ready before its first paint: wait for the paint entry (5 s at most)
    fcp = d.execute_async_script(
        "const cb = arguments[arguments.length - 1];"
        "new PerformanceObserver((list, obs) => {"
        "  const e = list.getEntriesByName('first-contentful-paint');"
        "  if (e.length) { obs.disconnect(); cb(e[0].startTime); }"
        "}).observe({type: 'paint', buffered: true});"
        "setTimeout(() => cb(null), 5000);")
    assert fcp is not None, "no first contentful paint within 5 s of the page being ready"
    rendered = d.execute_script("return performance.getEntriesByName('bt-rendered')[0].startTime")
    return {"first_paint_ms": fcp, "rendered_ms": rendered, "ready_ms": ready}


def console_messages(d):
    return [m for m in d.get_log("browser") if m["level"] in ("SEVERE", "WARNING")]


def requests(d):
    """URLs of every request the page made since the last call (DevTools Network events)."""
    urls = []
    for entry in d.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def element_image(d, el):
    """What the browser shows of an element: float RGB [h, w, 3] in 0..1 (screenshot)."""
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    img = matplotlib.image.imread(io.BytesIO(el.screenshot_as_png), format="png")
    return img[..., :3]


def canvas_image(d, el):
    """Everything drawn on a canvas, also the part scrolled out of view: float RGB [h, w, 3]."""
    import base64
    url = d.execute_script("return arguments[0].toDataURL('image/png')", el)
    img = matplotlib.image.imread(io.BytesIO(base64.b64decode(url.split(",", 1)[1])), format="png")
    return img[..., :3]


def geom(el):
    return json.loads(el.get_attribute("data-geom"))


def click_at(d, el, x, y):
    """A real mouse click at (x, y) CSS pixels from the element's top left corner."""
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    r = d.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", el)
    ActionChains(d).move_to_element_with_offset(el, int(x - r[0] / 2), int(y - r[1] / 2)).click().perform()


def hover_at(d, el, x, y):
    r = d.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", el)
    ActionChains(d).move_to_element_with_offset(el, int(x - r[0] / 2), int(y - r[1] / 2)).perform()


def lut(name):
    return (np.asarray(colormaps[name](np.linspace(0, 1, 256)))[:, :3] * 255 + 0.5).astype(int)


def colour_of(value, vmin, vmax, cmap="viridis"):
    t = (value - vmin) / (vmax - vmin) if vmax > vmin else 0.5
    return lut(cmap)[int(round(min(max(t, 0.0), 1.0) * 255))]


def wait_for(fn, what, timeout=20.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def by_id(d, name):
    return d.find_element(By.ID, name)
