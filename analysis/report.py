#!/usr/bin/python3
"""Figures and a one-page summary from bertology run files.

    /usr/bin/python3 analysis/report.py OUT/run.h5 [MASK_OUT/run.h5 ABLATE_OUT/run.h5 ...]
        --out OUT/report [--vocab MODEL_DIR|vocab.txt] [--examples 0,5] [--heads 2:3,4:1]
        [--max-examples N] [--weighting tokens|examples] [--punct all|clark] [--dpi 110]
        [--probes PROBE_OUT/probes.json] [--min-arcs 100]

Writes OUT/report/summary.html and summary.md (the same page, figures embedded), the PNGs and
head_stats.csv. Each section uses the first run that holds its data (put the importance run
with --save-attentions first); what no run holds is listed as skipped.
Exit status: 0 done, 2 bad input (unreadable run file, bad option), 1 anything else.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bertology_analysis import RunError, load_run, make_report  # noqa: E402
from bertology_analysis.make_report import parse_heads  # noqa: E402


def _rows(spec):
    try:
        return [int(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise ValueError("--examples %r: expected comma-separated example rows" % spec) from None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run.h5 files (first one with each kind of data "
                                            "is used)")
    ap.add_argument("--out", required=True, help="report folder (created)")
    ap.add_argument("--vocab", help="vocabulary file or model directory (default: the run's "
                                    "model_dir attribute)")
    ap.add_argument("--examples", help="example rows for attention maps, e.g. 0,12 (default: "
                                       "row 0 and the highest-loss short example)")
    ap.add_argument("--heads", help="heads for token-labelled maps, layer:head 1-based, e.g. "
                                    "2:3,1:1 (default: the 3 most important)")
    ap.add_argument("--max-examples", type=int, help="Clark statistics on the first N examples")
    ap.add_argument("--weighting", choices=["tokens", "examples"], default="tokens",
                    help="average over all query tokens (default) or per example first")
    ap.add_argument("--punct", choices=["all", "clark"], default="all",
                    help="punctuation: every punctuation token (default) or '.' ',' only")
    ap.add_argument("--probes", help="probes.json of analysis/probe.py: adds the probe curves")
    ap.add_argument("--min-arcs", type=int, default=100,
                    help="syntax: relations with at least N arcs (default 100)")
    ap.add_argument("--dpi", type=int, default=110)
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    log = (lambda *_: None) if a.quiet else (lambda s: print(s, flush=True))
    try:
        examples = _rows(a.examples) if a.examples else None
        heads = None
        if a.heads or examples:
            with load_run(a.runs[0], vocab=a.vocab) as r:
                if a.heads:
                    heads = parse_heads(a.heads, *r.shape)
                bad = [i for i in examples or [] if not 0 <= i < r.n_examples]
                if bad:
                    raise ValueError("--examples %d: %s has rows 0..%d"
                                     % (bad[0], a.runs[0], r.n_examples - 1))
        if a.max_examples is not None and a.max_examples < 1:
            raise ValueError("--max-examples %d: must be at least 1" % a.max_examples)
        probes = None
        if a.probes:
            import json
            try:
                with open(a.probes) as fh:
                    probes = json.load(fh)
                probes["tasks"], probes["layers"]  # noqa: B018 (what the section reads)
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError("%s: not a probes.json of analysis/probe.py (%s)" % (a.probes, e)) from None
        log("report: %s -> %s" % (", ".join(a.runs), a.out))
        res = make_report(a.runs, a.out, vocab=a.vocab, examples=examples, heads=heads,
                          max_examples=a.max_examples, weighting=a.weighting, punct=a.punct,
                          dpi=a.dpi, log=log, probes=probes, min_arcs=a.min_arcs)
    except (RunError, ValueError, OSError) as e:
        print("report.py: %s" % (str(e).splitlines() or [repr(e)])[0], file=sys.stderr)
        return 2
    log("report: %d figures, summary in %s" % (len(res["figures"]),
                                               os.path.join(a.out, "summary.html")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
