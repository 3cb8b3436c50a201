#!/usr/bin/python3
"""What checkpointing costs a pass (docs/resume.md "Cost"): `bertology importance` on a random
bert-base (12 layers, 768 wide, 12 heads) over the first N examples of SST-2 dev, with
--checkpoint-every 0 (no checkpoint: the baseline), the default (30 s: one journal record per
batch, a sync every 30 s and one at the end of the pass) and 1 s (a sync about every batch),
interleaved in rounds in this one script so that the machine's load hits all alike. Prints the
median of the per-round ratios against the baseline.

usage: PYTHONPATH=tests/lib:tests/ref /usr/bin/python3 tests/sweep/bench_checkpoint.py --bertology build/bertology
       [--examples 96] [--rounds 3] [--np 1] [--batch-tokens 512]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

from bttest import SST2, models


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bertology", required=True)
    ap.add_argument("--examples", type=int, default=96)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--np", type=int, default=1)
    ap.add_argument("--batch-tokens", type=int, default=512)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bt-bench-ckpt-")
    model = os.path.join(work, "model")
    models.bert(model, bert_base=True, seed=1)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    configs = [("no checkpoint (0)", "0"), ("default (30 s)", "30"), ("every 1 s", "1")]
    secs = {c: [] for c, _ in configs}
    for r in range(args.rounds):
        for name, every in configs:
            out = os.path.join(work, "out")
            shutil.rmtree(out, ignore_errors=True)
            cmd = ["mpirun", "--oversubscribe", "-np", str(args.np), args.bertology, "importance", "--model", model,
                   "--task", "sst-2", "--data", SST2,
                   "--out", out, "--subset", str(args.examples), "--batch-tokens", str(args.batch_tokens),
                   "--checkpoint-every", every, "--verbose", "--quiet"]
            p = subprocess.run(cmd, capture_output=True, text=True, env=env)
            m = re.search(r"pass ([0-9.]+)", p.stderr)
            if p.returncode != 0 or not m:
                print("FAILED:", " ".join(cmd), p.stderr[-800:])
                return 1
            secs[name].append(float(m.group(1)))
            print("round %d %-18s pass %.2f s" % (r, name, secs[name][-1]), flush=True)
    base = secs[configs[0][0]]
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print("\n%d examples, --batch-tokens %d, np=%d, load %s" % (args.examples, args.batch_tokens, args.np, load))
    for name, _ in configs:
        ratios = [t / b for t, b in zip(secs[name], base)]
        print("%-18s median pass %.2f s, ratio to no checkpoint %.3f (rounds: %s)" % (
            name, statistics.median(secs[name]), statistics.median(ratios), ", ".join("%.3f" % x for x in ratios)))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
