#!/usr/bin/python3
"""Load figures of an index.html in headless Chromium (a benchmark, not a test: it prints).

    /usr/bin/python3 tests/analysis/bench_page.py PAGE [--runs 5]

Each run starts a fresh browser profile, opens the page from file:// and reports, from navigation
start, the first contentful paint and the moment the page has drawn its first example (head
view, map, model view: the page's 'bt-ready' mark); then median, min and max over the runs,
with the page's size and the load average (the machine may be shared).
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
fcp, ready = [], []
for k in range(a.runs):
    with tempfile.TemporaryDirectory() as tmp:
        d = pagecheck.start_chromium(os.path.join(tmp, "profile"))
        try:
            f = pagecheck.load(d, os.path.abspath(a.page))
            errors = pagecheck.console_messages(d)
        finally:
            d.quit()
    fcp.append(f["first_paint_ms"])
    ready.append(f["ready_ms"])
    print("run %d: first contentful paint %.0f ms, first example drawn %.0f ms%s"
          % (k + 1, fcp[-1], ready[-1], "; console: %s" % errors if errors else ""))
print("%s: %.2f MB; first contentful paint median %.0f ms (%.0f..%.0f), first example drawn median %.0f ms "
      "(%.0f..%.0f) over %d runs; load average %s"
      % (a.page, os.path.getsize(a.page) / 1e6, statistics.median(fcp), min(fcp), max(fcp), statistics.median(ready),
         min(ready), max(ready), a.runs, open("/proc/loadavg").read().split()[0]))
