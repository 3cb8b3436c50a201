"""A run killed mid-way never leaves a run.h5.

`mpirun -np 2 bertology importance --save-attentions --save-hidden` on SST-2 dev is started in
its own session; shortly after the temporary file run.h5.tmp-* appeared (so while rows are
being written), mpirun alone gets
SIGTERM (what Slurm's scancel and a Ctrl-C send) or SIGKILL (the ranks then lose their launcher
and must go down by themselves). Then, after waiting longer than a whole undisturbed run takes:
mpirun exited non-zero, no rank is left running, there is no run.h5, the tmp file is still
there, and it does not claim to be complete (status "running" or "aborted", or unreadable).
Finally an uninterrupted run with other options and --restart into the same directory commits
run.h5 and removes the stale tmp file and the checkpoint (resuming is tests/sweep/test_resume.py).
"""
import glob
import os
import shutil
import signal
import subprocess
import time

import h5py
import pytest

from bttest import BERTOLOGY, SST2, Background, bertology, models

FLAGS = ["--threads", "1", "--quiet", "--batch-tokens", "256", "--save-attentions", "--save-hidden", "--dtype", "f32"]
pytestmark = pytest.mark.usefixtures("blas_one_thread")


def importance(model, out, *extra):
    return ["importance", "--model", model, "--task", "sst-2", "--data", SST2, "--out", out] + list(extra)


@pytest.fixture(scope="module")
def undisturbed(work, request):
    """The model (big enough that a run lasts seconds on an idle machine: the kill must land
    mid-pass) and how long an undisturbed run takes (the kills happen well inside it). The
    ~300 MB of tensors are removed when every test passed."""
    m = models.bert(os.path.join(work, "model"), layers=8, hidden=256, heads=4, seed=2)
    full = os.path.join(work, "full")
    r = bertology(importance(m, full, *FLAGS), np=2, timeout=600)
    assert os.path.exists(os.path.join(full, "run.h5")), "the undisturbed run did not commit run.h5"
    print("undisturbed run: %.1f s" % r.seconds)
    yield m, r.seconds
    if request.session.testsfailed == 0:
        shutil.rmtree(work, ignore_errors=True)


def run_and_kill(check, work, m, name, sig, full_secs):
    out = os.path.join(work, name)
    os.makedirs(out)
    with Background([BERTOLOGY] + importance(m, out, *FLAGS), np=2) as p:
        t0, tmp = time.time(), None
        # the tmp file is created at its full size when the pass starts (datasets are allocated
        # up front), so wait for it, then a little: rows are being written then
        while time.time() - t0 < 60 and p.poll() is None and tmp is None:
            found = glob.glob(os.path.join(out, "run.h5.tmp-*"))
            tmp = found[0] if found else None
            time.sleep(0.02)
        if tmp:
            # early enough that a fast machine is still in the pass (the pass is most of a run)
            time.sleep(min(full_secs / 5, 0.5))
        size = os.path.getsize(tmp) if tmp else 0
        killed_at = time.time() - t0
        assert p.poll() is None and tmp is not None, \
            "%s: the run finished (or never wrote) before it could be killed (%.1f s)" % (name, killed_at)
        p.signal(sig)
        try:
            rc = p.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            rc = None
        # ranks orphaned by a SIGKILLed mpirun must stop by themselves: wait past a full run
        deadline = time.time() + max(10.0, 2 * full_secs)
        while p.alive() and time.time() < deadline:
            time.sleep(0.2)
        left = p.alive()
        check(not left, "%s: processes %s still running after the kill" % (name, left))
    # (leaving the with block killed whatever was left of the session)
    check(rc is not None and rc != 0, "%s: mpirun exit %s after %s" % (name, rc, sig.name))
    files = sorted(os.listdir(out))
    check("run.h5" not in files, "%s: run.h5 exists after %s: %s" % (name, sig.name, files))
    check(os.path.exists(tmp), "%s: the tmp file %s is gone: %s" % (name, tmp, files))
    status = None
    try:
        with h5py.File(tmp, "r") as f:
            status = f.attrs.get("status")
    except OSError:
        status = "(unreadable)"
    check(status != "complete", "%s: killed file says status %r" % (name, status))
    print("%s: killed after %.2f s (tmp %d bytes); mpirun exit %s; left %s; tmp status %r" % (
        name, killed_at, size, rc, files, status))
    return out


def test_sigterm(undisturbed, work, check):
    m, full_secs = undisturbed
    run_and_kill(check, work, m, "sigterm", signal.SIGTERM, full_secs)


def test_sigkill_then_restart(undisturbed, work, check):
    """SIGKILL; then a rerun with other options and --restart commits, and cleans up what was left"""
    m, full_secs = undisturbed
    out = run_and_kill(check, work, m, "sigkill", signal.SIGKILL, full_secs)
    bertology(importance(m, out, "--threads", 1, "--quiet", "--subset", 16, "--restart"), np=2, timeout=180)
    files = os.listdir(out)
    check("run.h5" in files and not any(f.startswith("run.h5.tmp-") for f in files)
          and "checkpoint" not in files, "rerun after a kill: %s" % files)
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        check(f.attrs["status"] == "complete" and f.attrs["n_examples"] == 16,
              "rerun's run.h5 is not the complete 16-example file")
