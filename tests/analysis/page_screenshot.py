#!/usr/bin/python3
"""A screenshot of an index.html in headless Chromium (the README's docs/report_page.png):

    /usr/bin/python3 tests/analysis/page_screenshot.py out/demo/report/index.html docs/report_page.png \\
        [--width 1400] [--height 1750] [--open head=1-1&ex=3]

Loads the page from file://, waits until its first example is drawn, and saves the top of it.
"""
import argparse
import os
import tempfile

import pagecheck

ap = argparse.ArgumentParser()
ap.add_argument("page")
ap.add_argument("png")
ap.add_argument("--width", type=int, default=1400)
ap.add_argument("--height", type=int, default=1750)
ap.add_argument("--open", default="", help="the page's fragment: head=LAYER-HEAD (1-based), ex=ROW")
a = ap.parse_args()
with tempfile.TemporaryDirectory() as tmp:
    d = pagecheck.start_chromium(os.path.join(tmp, "profile"))
    try:
        d.set_window_size(a.width, a.height)
        print(pagecheck.load(d, os.path.abspath(a.page), a.open))
        d.save_screenshot(a.png)
    finally:
        d.quit()
