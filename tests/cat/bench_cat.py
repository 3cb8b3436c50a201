#!/usr/bin/python3
"""What CAT-probing costs on top of the forward pass (docs/cat.md "Speed"): `bertology cat` against
`bertology eval` at the same shapes, a random bert-base-sized RoBERTa (12 layers, 768 wide, 12
heads, GPT-2's vocabulary) over the first N functions of data/code/functions.jsonl at
--max-seq-length 256, alternating the two commands round after round in this one script (the
machine is shared and noisy: the ratio of neighbouring runs is what is reported). Both read the
same data, run the same forward passes and write run.h5 (wall time of the whole command); cat adds
the trees, distances, leaf attention and scores of every head and layer, and /code and /cat.

usage: PYTHONPATH=tests/lib:tests/ref:tests/text /usr/bin/python3 tests/cat/bench_cat.py
       --bertology build/bertology [--examples 96] [--rounds 3] [--threads 2]
"""
import argparse
import os
import statistics
import subprocess
import tempfile
import time

from bttest import SOURCE, models


def seconds(cmd):
    """Wall time of the whole command (loading, the pass, writing run.h5)."""
    t = time.perf_counter()
    subprocess.run(cmd, capture_output=True, text=True, check=True)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bertology", required=True)
    ap.add_argument("--examples", type=int, default=96)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as w:
        model = models.roberta(os.path.join(w, "m"), labels=0, base=True, layers=12, hidden=768, heads=12,
                               max_pos=258, seed=1)
        data = os.path.join(SOURCE, "data", "code", "functions.jsonl")
        common = ["--model", model, "--task", "code", "--data", data, "--subset", str(a.examples),
                  "--max-seq-length", "256", "--threads", str(a.threads), "--checkpoint-every", "0"]
        ratios, ev, ct = [], [], []
        for r in range(a.rounds):
            # which command goes first alternates: neither gets the warmer caches every round
            if r % 2 == 0:
                e = seconds([a.bertology, "eval", "--out", os.path.join(w, "eval%d" % r)] + common)
            c = seconds([a.bertology, "cat", "--out", os.path.join(w, "cat%d" % r)] + common)
            if r % 2 == 1:
                e = seconds([a.bertology, "eval", "--out", os.path.join(w, "eval%d" % r)] + common)
            ev.append(e), ct.append(c), ratios.append(c / e)
            print("round %d: eval %.2f s, cat %.2f s, cat/eval %.3f" % (r + 1, e, c, c / e), flush=True)
        print("cat/eval over %d rounds: median %.3f (%.3f..%.3f); eval median %.2f s, cat median %.2f s; "
              "%d functions, --max-seq-length 256, %d threads" % (a.rounds, statistics.median(ratios), min(ratios),
                                                                  max(ratios), statistics.median(ev),
                                                                  statistics.median(ct), a.examples, a.threads))


if __name__ == "__main__":
    main()
