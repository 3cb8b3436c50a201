"""The command lines: `bertology-report` (analysis/report.py) and `bertology-probe`
(analysis/probe.py). Exit status: 0 done, 2 bad input (unreadable run file, bad option), 1 anything
else."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence

from . import figures
from .make_report import make_report, parse_heads
from .run import RunError, load_run

REPORT_DOC = """Figures, a one-page summary and an interactive page from bertology run files.

    bertology-report OUT/run.h5 [MASK_OUT/run.h5 ABLATE_OUT/run.h5 ...] --out OUT/report
        [--vocab MODEL_DIR|vocab.txt] [--examples 0,5] [--heads 2:3,4:1] [--max-examples N]
        [--weighting tokens|examples] [--punct all|clark] [--dpi 110]
        [--probes PROBE_OUT/probes.json] [--min-arcs 100] [--page-mb 5] [--top-k K]

Writes OUT/report/index.html (the interactive page: one self-contained file, open it in any
browser, also from file://), summary.html and summary.md (the same static page, figures
embedded), the PNGs and head_stats.csv. Each section uses the first run that holds its data (put
the importance run with --save-attentions first); what no run holds is listed as skipped.
Exit status: 0 done, 2 bad input (unreadable run file, bad option), 1 anything else.
"""

PROBE_DOC = """Layer probes (Tenney et al. 2019) on a run made with --save-hidden on a CoNLL-U treebank.

    bertology-probe RUN.h5 [--test RUN2.h5] --out DIR [--C 1.0] [--max-iter 1000]
        [--train-fraction 0.8] [--block-mb 256]

RUN.h5 comes from `bertology syntax --model M --task ud --data FILE.conllu --save-hidden`.
Per hidden state (0 = embeddings) and cumulatively (scalar mix of states 0..l), a multinomial
logistic regression predicts each word's UPOS and each arc's universal relation; training on
the first 80% of the sentences and testing on the rest, or on all of RUN.h5 and testing on
RUN2.h5. Writes DIR/probes.json and DIR/probes.png (docs/syntax.md). Exit status: 0 done,
2 bad input, 1 anything else.
"""


def _rows(spec: str) -> List[int]:
    try:
        return [int(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise ValueError("--examples %r: expected comma-separated example rows" % spec) from None


def _logger(quiet: bool) -> Callable[[str], None]:
    return (lambda *_: None) if quiet else (lambda s: print(s, flush=True))


def _fail(prog: str, e: BaseException) -> int:
    print("%s: %s" % (prog, (str(e).splitlines() or [repr(e)])[0]), file=sys.stderr)
    return 2


def report_main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="bertology-report", description=REPORT_DOC.split("\n")[0],
                                 epilog=REPORT_DOC.split("\n", 2)[2],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run.h5 files (first one with each kind of data is used)")
    ap.add_argument("--out", required=True, help="report folder (created)")
    ap.add_argument("--vocab", help="vocabulary file or model directory (default: the run's model_dir attribute)")
    ap.add_argument("--examples", help="example rows for the static attention maps, e.g. 0,12 (default: row 0 and "
                                       "the highest-loss short example); the page embeds these first")
    ap.add_argument("--heads", help="heads for token-labelled maps, layer:head 1-based, e.g. 2:3,1:1 "
                                    "(default: the 3 most important)")
    ap.add_argument("--max-examples", type=int, help="Clark statistics on the first N examples")
    ap.add_argument("--weighting", choices=["tokens", "examples"], default="tokens",
                    help="average over all query tokens (default) or per example first")
    ap.add_argument("--punct", choices=["all", "clark"], default="all",
                    help="punctuation: every punctuation token (default) or '.' ',' only")
    ap.add_argument("--probes", help="probes.json of bertology-probe (analysis/probe.py): adds the probe curves")
    ap.add_argument("--min-arcs", type=int, default=100, help="syntax: relations with at least N arcs (default 100)")
    ap.add_argument("--page-mb", type=float, default=5.0,
                    help="index.html at most this size: attention maps of as many examples as fit are "
                         "embedded (default 5; 0 = every example)")
    ap.add_argument("--top-k", type=int, default=0,
                    help="embed only the K largest attention values of each row (for long inputs and big "
                         "models; default 0 = whole rows)")
    ap.add_argument("--dpi", type=int, default=110)
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    log = _logger(a.quiet)
    try:
        examples = _rows(a.examples) if a.examples else None
        heads = None
        if a.heads or examples:
            with load_run(a.runs[0], vocab=a.vocab) as r:
                if a.heads:
                    heads = parse_heads(a.heads, *r.shape)
                bad = [i for i in examples or [] if not 0 <= i < r.n_examples]
                if bad:
                    raise ValueError("--examples %d: %s has rows 0..%d" % (bad[0], a.runs[0], r.n_examples - 1))
        if a.max_examples is not None and a.max_examples < 1:
            raise ValueError("--max-examples %d: must be at least 1" % a.max_examples)
        if a.page_mb < 0 or a.top_k < 0:
            raise ValueError("--page-mb and --top-k must not be negative")
        probes: Optional[Dict[str, Any]] = None
        if a.probes:
            try:
                with open(a.probes) as fh:
                    probes = json.load(fh)
                probes["tasks"], probes["layers"]  # type: ignore[index]  # noqa: B018 (what the section reads)
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError("%s: not a probes.json of analysis/probe.py (%s)" % (a.probes, e)) from None
        log("report: %s -> %s" % (", ".join(a.runs), a.out))
        res = make_report(a.runs, a.out, vocab=a.vocab, examples=examples, heads=heads,
                          max_examples=a.max_examples, weighting=a.weighting, punct=a.punct,
                          dpi=a.dpi, log=log, probes=probes, min_arcs=a.min_arcs,
                          page_bytes=int(a.page_mb * 1e6), top_k=a.top_k)
    except (RunError, ValueError, OSError) as e:
        return _fail("bertology-report", e)
    log("report: %d figures; open %s in a browser (static page: summary.html)"
        % (len(res["figures"]), os.path.join(a.out, "index.html")))
    return 0


def probe_main(argv: Optional[Sequence[str]] = None) -> int:
    import h5py

    from .probe import ProbeError, fig_probes, run_probes

    def _open(path: str) -> Any:
        try:
            f = h5py.File(path, "r")
        except OSError as e:
            raise ProbeError("%s: cannot open as HDF5 (%s)" % (path, e)) from None
        if f.attrs.get("status") != "complete":
            f.close()
            raise ProbeError("%s: status is not 'complete'" % path)
        return f

    ap = argparse.ArgumentParser(prog="bertology-probe", description=PROBE_DOC.split("\n")[0],
                                 epilog=PROBE_DOC.split("\n", 2)[2],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="run.h5 of `bertology syntax --save-hidden` (or `eval --task ud --save-hidden`)")
    ap.add_argument("--test", help="a second run.h5 as the test set (default: last 20%% of sentences)")
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--C", type=float, default=1.0, help="inverse L2 strength (sklearn's C, default 1)")
    ap.add_argument("--max-iter", type=int, default=1000, help="lbfgs iterations at most (default 1000)")
    ap.add_argument("--train-fraction", type=float, default=0.8)
    ap.add_argument("--block-mb", type=float, default=256, help="hidden states read per block (MB)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    log = _logger(a.quiet)
    try:
        if not (a.C > 0 and 0 < a.train_fraction < 1 and a.max_iter > 0 and a.block_mb > 0):
            raise ProbeError("--C, --max-iter, --block-mb must be positive, --train-fraction inside (0, 1)")
        f = _open(a.run)
        t = _open(a.test) if a.test else None
        try:
            res = run_probes(f, a.run, t, a.test, C=a.C, max_iter=a.max_iter, train_frac=a.train_fraction,
                             block_bytes=int(a.block_mb * (1 << 20)), log=log)
        finally:
            f.close()
            if t is not None:
                t.close()
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "probes.json"), "w") as fh:
            json.dump(res, fh, indent=1)
        figures.save(fig_probes(res, "Layer probes: %s" % os.path.basename(os.path.dirname(os.path.abspath(a.run)))),
                     os.path.join(a.out, "probes.png"))
        log("probe: wrote %s and probes.png" % os.path.join(a.out, "probes.json"))
    except (ProbeError, KeyError, OSError) as e:
        return _fail("bertology-probe", e)
    return 0
