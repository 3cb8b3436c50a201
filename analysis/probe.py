#!/usr/bin/python3
"""Layer probes (Tenney et al. 2019) on a run made with --save-hidden on a CoNLL-U treebank.

    /usr/bin/python3 analysis/probe.py RUN.h5 [--test RUN2.h5] --out DIR [--C 1.0]
        [--max-iter 1000] [--train-fraction 0.8] [--block-mb 256]

RUN.h5 comes from `bertology syntax --model M --task ud --data FILE.conllu --save-hidden`.
Per hidden state (0 = embeddings) and cumulatively (scalar mix of states 0..l), a multinomial
logistic regression predicts each word's UPOS and each arc's universal relation; training on
the first 80% of the sentences and testing on the rest, or on all of RUN.h5 and testing on
RUN2.h5. Writes DIR/probes.json and DIR/probes.png (docs/syntax.md). Exit status: 0 done,
2 bad input, 1 anything else.
"""
import argparse
import json
import os
import sys

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bertology_analysis import figures  # noqa: E402
from bertology_analysis.probe import ProbeError, fig_probes, run_probes  # noqa: E402


def _open(path):
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ProbeError("%s: cannot open as HDF5 (%s)" % (path, e)) from None
    if f.attrs.get("status") != "complete":
        f.close()
        raise ProbeError("%s: status is not 'complete'" % path)
    return f


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1],
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
    log = (lambda *_: None) if a.quiet else (lambda s: print(s, flush=True))
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
        print("probe.py: %s" % (str(e).splitlines() or [repr(e)])[0], file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
