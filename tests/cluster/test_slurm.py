"""The job scripts of jobs/ under a real Slurm (tests/cluster/slurm_cluster.py: slurmctld,
slurmd and munge from Debian, MpiDefault=none as Debian ships it):

* `sbatch jobs/importance.sbatch` with 2 tasks on the bundled demo model completes, chooses an
  srun MPI plugin by itself (no SRUN_MPI), and its head_importance.npy, attn_entropy.npy and
  run.h5 (every dataset, every attribute but the volatile ones) equal `mpirun -np 1` bitwise;
* `sbatch --array=0-1 jobs/glue_array.sbatch` over two tasks (SST-2 and RTE) completes, each
  element writing OUT/<task>/ equal to its own `mpirun -np 1` run.

* a job stopped by `scancel --signal=USR1 --batch` (what `--signal=B:USR1@120` sends before the
  time limit) stops its ranks at a batch boundary, requeues itself, and the requeued job resumes
  from the checkpoint and ends with the same bits as `mpirun -np 1`.

Skipped (exit 77, ctest: skipped) with the reason when the Slurm daemons cannot start here.
"""
import os
import tempfile
import time

import pytest

from bttest import BERTOLOGY, DEMO_MODEL, GLUE, SOURCE, bertology, run_differences
from slurm_cluster import SlurmCluster, SlurmUnavailable

SUBSET = 40


def same_run(check, a, b, what):
    files = ("head_importance.npy", "attn_entropy.npy", "run.h5")
    missing = [f for f in files if not os.path.exists(os.path.join(b, f))]
    if not check(not missing, "%s: no %s" % (what, ", ".join(missing))):
        return
    diffs = run_differences(a, b)
    check(not diffs, "%s vs mpirun -np 1: %s" % (what, "\n".join(diffs)))
    print("%s: run.h5 and the .npy files bitwise equal to mpirun -np 1" % what)


def importance_np1(out, model, *extra, task="sst-2", data=None):
    bertology(["importance", "--model", model, "--task", task, "--data", data or os.path.join(GLUE, "SST-2"), "--out",
               out, "--threads", 1] + list(extra), np=1, timeout=180)


def sbatch(check, sl, argv, what, env=None):
    e = dict(sl.env, BERTOLOGY=BERTOLOGY, **(env or {}))
    e.pop("SRUN_MPI", None)  # the script must find the plugin itself
    r = sl.run(["sbatch", "--wait", "--nodes=1", "--ntasks-per-node=2", "--cpus-per-task=1",
                "--time=10"] + argv, env=e, timeout=600, cwd=SOURCE)
    check(r.returncode == 0, "%s: sbatch --wait exit %d\n%s%s\nslurmctld: %s" % (
        what, r.returncode, r.stdout, r.stderr, sl.log("slurmctld")[-1500:]))
    return r


def test_requeue(slurm, work, check):
    """scancel --signal=USR1 --batch mid-pass: the job requeues itself and resumes bitwise."""
    sl, model, jobs = slurm, DEMO_MODEL, os.path.join(SOURCE, "jobs")
    flags = ["--subset", str(SUBSET), "--save-attentions", "--batch-tokens", "64"]
    # the reference: the same flags as the script passes (progress lines on: they say "resumed")
    ref = os.path.join(work, "np1-requeue")
    importance_np1(ref, model, "--split", "dev", *flags)
    out = os.path.join(work, "requeue")
    log = os.path.join(work, "requeue-%j.log")
    # a pause after every batch stretches the pass to ~8 s, so that the signal lands inside it
    e = dict(sl.env, BERTOLOGY=BERTOLOGY, BT_TEST_BATCH_SECONDS="1")
    e.pop("SRUN_MPI", None)
    r = sl.run(["sbatch", "--parsable", "--nodes=1", "--ntasks-per-node=2", "--cpus-per-task=1", "--time=10",
                "--output", log, os.path.join(jobs, "importance.sbatch"), model, "sst-2",
                os.path.join(GLUE, "SST-2"), out] + flags, env=e, cwd=SOURCE, timeout=60)
    if not check(r.returncode == 0, "requeue: sbatch exit %d %s" % (r.returncode, r.stderr)):
        return
    job = r.stdout.strip().split(";")[0]
    # once the run has opened its checkpoint (the pass starts), signal the batch shell as Slurm
    # does before a time limit
    journal = os.path.join(out, "checkpoint", "journal-g0-r0")
    t0 = time.time()
    while time.time() - t0 < 120 and not os.path.exists(journal):
        time.sleep(0.1)
    time.sleep(2.0)
    r = sl.run(["scancel", "--signal=USR1", "--batch", job], timeout=30)
    check(r.returncode == 0, "requeue: scancel exit %d %s" % (r.returncode, r.stderr))
    # requeued: the same job runs again and completes
    t0 = time.time()
    restarts = "0"
    while time.time() - t0 < 300:
        restarts = sl.job_field(job, "Restarts") or "0"
        st = sl.job_field(job, "JobState")
        if st in ("FAILED", "CANCELLED", "TIMEOUT") or (restarts != "0" and st == "COMPLETED"):
            break
        if restarts == "0" and st == "COMPLETED":  # finished before the signal: nothing to resume
            break
        time.sleep(0.5)
    text = "".join(open(os.path.join(work, f)).read() for f in os.listdir(work) if f.startswith("requeue-"))
    check(restarts != "0" and sl.job_field(job, "JobState") == "COMPLETED",
          "requeue: job %s state %s after %s restarts\n%s" % (job, sl.job_field(job, "JobState"), restarts, text[-2500:]))
    check("SIGUSR1 received" in text and "requeueing job" in text and "resumed" in text,
          "requeue: the log does not show stop, requeue and resume:\n" + text[-2500:])
    same_run(check, ref, out, "importance.sbatch stopped by scancel --signal=USR1, requeued and resumed")


@pytest.fixture(scope="module")
def slurm():
    """slurmctld, slurmd and munge started for these tests (skipped, with the reason, where they
    cannot start). slurm.conf and munge cannot take paths with spaces (the checkout's may have
    them): the daemons' files go to a directory of their own under /tmp."""
    try:
        with SlurmCluster(tempfile.mkdtemp(prefix="bt-slurm-")) as sl:
            yield sl
    except SlurmUnavailable as e:
        pytest.skip("Slurm cannot run here: %s" % e)


def test_importance_sbatch(slurm, work, check):
    """importance.sbatch, 2 ranks through srun"""
    model, jobs = DEMO_MODEL, os.path.join(SOURCE, "jobs")
    ref = os.path.join(work, "np1")
    importance_np1(ref, model, "--subset", SUBSET, "--save-attentions", "--quiet")
    out = os.path.join(work, "sbatch")
    log = os.path.join(work, "importance-%j.log")
    sbatch(check, slurm, ["--output", log, os.path.join(jobs, "importance.sbatch"), model, "sst-2",
                          os.path.join(GLUE, "SST-2"), out, "--subset", str(SUBSET), "--save-attentions", "--quiet"],
           "importance.sbatch")
    logs = [f for f in os.listdir(work) if f.startswith("importance-")]
    text = "".join(open(os.path.join(work, f)).read() for f in logs)
    check("--mpi=pmix" in text or "--mpi=pmi2" in text, "importance.sbatch did not choose an srun MPI plugin:\n"
          + text[-1500:])
    check("2 ranks" in text, "importance.sbatch: not 2 ranks:\n" + text[-1500:])
    same_run(check, ref, out, "importance.sbatch")


def test_glue_array(slurm, work, check):
    """glue_array.sbatch, array of two tasks"""
    model, jobs = DEMO_MODEL, os.path.join(SOURCE, "jobs")
    outs = os.path.join(work, "array")
    sbatch(check, slurm, ["--array=0-1", "--output", os.path.join(work, "array-%A_%a.log"),
                          os.path.join(jobs, "glue_array.sbatch"), "--subset", str(SUBSET), "--quiet"],
           "glue_array.sbatch",
           env={"MODEL": model, "DATA": GLUE, "OUT": outs, "GLUE_TASKS": "sst-2 rte", "JOBS_DIR": jobs})
    for task in ("sst-2", "rte"):
        ref_t = os.path.join(work, "np1-" + task)
        # --data as the array gives it (the GLUE root): it is recorded in run.h5
        importance_np1(ref_t, model, "--subset", SUBSET, "--quiet", task=task, data=GLUE)
        same_run(check, ref_t, os.path.join(outs, task), "glue_array.sbatch %s" % task)
