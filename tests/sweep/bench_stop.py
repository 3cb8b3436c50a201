#!/usr/bin/python3
"""How long a stop takes (docs/resume.md "Stopping"): `bertology importance` on a random
bert-base (12 layers, 768 wide, 12 heads) over the first N examples of SST-2 dev with 2048-token
batches, stopped at a random moment of its pass by
  - SIGUSR1 to mpirun (forwarded to the ranks at once),
  - SIGTERM to mpirun (Open MPI sends the ranks SIGTERM one second later, SIGKILL one second
    after that: the ranks' own time is the total minus that second),
  - SIGTERM to a single bertology started without mpirun.
Prints, per kind, the seconds from the ranks' signal until every rank has exited, rank 0's own
"saved X s after" (the work durable; the line an mpirun that is ending may drop), and whether
state.json covers every batch the journals hold. Each stopped run is resumed to its end, so that
the next round starts afresh.

usage: PYTHONPATH=tests/lib:tests/ref /usr/bin/python3 tests/sweep/bench_stop.py --bertology build/bertology
       [--examples 256] [--rounds 4] [--np 2] [--threads 1] [--batch-tokens 2048]
"""
import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bttest import SST2, models, session_members
OMPI_DELAY = 1.0  # odls_base_sigkill_timeout: mpirun's SIGTERM reaches the ranks this much later


def ranks_of(sid):
    pids = []
    for pid in session_members(sid):
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() == "bertology":
                    pids.append(pid)
        except OSError:
            pass
    return pids


def kept(out):
    """No journal holds a record that state.json does not cover (no state.json: none is covered;
    a run stopped before its first batch has empty journals)."""
    ck = os.path.join(out, "checkpoint")
    durable = {}
    if os.path.exists(os.path.join(ck, "state.json")):
        with open(os.path.join(ck, "state.json")) as f:
            durable = {j["file"]: j["bytes"] for j in json.load(f)["journals"]}
    names = [n for n in os.listdir(ck) if n.startswith("journal-")] if os.path.isdir(ck) else []
    return all(os.path.getsize(os.path.join(ck, n)) <= durable.get(n, 0) for n in names)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bertology", required=True)
    ap.add_argument("--examples", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--np", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-tokens", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="bt-bench-stop-")
    model = os.path.join(work, "model")
    models.bert(model, bert_base=True, seed=1)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads))
    out = os.path.join(work, "out")
    argv = [args.bertology, "importance", "--model", model, "--task", "sst-2", "--data",
            SST2, "--out", out, "--subset", str(args.examples),
            "--batch-tokens", str(args.batch_tokens), "--threads", str(args.threads), "--verbose", "--quiet"]
    mpirun = ["mpirun", "--oversubscribe", "-np", str(args.np)]
    # the pass's place in an uninterrupted run, for the random moments
    t0 = time.time()
    p = subprocess.run(mpirun + argv, capture_output=True, text=True, env=env)
    total = time.time() - t0
    m = re.search(r"pass ([0-9.]+)", p.stderr)
    if p.returncode != 0 or not m:
        print("FAILED:", p.stderr[-1500:])
        return 1
    pass_s = float(m.group(1))
    start = total - pass_s - 0.5  # about where the pass begins (the commit and exit take the rest)
    print("uninterrupted: %.1f s, pass %.1f s (%d ranks x %d threads, %d examples, %d-token batches)" % (
        total, pass_s, args.np, args.threads, args.examples, args.batch_tokens), flush=True)
    kinds = [("SIGUSR1 to mpirun", True, "USR1"), ("SIGTERM to mpirun", True, "TERM"),
             ("SIGTERM, no mpirun", False, "TERM")]
    res = {k[0]: [] for k in kinds}
    for r in range(args.rounds):
        for name, launcher, sig in kinds:
            shutil.rmtree(out, ignore_errors=True)
            cmd = (mpirun if launcher else []) + argv
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                                 start_new_session=True)
            time.sleep(start + rnd.uniform(0.3, 0.9) * pass_s)
            if p.poll() is not None:
                print("round %d %-20s finished before the signal" % (r, name))
                continue
            ranks = ranks_of(p.pid)
            t_sig = time.time()
            p.send_signal(getattr(__import__("signal"), "SIG" + sig))
            while [x for x in ranks if x in session_members(p.pid)]:
                time.sleep(0.002)
            gone = time.time() - t_sig - (OMPI_DELAY if launcher and sig == "TERM" else 0.0)
            _, err = p.communicate(timeout=60)
            ms = re.search(r"saved ([0-9.]+) s after", err)
            saved = float(ms.group(1)) if ms else float("nan")  # (an ending mpirun may drop the line)
            if os.path.exists(os.path.join(out, "run.h5")):  # the signal came after the last batch
                print("round %d %-20s finished: the signal came after the pass's last batch" % (r, name))
                continue
            res[name].append((gone, saved, kept(out)))
            print("round %d %-20s ranks gone %.3f s after their signal, rank 0 saved after %.2f s; exit %d; %s" % (
                r, name, gone, saved, p.returncode, "every batch done is durable" if res[name][-1][2] else
                "BATCHES LOST"), flush=True)
            subprocess.run(mpirun + argv, capture_output=True, env=env)  # resume to the end: a clean slate
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print("\nload %s; seconds from the ranks' signal (median, max over %d rounds):" % (load, args.rounds))
    for name, _, _ in kinds:
        v = res[name]
        if v:
            g, s = [x[0] for x in v], [x[1] for x in v if x[1] == x[1]]
            print("%-20s ranks exited %.3f, %.3f; rank 0 saved %s; every batch done durable in %d of %d" % (
                name, statistics.median(g), max(g), "%.2f, %.2f" % (statistics.median(s), max(s)) if s else "-",
                sum(x[2] for x in v), len(v)))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
