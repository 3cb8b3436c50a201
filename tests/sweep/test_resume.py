"""Interrupted runs resume to the bits of an uninterrupted run (docs/resume.md, issue 12).

For importance (with --save-attentions --save-hidden; and --method attattr --save-attributions), eval (with --save-rollout), ablate and mask (inside its
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
import json
import os
import re
import shutil

import h5py
import pytest

from bttest import SST2, bertology, models, run_differences

TIMING = re.compile(r"(\d+\.\d+ s|tokens/s|ex/s|seconds|s/example)")
pytestmark = pytest.mark.usefixtures("blas_one_thread")


def tables(stdout):
    """The printed results without lines that carry wall times or rank counts."""
    return [ln for ln in stdout.splitlines() if not TIMING.search(ln) and "rank" not in ln]


def run(np_, cmd, model, out, extra, signal_after=None):
    """`bertology CMD` on SST-2 under mpirun -np NP, its Result whatever the exit code;
    signal_after: BT_TEST_SIGNAL_AFTER (N:SIG)."""
    argv = [cmd, "--model", model, "--task", "sst-2", "--data", SST2, "--out", out,
            "--threads", 1, "--batch-tokens", 256] + list(extra)
    return bertology(argv, np=np_, quiet_mpi=True, timeout=600, expect=None,
                     env={"BT_TEST_SIGNAL_AFTER": signal_after})


def outputs(out):
    return sorted(f for f in os.listdir(out) if not f.startswith("run.h5"))


def same_files(check, ref, out, what):
    """The .npy and .tsv files byte for byte, run.h5 bitwise."""
    npy = [f for f in outputs(ref) if f.endswith((".npy", ".tsv"))]
    diffs = run_differences(ref, out, npy=npy)
    check(not diffs, "%s: differs from the uninterrupted run: %s" % (what, "\n".join(diffs)))


def stopped(check, p, out, what):
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


def finished(check, p, ref_p, ref, out, what):
    if not check(p.returncode == 0, "%s: exit %d\n%s" % (what, p.returncode, p.stderr[-1500:])):
        return
    check("resumed" in p.stderr, "%s: the progress lines do not say what was resumed:\n%s" % (what, p.stderr[-800:]))
    check(tables(p.stdout) == tables(ref_p.stdout) and tables(p.stdout),
          "%s: printed results differ:\n%s\n---\n%s" % (what, "\n".join(tables(p.stdout)[:30]),
                                                       "\n".join(tables(ref_p.stdout)[:30])))
    same_files(check, ref, out, what)
    left = sorted(os.listdir(out))
    check("checkpoint" not in left and not any(f.startswith("run.h5.tmp-") for f in left),
          "%s: the checkpoint or a tmp file is left after success: %s" % (what, left))


@pytest.fixture(scope="module")
def model(work, request):
    """The model every case runs; the scratch directory is emptied when every test passed."""
    yield models.bert(os.path.join(work, "model"), layers=3, hidden=64, heads=4, seed=5)
    if request.session.testsfailed == 0:
        shutil.rmtree(work, ignore_errors=True)


def reference(work, m, cmd, extra, name=None):
    """The uninterrupted run at np=1 in WORK/NAME_ref (NAME: cmd): (its directory, its Result)."""
    ref = os.path.join(work, (name or cmd) + "_ref")
    if os.path.exists(ref):
        shutil.rmtree(ref)
    ref_p = run(1, cmd, m, ref, extra)
    assert ref_p.returncode == 0, ref_p.report("%s reference" % cmd)
    return ref, ref_p


def scenario(check, work, m, cmd, extra, stops, final_np, name=None):
    """Reference at np=1; then one run per (np, signal) in stops, each exiting 3; then final_np."""
    ref, ref_p = reference(work, m, cmd, extra, name)
    out = os.path.join(work, (name or cmd) + "_resumed")
    os.makedirs(out)
    # a stale tmp file of some other, older run: never taken for this one, removed at the end
    with open(os.path.join(out, "run.h5.tmp-424242"), "w") as f:
        f.write("stale")
    gens = 0
    for np_, sig in stops:
        what = "%s stopped at np=%d by %s" % (cmd, np_, sig)
        st = stopped(check, run(np_, cmd, m, out, extra, signal_after=sig), out, what)
        assert st is not None, what
        check(st["generation"] == gens, "%s: generation %s, expected %d" % (what, st["generation"], gens))
        gens += 1
    p = run(final_np, cmd, m, out, extra)
    finished(check, p, ref_p, ref, out, "%s resumed at np=%d after %d stops" % (cmd, final_np, len(stops)))
    print("%s: stopped %d times (%s), resumed at np=%d: identical" % (cmd, len(stops), stops, final_np))


def test_importance(model, work, check):
    scenario(check, work, model, "importance", ["--save-attentions", "--save-hidden", "--dtype", "f32"],
             [(2, "10:USR1"), (3, "8:TERM")], 1)


def test_importance_attattr(model, work, check):
    # the attribution's per-example maps and scores, and its sums, across a stop at np=2
    scenario(check, work, model, "importance", ["--method", "attattr", "--steps", 2, "--subset", 48, "--batch-tokens",
                                                 128, "--save-attributions", "--dtype", "f32"],
             [(2, "2:USR1")], 3, name="attattr")


def test_eval(model, work, check):
    scenario(check, work, model, "eval", ["--save-rollout"], [(1, "20:TERM")], 3)


def test_ablate(model, work, check):
    scenario(check, work, model, "ablate", ["--subset", 96], [(2, "3:USR1")], 1)


def test_mask(model, work, check):
    # 10 batches per pass: the stop at the 14th saved batch lands inside masking step 1
    scenario(check, work, model, "mask", ["--subset", 128, "--amount", 0.25], [(1, "14:TERM"), (2, "9:INT")], 3)


def plan_batches(lengths, batch_tokens):
    """docs/spec.md's default plan: longest first, greedy batches of at most batch_tokens."""
    n, used = 0, None
    for T in sorted(lengths, reverse=True):
        if used is None or used + T > batch_tokens:
            n, used = n + 1, 0
        used += T
    return n


def test_stop_at_the_end(model, work, check):
    """A signal during the second-to-last batch: the last batch is skipped, and the pass must
    not finish without it: exit 3, then the resume gives the uninterrupted bits."""
    ref, ref_p = reference(work, model, "eval", [], name="eval_end")
    with h5py.File(os.path.join(ref, "run.h5"), "r") as f:
        nb = plan_batches(list(f["/examples/length"][()]), 256)
    out = os.path.join(work, "eval_end")
    st = stopped(check, run(1, "eval", model, out, [], signal_after="%d:TERM" % (nb - 1)), out,
                 "eval stopped in its second-to-last batch of %d" % nb)
    assert st is not None
    p = run(2, "eval", model, out, [])
    finished(check, p, ref_p, ref, out, "eval stopped before its last batch, resumed at np=2")
    print("eval: a stop in batch %d of %d skips the last one and resumes to the same bits" % (nb - 1, nb))


def test_damaged(model, work, check):
    """A damaged checkpoint is refused with one line naming the file (exit 2); --restart gets past it."""
    out = os.path.join(work, "damaged")
    extra = ["--quiet"]
    st = stopped(check, run(1, "importance", model, out, extra, signal_after="6:TERM"), out, "damaged: the stop")
    assert st is not None
    ck = os.path.join(out, "checkpoint")
    journal = os.path.join(ck, st["journals"][0]["file"])
    with open(journal, "r+b") as f:  # one bit of the first record's payload
        f.seek(40)
        b = f.read(1)
        f.seek(40)
        f.write(bytes([b[0] ^ 1]))
    p = run(2, "importance", model, out, extra)
    msg = p.stderr.strip().splitlines()
    check(p.returncode == 2 and len(msg) == 1 and journal in msg[0] and "damaged record at byte 0" in msg[0],
          "a flipped bit in a journal: exit %d, %s" % (p.returncode, msg))
    with open(os.path.join(ck, "state.json"), "r+") as f:
        f.truncate(40)
    p = run(2, "importance", model, out, extra)
    msg = p.stderr.strip().splitlines()
    check(p.returncode == 2 and len(msg) == 1 and "state.json" in msg[0] and "--restart" in msg[0],
          "a cut state.json: exit %d, %s" % (p.returncode, msg))
    p = run(2, "importance", model, out, extra + ["--restart"])
    check(p.returncode == 0 and os.path.exists(os.path.join(out, "run.h5")), "--restart after damage: exit %d %s" % (
        p.returncode, p.stderr[-300:]))
    print("damaged checkpoint: a flipped bit and a cut state.json refused naming the file; --restart recovers")


def test_refusals(model, work, check):
    """Another command line on a stopped run is refused naming the option; --restart starts over."""
    m = model
    out = os.path.join(work, "refuse")
    extra = ["--quiet"]
    st = stopped(check, run(2, "importance", m, out, extra, signal_after="4:TERM"), out, "refusals: the first stop")
    assert st is not None
    for bad, flag in ([["--batch-tokens", 512], "--batch-tokens"], [["--max-seq-length", 64], "--max-seq-length"],
                      [["--no-layer-norm"], "--no-layer-norm"]):
        argv = ["importance", "--model", m, "--task", "sst-2", "--data", SST2, "--out", out, "--threads", 1,
                "--quiet"] + bad
        if "--batch-tokens" not in bad:
            argv += ["--batch-tokens", 256]
        p = bertology(argv, np=2, quiet_mpi=True, timeout=180, expect=None)
        msg = p.stderr.strip().splitlines()
        check(p.returncode == 2 and len(msg) == 1 and flag in msg[0] and "--restart" in msg[0],
              "another %s on a stopped run: exit %d, %s" % (flag, p.returncode, msg))
    p = bertology(["eval", "--model", m, "--task", "sst-2", "--data", SST2, "--out", out, "--threads", 1,
                   "--batch-tokens", 256, "--quiet"], np=1, quiet_mpi=True, timeout=180, expect=None)
    check(p.returncode == 2 and "importance" in p.stderr and "--restart" in p.stderr,
          "eval on a stopped importance run: exit %d, %s" % (p.returncode, p.stderr.strip()))
    # --quiet/--verbose/--checkpoint-every may differ: this resumes
    p = run(1, "importance", m, out, ["--verbose", "--checkpoint-every", 1000, "--batch-tokens", 256])
    check(p.returncode == 0 and "resumed" in p.stderr, "resume with --verbose: exit %d %s" % (p.returncode, p.stderr[-500:]))
    # --restart throws the checkpoint away and computes everything
    os.remove(os.path.join(out, "run.h5"))  # the committed file of the resumed run above
    stopped(check, run(1, "importance", m, out, extra, signal_after="3:INT"), out, "refusals: the second stop")
    p = run(1, "importance", m, out, extra + ["--restart", "--max-seq-length", 64])
    check(p.returncode == 0 and "resumed" not in p.stderr and not os.path.exists(os.path.join(out, "checkpoint")),
          "--restart: exit %d %s" % (p.returncode, p.stderr[-500:]))
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        check(json.loads(f.attrs["options"])["max_seq_length"] == 64, "--restart did not run the new options")
    print("refusals: other options, another command refused; --verbose resumes; --restart starts over")


# every command whose summary adds datasets or attributes after the pass (importance's method,
# attattr's /attribution, mask's /masking, ablate's /ablation); the killed run under mpirun -np 2,
# or one process without mpirun (None)
COMMIT_KILLS = [("importance", [], None), ("importance", ["--method", "attattr", "--steps", 2, "--subset", 24], 2),
                ("mask", ["--subset", 64, "--amount", 0.25], None), ("ablate", ["--subset", 48], 2)]


@pytest.mark.parametrize("cmd,extra,np_", COMMIT_KILLS, ids=["importance", "attattr", "mask", "ablate"])
def test_kill_before_the_rename(model, work, check, cmd, extra, np_):
    """SIGKILL after the summary reached the file, before the rename (BT_TEST_SIGNAL_AFTER=commit:KILL:
    the window between the commit's close and its rename): the resumed run finds its summary's
    datasets and attributes in the file and writes them again, to the bits of an uninterrupted run.
    (sweep.stop_random's signals at random moments land in this window too, rarely.)"""
    name = "commit_" + "_".join([cmd] + [str(e).strip("-") for e in extra[:2]])
    ref, ref_p = reference(work, model, cmd, extra, name=name)
    out = os.path.join(work, name)
    p = run(np_, cmd, model, out, extra, signal_after="commit:KILL")
    check(p.returncode != 0 and not os.path.exists(os.path.join(out, "run.h5")),
          "%s killed at the commit: exit %d, files %s" % (name, p.returncode, os.listdir(out)))
    with open(os.path.join(out, "checkpoint", "state.json")) as f:
        tmp = os.path.join(out, json.load(f)["tmp"])
    with h5py.File(tmp, "r") as f:  # the case this test is about: the summary is in the file
        check("method" in f["/importance"].attrs if cmd == "importance" else "/" + cmd.replace("mask", "masking")
              .replace("ablate", "ablation") in f, "%s: the killed run's file has no summary" % name)
    p = run(1, cmd, model, out, extra)
    check(p.returncode == 0, "%s resumed after a kill at the commit: exit %d\n%s" % (name, p.returncode, p.stderr[-1500:]))
    if p.returncode == 0:
        same_files(check, ref, out, name + " resumed after a kill at the commit")


def test_hard_kill(model, work, check):
    """SIGKILL of rank 0 after 12 batches: the work of the last periodic sync survives, the resume
    at np=3 gives the bits of the uninterrupted run."""
    m = model
    extra = ["--save-attentions", "--dtype", "f32", "--checkpoint-every", "0.001"]
    kill_ref = os.path.join(work, "kill_ref")
    p = run(1, "importance", m, kill_ref, extra)
    assert p.returncode == 0, p.report("hard-kill reference")
    out = os.path.join(work, "killed")
    p = run(2, "importance", m, out, extra, signal_after="12:KILL")
    check(p.returncode != 0 and not os.path.exists(os.path.join(out, "run.h5")),
          "hard kill: exit %d, files %s" % (p.returncode, os.listdir(out) if os.path.isdir(out) else None))
    state = os.path.join(out, "checkpoint", "state.json")
    assert os.path.exists(state), "hard kill: no state.json"
    with open(state) as f:
        st = json.load(f)
    check(sum(j["bytes"] for j in st["journals"]) > 0, "hard kill: no batch was durable before the kill")
    p = run(3, "importance", m, out, extra)
    assert p.returncode == 0, p.report("resume after a hard kill")
    m_res = re.search(r"\((\d+) examples resumed", p.stderr)
    check(m_res is not None and int(m_res.group(1)) > 0, "resume after a hard kill resumed nothing")
    diffs = run_differences(kill_ref, out, npy=())
    check(not diffs, "hard kill, resumed at np=3: %s" % "\n".join(diffs))
    print("hard kill of rank 0 after 12 batches: %s examples kept" % (m_res.group(1) if m_res else "?"))
