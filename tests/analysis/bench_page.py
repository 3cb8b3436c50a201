#!/usr/bin/python3
"""Load figures of an index.html in headless Chromium (a benchmark, not a test: it prints).

    /usr/bin/python3 tests/analysis/bench_page.py PAGE [--runs 5]

Each run starts a fresh browser profile, opens the page from file:// and reports, from navigation
start, the first contentful paint (which may be the "Loading" line), the page's 'bt-rendered'
mark (its data parsed, the header, grids, sections and picker built) and 'bt-ready' (the first
example decoded and drawn in the head view, map and model view); then median, min and max over
the runs, with the page's size and the load average (the machine may be shared).
"""
import argparse
import os
import statistics
import tempfile

import pagecheck

ap = argparse.ArgumentParser()
ap.add_argument("page")
ap.add_argument("--runs", type=int, default=5)
a = ap.parse_args()
fcp, rendered, ready = [], [], []
for k in range(a.runs):
    with tempfile.TemporaryDirectory() as tmp:
        d = pagecheck.start_chromium(os.path.join(tmp, "profile"))
        try:
            f = pagecheck.load(d, os.path.abspath(a.page))
            errors = pagecheck.console_messages(d)
        finally:
            d.quit()
    fcp.append(f["first_paint_ms"])
    rendered.append(f["rendered_ms"])
    ready.append(f["ready_ms"])
    print("run %d: first contentful paint %.0f ms, report rendered %.0f ms, first example drawn %.0f ms%s"
          % (k + 1, fcp[-1], rendered[-1], ready[-1], "; console: %s" % errors if errors else ""))


def spread(x):
    return "%.0f ms (%.0f..%.0f)" % (statistics.median(x), min(x), max(x))


print("%s: %.2f MB; medians over %d runs: first contentful paint %s, report rendered %s, first example drawn %s; "
      "load average %s" % (a.page, os.path.getsize(a.page) / 1e6, a.runs, spread(fcp), spread(rendered), spread(ready),
                           open("/proc/loadavg").read().split()[0]))
