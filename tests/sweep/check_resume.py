#!/usr/bin/python3
"""Interrupted runs resume to the bits of an uninterrupted run (docs/checkpoint.md, issue 12).

For importance (with --save-attentions --save-hidden), eval, ablate and mask (inside its
search), a reference run at np=1 is compared with a run that is stopped by a signal (exit 3,
no run.h5, a checkpoint), stopped again after resuming with another number of ranks, and
resumed to the end with a third: every dataset of run.h5 and every attribute but the run's own
(created, command line, ranks, checkpoint id), the .npy/.tsv files and the printed tables
(except the line with the wall time) must be identical. Also: a hard kill (SIGKILL of rank 0)
loses only the work since the last periodic sync; another command line on the same --out is
refused naming the first differing option; --restart discards the checkpoint; a successful run
removes the checkpoint and stale tmp files.

The signals come from the fault-injection variable BT_TEST_SIGNAL_AFTER=N:SIG (rank 0 raises
SIG after saving its N-th batch), so they land mid-pass at a known point on any machine; the
stop itself goes through the same handler and agreement as a signal from mpirun or Slurm
(tests/cluster/test_slurm.py sends real ones).
"""
import glob
import json
import os
import re
import sys

import h5py

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import check  # noqa: E402

TIMING = re.compile(r"(\d+\.\d+ s|tokens/s|ex/s|seconds|s/example)")


def tables(stdout):
    """The printed results without lines that carry wall times or rank counts."""
    return [ln for ln in stdout.splitlines() if not TIMING.search(ln) and "rank" not in ln]


def run(args, np_, cmd, model, out, extra, signal_after=None):
    env_before = os.environ.get("BT_TEST_SIGNAL_AFTER")
    if signal_after:
        os.environ["BT_TEST_SIGNAL_AFTER"] = signal_after
    else:
        os.environ.pop("BT_TEST_SIGNAL_AFTER", None)
    argv = [cmd, "--model", model, "--task", "sst-2", "--data", args.sst2, "--out", out,
            "--threads", 1, "--batch-tokens", 256] + list(extra)
    try:
        return common.mpirun(args, np_, argv, quiet=True, timeout=600)
    finally:
        if env_before is None:
            os.environ.pop("BT_TEST_SIGNAL_AFTER", None)
        else:
            os.environ["BT_TEST_SIGNAL_AFTER"] = env_before


def outputs(out):
    return sorted(f for f in os.listdir(out) if not f.startswith("run.h5"))


def same_files(ref, out, what):
    for f in outputs(ref):
        if f in ("checkpoint",):
            continue
        if f.endswith((".npy", ".tsv")):
            with open(os.path.join(ref, f), "rb") as a, open(os.path.join(out, f), "rb") as b:
                check(a.read() == b.read(), "%s: %s differs from the uninterrupted run's" % (what, f))
    common.compare_h5(os.path.join(ref, "run.h5"), os.path.join(out, "run.h5"), what)


def stopped(p, out, what):
    """A run stopped by a signal: exit 3, the message, no run.h5, a resumable checkpoint."""
    ok = check(p.returncode == 3, "%s: exit %d, expected 3 (interrupted)\n%s" % (what, p.returncode, p.stderr[-1500:]))
    check("exit status 3" in p.stderr and "resume" in p.stderr, "%s: no resume message: %s" % (what, p.stderr[-500:]))
    check(not os.path.exists(os.path.join(out, "run.h5")), "%s: run.h5 exists after a stop" % what)
    state = os.path.join(out, "checkpoint", "state.json")
    if not check(os.path.exists(state), "%s: no checkpoint/state.json" % what):
        return None
    with open(state) as f:
        st = json.load(f)
    tmp = os.path.join(out, st["tmp"])
    check(os.path.exists(tmp), "%s: the state names %s, which is missing" % (what, st["tmp"]))
    with h5py.File(tmp, "r") as f:
        check(f.attrs["status"] == "interrupted", "%s: tmp status %r" % (what, f.attrs["status"]))
        check(f.attrs["checkpoint_id"] == st["id"], "%s: the tmp file is not the state's" % what)
    saved = sum(j["bytes"] for j in st["journals"])
    check(saved > 0, "%s: nothing durable after the stop: %s" % (what, st["journals"]))
    return st if ok else None


def finished(p, ref_p, ref, out, what):
    if not check(p.returncode == 0, "%s: exit %d\n%s" % (what, p.returncode, p.stderr[-1500:])):
        return
    check("resumed" in p.stderr, "%s: the progress lines do not say what was resumed:\n%s" % (what, p.stderr[-800:]))
    check(tables(p.stdout) == tables(ref_p.stdout) and tables(p.stdout),
          "%s: printed results differ:\n%s\n---\n%s" % (what, "\n".join(tables(p.stdout)[:30]),
                                                     "\n".join(tables(ref_p.stdout)[:30])))
    same_files(ref, out, what)
    left = sorted(os.listdir(out))
    check("checkpoint" not in left and not any(f.startswith("run.h5.tmp-") for f in left),
          "%s: the checkpoint or a tmp file is left after success: %s" % (what, left))


def scenario(args, m, cmd, extra, stops, final_np):
    """Reference at np=1; then one run per (np, signal) in stops, each exiting 3; then final_np."""
    ref = os.path.join(args.work, cmd + "_ref")
    ref_p = run(args, 1, cmd, m, ref, extra)
    if not check(ref_p.returncode == 0, "%s reference: exit %d\n%s" % (cmd, ref_p.returncode, ref_p.stderr[-1500:])):
        return
    out = os.path.join(args.work, cmd + "_resumed")
    os.makedirs(out)
    # a stale tmp file of some other, older run: never taken for this one, removed at the end
    with open(os.path.join(out, "run.h5.tmp-424242"), "w") as f:
        f.write("stale")
    gens = 0
    for np_, sig in stops:
        what = "%s stopped at np=%d by %s" % (cmd, np_, sig)
        st = stopped(run(args, np_, cmd, m, out, extra, signal_after=sig), out, what)
        if st is None:
            return
        check(st["generation"] == gens, "%s: generation %s, expected %d" % (what, st["generation"], gens))
        gens += 1
    p = run(args, final_np, cmd, m, out, extra)
    finished(p, ref_p, ref, out, "%s resumed at np=%d after %d stops" % (cmd, final_np, len(stops)))
    print("%s: stopped %d times (%s), resumed at np=%d: identical" % (cmd, len(stops), stops, final_np))


def plan_batches(lengths, batch_tokens):
    """docs/spec.md's default plan: longest first, greedy batches of at most batch_tokens."""
    n, used = 0, None
    for T in sorted(lengths, reverse=True):
        if used is None or used + T > batch_tokens:
            n, used = n + 1, 0
        used += T
    return n


def stop_at_the_end(args, m):
    """A signal during the second-to-last batch: the last batch is skipped, and the pass must
    not finish without it: exit 3, then the resume gives the uninterrupted bits."""
    ref = os.path.join(args.work, "eval_ref")
    with h5py.File(os.path.join(ref, "run.h5"), "r") as f:
        nb = plan_batches(list(f["/examples/length"][()]), 256)
    out = os.path.join(args.work, "eval_end")
    st = stopped(run(args, 1, "eval", m, out, [], signal_after="%d:TERM" % (nb - 1)), out,
                 "eval stopped in its second-to-last batch of %d" % nb)
    if st is None:
        return
    p = run(args, 2, "eval", m, out, [])
    ref_p = run(args, 1, "eval", m, os.path.join(args.work, "eval_ref2"), [])
    finished(p, ref_p, ref, out, "eval stopped before its last batch, resumed at np=2")
    print("eval: a stop in batch %d of %d skips the last one and resumes to the same bits" % (nb - 1, nb))


def damaged(args, m):
    """A damaged checkpoint is refused with one line naming the file (exit 2); --restart gets past it."""
    out = os.path.join(args.work, "damaged")
    extra = ["--quiet"]
    st = stopped(run(args, 1, "importance", m, out, extra, signal_after="6:TERM"), out, "damaged: the stop")
    if st is None:
        return
    ck = os.path.join(out, "checkpoint")
    journal = os.path.join(ck, st["journals"][0]["file"])
    with open(journal, "r+b") as f:  # one bit of the first record's payload
        f.seek(40)
        b = f.read(1)
        f.seek(40)
        f.write(bytes([b[0] ^ 1]))
    p = run(args, 2, "importance", m, out, extra)
    msg = p.stderr.strip().splitlines()
    check(p.returncode == 2 and len(msg) == 1 and journal in msg[0] and "damaged record at byte 0" in msg[0],
          "a flipped bit in a journal: exit %d, %s" % (p.returncode, msg))
    with open(os.path.join(ck, "state.json"), "r+") as f:
        f.truncate(40)
    p = run(args, 2, "importance", m, out, extra)
    msg = p.stderr.strip().splitlines()
    check(p.returncode == 2 and len(msg) == 1 and "state.json" in msg[0] and "--restart" in msg[0],
          "a cut state.json: exit %d, %s" % (p.returncode, msg))
    p = run(args, 2, "importance", m, out, extra + ["--restart"])
    check(p.returncode == 0 and os.path.exists(os.path.join(out, "run.h5")), "--restart after damage: exit %d %s" % (
        p.returncode, p.stderr[-300:]))
    print("damaged checkpoint: a flipped bit and a cut state.json refused naming the file; --restart recovers")


def refusals(args, m):
    """Another command line on a stopped run is refused naming the option; --restart starts over."""
    out = os.path.join(args.work, "refuse")
    extra = ["--quiet"]
    st = stopped(run(args, 2, "importance", m, out, extra, signal_after="4:TERM"), out, "refusals: the first stop")
    if st is None:
        return
    for bad, flag in ([["--batch-tokens", 512], "--batch-tokens"], [["--max-seq-length", 64], "--max-seq-length"],
                      [["--no-layer-norm"], "--no-layer-norm"]):
        argv = ["importance", "--model", m, "--task", "sst-2", "--data", args.sst2, "--out", out, "--threads", 1,
                "--quiet"] + bad
        if "--batch-tokens" not in bad:
            argv += ["--batch-tokens", 256]
        p = common.mpirun(args, 2, argv, quiet=True)
        msg = p.stderr.strip().splitlines()
        check(p.returncode == 2 and len(msg) == 1 and flag in msg[0] and "--restart" in msg[0],
              "another %s on a stopped run: exit %d, %s" % (flag, p.returncode, msg))
    p = common.mpirun(args, 1, ["eval", "--model", m, "--task", "sst-2", "--data", args.sst2, "--out", out,
                                "--threads", 1, "--batch-tokens", 256, "--quiet"], quiet=True)
    check(p.returncode == 2 and "importance" in p.stderr and "--restart" in p.stderr,
          "eval on a stopped importance run: exit %d, %s" % (p.returncode, p.stderr.strip()))
    # --quiet/--verbose/--checkpoint-every may differ: this resumes
    p = run(args, 1, "importance", m, out, ["--verbose", "--checkpoint-every", 1000, "--batch-tokens", 256])
    check(p.returncode == 0 and "resumed" in p.stderr, "resume with --verbose: exit %d %s" % (p.returncode, p.stderr[-500:]))
    # --restart throws the checkpoint away and computes everything
    os.remove(os.path.join(out, "run.h5"))  # the committed file of the resumed run above
    st = stopped(run(args, 1, "importance", m, out, extra, signal_after="3:INT"), out, "refusals: the second stop")
    p = run(args, 1, "importance", m, out, extra + ["--restart", "--max-seq-length", 64])
    check(p.returncode == 0 and "resumed" not in p.stderr and not os.path.exists(os.path.join(out, "checkpoint")),
          "--restart: exit %d %s" % (p.returncode, p.stderr[-500:]))
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        check(json.loads(f.attrs["options"])["max_seq_length"] == 64, "--restart did not run the new options")
    print("refusals: other options, another command refused; --verbose resumes; --restart starts over")


def main():
    args = common.setup(common.parser(__doc__).parse_args())
    m = common.model(args, "model", layers=3, hidden=64, heads=4, seed=5)
    scenario(args, m, "importance", ["--save-attentions", "--save-hidden", "--dtype", "f32"],
             [(2, "10:USR1"), (3, "8:TERM")], 1)
    scenario(args, m, "eval", [], [(1, "20:TERM")], 3)
    stop_at_the_end(args, m)
    scenario(args, m, "ablate", ["--subset", 96], [(2, "3:USR1")], 1)
    # 10 batches per pass: the stop at the 14th saved batch lands inside masking step 1
    scenario(args, m, "mask", ["--subset", 128, "--amount", 0.25], [(1, "14:TERM"), (2, "9:INT")], 3)
    refusals(args, m)
    damaged(args, m)
    # the hard-kill reference: importance with attentions
    kill_ref = os.path.join(args.work, "kill_ref")
    p = run(args, 1, "importance", m, kill_ref, ["--save-attentions", "--dtype", "f32", "--checkpoint-every", "0.001"])
    check(p.returncode == 0, "hard-kill reference: exit %d" % p.returncode)
    out = os.path.join(args.work, "killed")
    extra = ["--save-attentions", "--dtype", "f32", "--checkpoint-every", "0.001"]
    p = run(args, 2, "importance", m, out, extra, signal_after="12:KILL")
    check(p.returncode != 0 and not os.path.exists(os.path.join(out, "run.h5")),
          "hard kill: exit %d, files %s" % (p.returncode, os.listdir(out) if os.path.isdir(out) else None))
    state = os.path.join(out, "checkpoint", "state.json")
    if check(os.path.exists(state), "hard kill: no state.json"):
        with open(state) as f:
            st = json.load(f)
        check(sum(j["bytes"] for j in st["journals"]) > 0, "hard kill: no batch was durable before the kill")
        p = run(args, 3, "importance", m, out, extra)
        if check(p.returncode == 0, "resume after a hard kill: exit %d\n%s" % (p.returncode, p.stderr[-1500:])):
            m_res = re.search(r"\((\d+) examples resumed", p.stderr)
            check(m_res is not None and int(m_res.group(1)) > 0, "resume after a hard kill resumed nothing")
            common.compare_h5(os.path.join(kill_ref, "run.h5"), os.path.join(out, "run.h5"), "hard kill, resumed at np=3")
            print("hard kill of rank 0 after 12 batches: %s examples kept" % (m_res.group(1) if m_res else "?"))
    if not common.failures:
        import shutil
        shutil.rmtree(args.work, ignore_errors=True)
    return common.finish()


if __name__ == "__main__":
    sys.exit(main())
