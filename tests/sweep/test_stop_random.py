"""A stop at any moment never crashes, never hangs, and resumes to the same bits (issue 20).

A seeded random sequence of interruptions (the seed is printed; BT_STOP_SEED repeats a sequence:
`BT_STOP_SEED=N ctest -R sweep.stop_random`):
each run is `mpirun -np N bertology importance` (N in 1..3, --threads 1; for N = 1 half the time
one `bertology importance` without mpirun, the signal sent to it), a chain's runs all by the gate
or all by attention attribution (`--method attattr --steps 2` on a quarter of the subset: as long
a run, with the engine's stop polls inside the attribution's layer passes), on a random model of
bert-base width (D 768, 12 heads, F 3072, 30522-token vocabulary; layers of them), SST-2 dev
(subset), 256-token batches, --save-attentions, and a random --checkpoint-every (0.3 s, 1 s or
the default). At a random moment of the run comes one of: SIGUSR1, SIGINT or SIGTERM to mpirun
(for SIGTERM and SIGINT Open MPI sends the ranks SIGTERM a second later and SIGKILL a second after
that), or SIGKILL or SIGSEGV of one rank (the rank's fatal-signal handler prints one line and a
backtrace, and the rank dies of it). The same command continues the same --out until a run finishes;
its result must be the uninterrupted np=1 run's, bit for bit; then a new chain starts. After
every interruption:
  - mpirun and every rank are gone within 30 s of the signal;
  - nothing printed says abort, segmentation fault, heap corruption or a sanitizer report;
  - a stop (SIGUSR1, SIGINT, SIGTERM) ended in rank 0's "exit status 3" line and exit 3 (after
    SIGTERM and SIGINT to mpirun: Open MPI's own 1, the line maybe dropped), run.h5's tmp file marked
    interrupted, and a state.json that covers every record the journals of that run hold: no
    finished batch was lost; or the run had finished (exit 0, run.h5), or (a signal in its first
    second) mpirun ended it before any rank started;
  - a run that finishes prints "N of M batches resumed from the checkpoint" with N the batches
    state.json made durable before it started.
malloc_check runs every process under glibc's MALLOC_CHECK_=3 (libc_malloc_debug.so.0) with
MALLOC_PERTURB_ (freed and new memory filled with a byte), so that a heap error aborts at once.

The settings come from the environment (tests/sweep.cmake sets them per build): BT_STOP_SEED,
BT_STOP_INTERRUPTIONS (30), BT_STOP_LAYERS (2), BT_STOP_HIDDEN (768), BT_STOP_HEADS (12),
BT_STOP_SUBSET (160), BT_STOP_MALLOC_CHECK (0), BT_STOP_METHODS (gate,attattr), BT_STOP_SIGNALS (USR1,INT,TERM,KILL,SEGV: a
sanitizer build has its own fatal-signal reports, no SEGV there), BT_STOP_TIMEOUT (600: a
finishing run's limit, seconds).
"""

import json
import os
import random
import re
import shutil
import signal
import struct
import time
from types import SimpleNamespace

import h5py
import pytest

from bttest import BERTOLOGY, SST2, Background, models, run_differences, session_members

BAD = re.compile(r"corrupted|double free|free\(\): |malloc\(\): |malloc_consolidate|munmap_chunk|realloc\(\): |"
                 r"Segmentation fault|\(Aborted\)|Aborted \(core|on signal (4|6|7|8|11) |fatal signal|"
                 r"Process received signal|AddressSanitizer|LeakSanitizer|runtime error:|stack smashing")
SIGNALS = ["USR1", "INT", "TERM", "KILL", "SEGV"]  # KILL and SEGV: of one rank
END_WITHIN = 30.0  # seconds from the signal until mpirun and every rank are gone
MALLOC_DEBUG = "/lib/x86_64-linux-gnu/libc_malloc_debug.so.0"


def settings():
    """The test's settings from BT_STOP_* (the module docstring)."""
    def get(name, default, conv=int):
        v = os.environ.get("BT_STOP_" + name)
        return conv(v) if v else default
    return SimpleNamespace(seed=get("SEED", None), interruptions=get("INTERRUPTIONS", 30), layers=get("LAYERS", 2),
                           hidden=get("HIDDEN", 768), heads=get("HEADS", 12), subset=get("SUBSET", 160),
                           malloc_check=bool(get("MALLOC_CHECK", 0)),
                           signals=get("SIGNALS", ",".join(SIGNALS), str).split(","),
                           methods=get("METHODS", "gate,attattr", str).split(","),
                           timeout=get("TIMEOUT", 600.0, float))


def durable_batches(out):
    """The (pass, batch) records state.json makes durable, and the state (None without one)."""
    path = os.path.join(out, "checkpoint", "state.json")
    if not os.path.exists(path):
        return set(), None
    with open(path) as f:
        st = json.load(f)
    done = set()
    for j in st["journals"]:
        with open(os.path.join(out, "checkpoint", j["file"]), "rb") as f:
            data = f.read(int(j["bytes"]))
        at = 0
        while at + 32 <= len(data):  # {magic, pass, batch, 0, bytes, FNV-1a} + payload
            magic, pss, batch, _, n, _ = struct.unpack_from("<IIIIQQ", data, at)
            if magic != 0x4B435442:
                break
            done.add((pss, batch))
            at += 32 + n
    return done, st


def rank_pids(sid, started=False):
    """The ranks of the session; with started, only those in main() already (more than one
    thread: MPI_Init has begun, after the fatal-signal handler was installed)."""
    pids = []
    for pid in session_members(sid):
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() != "bertology":
                    continue
            with open("/proc/%d/status" % pid) as f:
                threads = int(re.search(r"^Threads:\s+(\d+)", f.read(), re.M).group(1))
            if threads > 1 or not started:
                pids.append(pid)
        except (OSError, AttributeError):
            pass
    return pids


class Runner:
    def __init__(self, cfg, model, env):
        self.cfg, self.model, self.env = cfg, model, env

    def start(self, np_, out, every, method, direct=False):
        """`bertology importance --method METHOD` under mpirun -np NP, or alone (direct)."""
        subset = self.cfg.subset if method == "gate" else max(8, self.cfg.subset // 4)
        argv = [BERTOLOGY, "importance", "--model", self.model, "--task", "sst-2", "--data", SST2, "--out", out,
                "--threads", "1", "--quiet", "--batch-tokens", "256", "--subset", str(subset),
                "--save-attentions", "--dtype", "f32", "--method", method] + \
            (["--steps", "2"] if method == "attattr" else []) + (["--checkpoint-every", str(every)] if every else [])
        return Background(argv, np=None if direct else np_, env=self.env)


def wait_gone(p, limit):
    """Waits until mpirun and every process of its session are gone; returns the seconds it took
    (None after limit: then the session is killed) and the seconds until the ranks were gone."""
    t0 = t_ranks = time.time()
    while time.time() - t0 < limit:
        if rank_pids(p.pid):
            t_ranks = time.time()
        elif p.poll() is not None and not p.alive():
            return time.time() - t0, t_ranks - t0
        time.sleep(0.005)
    p.end()
    return None, None


def stdout_complete(text):
    """Rank 0's summary line is there (a rank SIGKILLed after the commit may not have printed)."""
    return re.search(r"^importance: \d+ examples", text, re.M) is not None


def finished_ok(check, out, ref, p_out, durable_before, what, clean=True):
    """A finished run: the reference's bits, and the resumed count it prints."""
    if not check(os.path.exists(os.path.join(out, "run.h5")), "%s: exit 0 but no run.h5" % what):
        return
    diffs = run_differences(ref, out, ignore_options=("checkpoint_every",))
    check(not diffs, "%s: differs from the uninterrupted run: %s" % (what, "\n".join(diffs)))
    m = re.search(r"(\d+) of (\d+) batches resumed from the checkpoint", p_out)
    got = int(m.group(1)) if m else 0
    check(got == len(durable_before) or not stdout_complete(p_out),
          "%s: says %d batches resumed, %d were durable" % (what, got, len(durable_before)))
    left = os.listdir(out)  # (a rank killed between the commit's rename and this clean-up leaves them)
    check(not clean or ("checkpoint" not in left and not any(f.startswith("run.h5.tmp-") for f in left)),
          "%s: left behind: %s" % (what, left))


def stopped_on_disk(out):
    """This run's stop is on disk: a state.json whose tmp file says interrupted."""
    _, st = durable_batches(out)
    if st is None or not os.path.exists(os.path.join(out, st["tmp"])):
        return False
    with h5py.File(os.path.join(out, st["tmp"]), "r") as f:
        return f.attrs["status"] == "interrupted"


def stopped_ok(check, out, sig, rc, err, what, direct):
    """A stop: exit 3 (without mpirun, or SIGUSR1 to it) or Open MPI's 1, rank 0's line, and every
    finished batch durable. (An mpirun ending after SIGTERM/SIGINT may drop what its ranks print
    last: the line is not required then.)"""
    clean = direct or sig == "USR1"
    check(("exit status 3" in err and "run the same command again to resume" in err) or not clean,
          "%s: no 'exit status 3' line from rank 0:\n%s" % (what, err[-1500:]))
    check(rc == 3 if clean else rc != 0, "%s: exit %d" % (what, rc))
    _, st = durable_batches(out)
    if not check(st is not None, "%s: stopped without a checkpoint/state.json" % what):
        return None
    for j in st["journals"]:
        if j["file"].startswith("journal-g%d-" % st["generation"]):
            size = os.path.getsize(os.path.join(out, "checkpoint", j["file"]))
            check(size == j["bytes"], "%s: %s holds %d bytes, %d durable: finished batches lost" % (
                what, j["file"], size, j["bytes"]))
    with h5py.File(os.path.join(out, st["tmp"]), "r") as f:
        check(f.attrs["status"] == "interrupted", "%s: tmp status %r" % (what, f.attrs["status"]))
    m = re.search(r"saved ([0-9.]+) s after", err)
    return float(m.group(1)) if m else None


def test_stop_random(work, check, blas_one_thread, request):
    cfg = settings()
    seed = cfg.seed if cfg.seed is not None else int(time.time() * 1000) % 1000000
    print("seed %d (repeat with BT_STOP_SEED=%d)" % (seed, seed), flush=True)
    rnd = random.Random(seed)
    env = {}
    if cfg.malloc_check:
        if not os.path.exists(MALLOC_DEBUG):
            pytest.skip("no %s (glibc >= 2.34 moved MALLOC_CHECK_ there)" % MALLOC_DEBUG)
        env.update(LD_PRELOAD=MALLOC_DEBUG, MALLOC_CHECK_="3", MALLOC_PERTURB_=str(rnd.randrange(1, 255)))
    m = models.bert(os.path.join(work, "model"), layers=cfg.layers, hidden=cfg.hidden, heads=cfg.heads,
                    ff=4 * cfg.hidden, seed=11)
    run = Runner(cfg, m, env)
    refs, fulls = {}, {}
    for method in cfg.methods:
        refs[method] = os.path.join(work, "ref_" + method)
        with run.start(1, refs[method], None, method) as p:
            r = p.wait(timeout=cfg.timeout, expect=0)
        fulls[method] = r.seconds
        print("uninterrupted np=1 run, %s: %.1f s" % (method, r.seconds), flush=True)

    done, chains, latencies, ends, rank_ends, outcomes = 0, 0, [], [], {}, {}
    out, durable = None, set()
    while done < cfg.interruptions:
        if out is None:
            chains += 1
            out = os.path.join(work, "chain%02d" % chains)
            durable = set()
            method = rnd.choice(cfg.methods)
            ref, full = refs[method], fulls[method]
        np_, sig = rnd.randint(1, 3), rnd.choice(cfg.signals)
        direct = np_ == 1 and rnd.random() < 0.5  # one process, no mpirun
        every = rnd.choice([0.3, 1, None])
        delay = rnd.uniform(0.2, full * 1.1)
        what = "chain %d, %s, %s, %s at %.2f s (checkpoint every %s)" % (
            chains, method, "direct" if direct else "np=%d" % np_, sig, delay, every or "default")
        with run.start(np_, out, every, method, direct) as p:
            t_start = time.time()
            while p.poll() is None and time.time() - t_start < delay:
                time.sleep(0.005)
            interrupted = p.poll() is None
            if interrupted and sig in ("KILL", "SEGV"):  # one rank, once the ranks are up
                pids, t_look = [], time.time()
                while not pids and p.poll() is None and time.time() - t_look < 5:
                    pids = rank_pids(p.pid, started=sig == "SEGV")
                    time.sleep(0.005)
                victim = rnd.choice(pids) if pids else None
                try:
                    if victim:
                        os.kill(victim, getattr(signal, "SIG" + sig))
                except ProcessLookupError:  # it ended (and was reaped) since it was listed
                    victim = None
                interrupted = victim is not None
            elif interrupted:
                p.signal(getattr(signal, "SIG" + sig))
            if interrupted:
                took, ranks_took = wait_gone(p, END_WITHIN)
                done += 1
            else:
                took, ranks_took = wait_gone(p, cfg.timeout)
            res = p.wait(timeout=1, expect=None)
        stdout, stderr, rc = res.stdout, res.stderr, res.returncode
        at = time.time() - t_start
        if not check(took is not None, "%s: still running %.0f s after the signal" % (what, END_WITHIN)):
            break
        lines = (stdout + stderr).splitlines()
        if sig == "SEGV" and interrupted:  # our handler's line and backtrace, mpirun's report
            check(any(ln.endswith(": fatal signal SIGSEGV") for ln in lines), "%s: no 'fatal signal' line" % what)
            lines = [ln for ln in lines if not re.search(r"fatal signal SIGSEGV|on signal 11 |^.*\[0x[0-9a-f]+\]$", ln)]
        bad = [ln for ln in lines if BAD.search(ln)]
        check(not bad, "%s: %s" % (what, "\n".join(bad[:10])))
        if os.path.exists(os.path.join(out, "run.h5")):  # finished before the signal took effect
            outcome = "finished"
            # a stop after the pass's last batch lets the run end; after SIGTERM/SIGINT mpirun
            # exits 1 whatever its ranks did; a KILL or SEGV that lands between run.h5's rename
            # and the process's exit kills a finished process (seen: direct, SEGV 0.03 s before
            # the end), and run.h5 must still be the reference's bits
            dies = sig in ("KILL", "SEGV")
            check(rc == 0 or (interrupted and (dies or (sig != "USR1" and not direct))),
                  "%s: finished, exit %d" % (what, rc))
            finished_ok(check, out, ref, stdout, durable, what, clean=rc == 0)
        elif sig in ("KILL", "SEGV") and interrupted:
            outcome = "killed"
            check(rc != 0, "%s: exit 0" % what)
        elif "exit status 3" in stderr or (interrupted and sig in ("INT", "TERM") and stopped_on_disk(out)):
            outcome = "stopped"
            lat = stopped_ok(check, out, sig, rc, stderr, what, direct)
            if lat is not None:
                latencies.append(lat)
        else:
            outcome = "ended early"
            check(interrupted and delay < 1.5 and not os.path.exists(os.path.join(out, "run.h5")),
                  "%s: exit %d without a stop\n%s" % (what, rc, stderr[-2000:]))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if interrupted:
            ends.append(took)
            rank_ends.setdefault(sig, []).append(ranks_took)
        print("%-74s %-11s exit %3d; ranks gone %s, mpirun %s after the signal (run %.1f s)" % (
            what, outcome, rc, "%.2f s" % ranks_took if interrupted else "-", "%.2f s" % took if interrupted else "-",
            at), flush=True)
        if outcome == "finished":
            shutil.rmtree(out, ignore_errors=True)
            out = None
        else:
            durable, _ = durable_batches(out)
        if check.failures:
            break
    if out is not None and not check.failures:  # the last chain runs to its end
        with run.start(rnd.randint(1, 3), out, None, method) as p:
            took, _ = wait_gone(p, cfg.timeout)
            res = p.wait(timeout=1, expect=None)
        what = "chain %d, final run" % chains
        if check(took is not None and res.returncode == 0, res.report("%s: exit %s" % (what, res.returncode))):
            finished_ok(check, out, ref, res.stdout, durable, what)

    def median_max(v):
        v = sorted(x for x in v if x is not None)
        return "%.2f/%.2f s" % (v[len(v) // 2], v[-1]) if v else "-"
    print("seed %d: %d interruptions in %d chains, %s; everything gone at most %.2f s after the signal; "
          "ranks gone (median/max) %s; rank 0 saved the work %s after its stop signal" % (
              seed, done, chains, outcomes, max(ends) if ends else 0,
              ", ".join("%s %s" % (k, median_max(v)) for k, v in sorted(rank_ends.items())), median_max(latencies)))
    if not check.failures:
        shutil.rmtree(work, ignore_errors=True)
