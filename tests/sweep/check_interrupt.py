#!/usr/bin/python3
"""A run killed mid-way never leaves a run.h5.

`mpirun -np 2 bertology importance --save-attentions --save-hidden` on SST-2 dev is started in
its own session; shortly after the temporary file run.h5.tmp-* appeared (so while rows are
being written), mpirun alone gets
SIGTERM (what Slurm's scancel and a Ctrl-C send) or SIGKILL (the ranks then lose their launcher
and must go down by themselves). Then, after waiting longer than a whole undisturbed run takes:
mpirun exited non-zero, no rank is left running, there is no run.h5, the tmp file is still
there, and it does not claim to be complete (status "running" or "aborted", or unreadable).
Finally an uninterrupted run with other options and --restart into the same directory commits
run.h5 and removes the stale tmp file and the checkpoint (resuming is tests/sweep/check_resume.py).
"""
import glob
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import check, session_alive  # noqa: E402


def run_and_kill(args, m, name, sig, full_secs):
    out = os.path.join(args.work, name)
    os.makedirs(out)
    cmd = [args.mpiexec, "--oversubscribe", "--allow-run-as-root", "-np", "2", args.bertology,
           "importance", "--model", m, "--task", "sst-2", "--data", args.sst2, "--out", out,
           "--threads", "1", "--quiet", "--batch-tokens", "256", "--save-attentions",
           "--save-hidden", "--dtype", "f32"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    t0, tmp = time.time(), None
    # the tmp file is created at its full size when the pass starts (datasets are allocated up
    # front), so wait for it, then for a third of a whole run: rows are being written then
    while time.time() - t0 < 60 and p.poll() is None and tmp is None:
        found = glob.glob(os.path.join(out, "run.h5.tmp-*"))
        tmp = found[0] if found else None
        time.sleep(0.02)
    if tmp:
        # early enough that a fast machine is still in the pass (the pass is most of a run)
        time.sleep(min(full_secs / 5, 0.5))
    size = os.path.getsize(tmp) if tmp else 0
    killed_at = time.time() - t0
    if not check(p.poll() is None and tmp is not None,
                 "%s: the run finished (or never wrote) before it could be killed (%.1f s)"
                 % (name, killed_at)):
        p.kill()
        p.wait()
        return
    os.kill(p.pid, sig)
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        rc = None
    # ranks orphaned by a SIGKILLed mpirun must stop by themselves: wait past a full run
    deadline = time.time() + max(10.0, 2 * full_secs)
    while session_alive(p.pid) and time.time() < deadline:
        time.sleep(0.2)
    left = session_alive(p.pid)
    check(not left, "%s: processes %s still running after the kill" % (name, left))
    for pid in left:  # clean up our own session only
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
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


def main():
    args = common.setup(common.parser(__doc__).parse_args())
    # big enough that a run lasts seconds on an idle machine: the kill must land mid-pass
    m = common.model(args, "model", layers=8, hidden=256, heads=4, seed=2)
    # how long an undisturbed run takes (the kills happen well inside it)
    t0 = time.time()
    full = common.importance(args, 2, os.path.join(args.work, "full"), m, "--batch-tokens", 256,
                             "--save-attentions", "--save-hidden", "--dtype", "f32", timeout=600)
    full_secs = time.time() - t0
    check(full is not None and os.path.exists(os.path.join(args.work, "full", "run.h5")),
          "the undisturbed run did not commit run.h5")
    print("undisturbed run: %.1f s" % full_secs)
    run_and_kill(args, m, "sigterm", signal.SIGTERM, full_secs)
    out = run_and_kill(args, m, "sigkill", signal.SIGKILL, full_secs)
    if out:  # a rerun with other options and --restart commits, and cleans up what was left
        common.importance(args, 2, out, m, "--subset", 16, "--restart")
        files = os.listdir(out)
        check("run.h5" in files and not any(f.startswith("run.h5.tmp-") for f in files)
              and "checkpoint" not in files, "rerun after a kill: %s" % files)
        with h5py.File(os.path.join(out, "run.h5"), "r") as f:
            check(f.attrs["status"] == "complete" and f.attrs["n_examples"] == 16,
                  "rerun's run.h5 is not the complete 16-example file")
    if not common.failures:  # ~300 MB of tensors; kept for inspection only when a check failed
        shutil.rmtree(args.work, ignore_errors=True)
    return common.finish()


if __name__ == "__main__":
    sys.exit(main())
