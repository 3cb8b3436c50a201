"""The job scripts of jobs/: static checks, then each run end to end on a small random model.

* `bash -n` and shellcheck (when installed) on every script; the #SBATCH directives come before
  the first command (Slurm stops reading them there) and set nodes, ntasks-per-node,
  cpus-per-task, time and output; the array script sets --array with one index per default task.
* run_local.sh with NP=2: run.h5 committed by 2 ranks, .npy files written; exit 2 on bad input
  and on missing arguments; SIGTERM (as ^C) reaches the ranks after the 2 s it gives Open MPI's
  odls_base_sigkill_timeout, and they say so and leave a checkpoint covering every batch done.
* importance.sbatch with tests/sweep/fake_slurm/srun first on PATH (it logs its command line and
  execs mpirun with SLURM_NTASKS ranks): arguments and environment-variable forms, threads taken
  from SLURM_CPUS_PER_TASK (bertology's --threads, OMP_NUM_THREADS, srun --cpus-per-task), the
  tmp name from SLURM_JOB_ID, a missing variable refused before srun runs.
* glue_array.sbatch for array indices 0 and 1 of GLUE_TASKS="sst-2 rte" with a "{task}" model
  template: each task in OUT/<task>; an index past the list is refused.
"""
import json
import os
import re
import shutil
import signal
import time

import h5py
import pytest

from bttest import BERTOLOGY, GLUE, MPIEXEC, RANK_RC, SOURCE, SST2, Background, models, run

HERE = os.path.dirname(os.path.abspath(__file__))
JOBS = os.path.join(SOURCE, "jobs")
IMPORTANCE, GLUE_ARRAY, RUN_LOCAL = (os.path.join(JOBS, s) for s in ("importance.sbatch", "glue_array.sbatch",
                                                                      "run_local.sh"))
SCRIPTS = [IMPORTANCE, GLUE_ARRAY, RUN_LOCAL, RANK_RC, os.path.join(HERE, "fake_slurm", "srun")]
BASE_ENV = {"BERTOLOGY": BERTOLOGY, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
pytestmark = pytest.mark.usefixtures("blas_one_thread")


def sbatch_directives(path):
    """#SBATCH options as Slurm reads them: only before the first command line."""
    opts = {}
    with open(path) as f:
        for ln in f:
            s = ln.strip()
            if s and not s.startswith("#"):
                break
            m = re.match(r"#SBATCH\s+--([\w-]+)(?:=(\S+))?", s)
            if m:
                opts[m.group(1)] = m.group(2)
    return opts


def check_run(check, what, out, n_ranks, task, n_examples, threads=None):
    h5 = os.path.join(out, "run.h5")
    if not check(os.path.exists(h5), "%s: no %s (%s)" % (what, h5, os.listdir(out) if
                                                          os.path.isdir(out) else "no dir")):
        return None
    with h5py.File(h5, "r") as f:
        a = dict(f.attrs)
    opts = json.loads(a["options"])
    check(a["status"] == "complete" and a["n_ranks"] == n_ranks and a["task"] == task and
          a["n_examples"] == n_examples, "%s: run.h5 status %s, %s ranks, task %s, %s examples" % (
              what, a["status"], a["n_ranks"], a["task"], a["n_examples"]))
    if threads is not None:
        check(opts["threads"] == threads, "%s: ran with --threads %s, want %d" % (what, opts["threads"], threads))
    for f in ("head_importance.npy", "attn_entropy.npy"):
        check(os.path.exists(os.path.join(out, f)), "%s: %s missing" % (what, f))
    return a


@pytest.mark.parametrize("script", SCRIPTS, ids=os.path.basename)
def test_script_static(script, check):
    check(os.access(script, os.X_OK), "%s is not executable" % script)
    run(["bash", "-n", script])
    if shutil.which("shellcheck"):
        r = run(["shellcheck", "-s", "bash", script], expect=None)
        check(r.returncode == 0, "shellcheck %s:\n%s" % (script, r.stdout))


def test_sbatch_directives(check):
    for s in (IMPORTANCE, GLUE_ARRAY):
        d = sbatch_directives(s)
        for k in ("nodes", "ntasks-per-node", "cpus-per-task", "time", "output", "job-name"):
            check(k in d, "%s: no #SBATCH --%s before the first command (%s)" % (s, k, d))
    arr = sbatch_directives(GLUE_ARRAY).get("array", "")
    check(re.fullmatch(r"0-9(%\d+)?", arr) is not None,
          "glue_array.sbatch: --array=%s, want 0-9 for its 10 default tasks" % arr)


@pytest.fixture(scope="module")
def model(work):
    return models.bert(os.path.join(work, "model"), layers=2, hidden=32, heads=4, seed=4)


def test_run_local(model, work, check):
    out = os.path.join(work, "local")
    r = run([RUN_LOCAL, model, "sst-2", SST2, out, "--subset", "24", "--quiet"],
            env=dict(BASE_ENV, NP="2", THREADS="1"), timeout=300)
    check_run(check, "run_local.sh", out, 2, "sst-2", 24, threads=1)
    check("Head importance scores" in r.stdout, "run_local.sh: no importance table on stdout")
    r = run([RUN_LOCAL, model, "no-such-task", SST2, os.path.join(work, "local_bad")], env=dict(BASE_ENV, NP="2"),
            expect=2, timeout=300)
    check("no-such-task" in r.stderr, "run_local.sh bad task: %s" % r.stderr[-500:])
    r = run([RUN_LOCAL, model], env=BASE_ENV, expect=2)
    check("usage" in r.stderr, "run_local.sh without arguments: %r" % r.stderr)


def test_run_local_sigterm(model, work, check):
    """SIGTERM to run_local.sh (its mpirun): the ranks get SIGTERM 2 s later (it raises Open MPI's
    odls_base_sigkill_timeout from 1 s), stop, say so, and leave a checkpoint covering every batch
    done."""
    out = os.path.join(work, "local_term")
    env = dict(BASE_ENV, NP="2", THREADS="1", BT_TEST_BATCH_SECONDS="0.5")  # a pause after every batch
    with Background([RUN_LOCAL, model, "sst-2", SST2, out, "--subset", "48", "--batch-tokens", "64", "--quiet"],
                    env=env) as p:
        t0 = time.time()
        while p.poll() is None and not os.path.exists(os.path.join(out, "checkpoint")) and time.time() - t0 < 60:
            time.sleep(0.02)
        time.sleep(0.5)
        assert p.poll() is None, p.wait(0).report("run_local.sh ended before its SIGTERM")
        t_sig = time.time()
        p.signal(signal.SIGTERM)
        r = p.wait(timeout=60)
    took = time.time() - t_sig
    state = os.path.join(out, "checkpoint", "state.json")
    ok = os.path.exists(state) and not os.path.exists(os.path.join(out, "run.h5"))
    if ok:
        with open(state) as f:
            st = json.load(f)
        ok = st["journals"] and all(os.path.getsize(os.path.join(out, "checkpoint", j["file"])) == j["bytes"]
                                    for j in st["journals"])
    check(ok and 2.0 < took < 12 and "exit status 3" in r.stderr, "run_local.sh, SIGTERM: ended %.1f s later "
          "(want the 2 s of its odls_base_sigkill_timeout and a stop), checkpoint %s:\n%s" % (
              took, "kept" if ok else "missing", r.stderr[-1000:]))
    print("run_local.sh: SIGTERM: the ranks stopped %.1f s later, every batch done kept" % took)


@pytest.fixture(scope="module")
def slurm(work):
    """The environment of a Slurm job step, with tests/sweep/fake_slurm/srun first on PATH."""
    log = os.path.join(work, "srun.log")
    return dict(BASE_ENV, PATH=os.path.join(HERE, "fake_slurm") + os.pathsep + os.environ["PATH"], FAKE_SRUN_LOG=log,
                FAKE_SRUN_MPIEXEC=MPIEXEC, SLURM_JOB_ID="4242", SLURM_NTASKS="2", SLURM_CPUS_PER_TASK="1",
                SLURM_SUBMIT_DIR=SOURCE)


def srun_lines(slurm):
    log = slurm["FAKE_SRUN_LOG"]
    return open(log).read().strip().splitlines() if os.path.exists(log) else []


def test_importance_sbatch_arguments(model, slurm, work, check):
    out = os.path.join(work, "sbatch_args")
    r = run(["bash", IMPORTANCE, model, "sst-2", SST2, out, "--quiet"], env=dict(slurm, SUBSET="20"), timeout=300)
    a = check_run(check, "importance.sbatch (arguments)", out, 2, "sst-2", 20, threads=1)
    srun_line = (srun_lines(slurm) or [""])[-1]
    check("--cpus-per-task=1" in srun_line and "--kill-on-bad-exit=1" in srun_line and
          " importance --model " + model in srun_line, "srun command line: %r" % srun_line)
    check(a is None or "--subset 20" in a["command_line"], "SUBSET did not reach bertology")
    check("done in" in r.stdout, "importance.sbatch: no final line")


def test_importance_sbatch_environment(model, slurm, work, check):
    out = os.path.join(work, "sbatch_env")
    env = dict(slurm, MODEL=model, TASK="sst-2", DATA=GLUE, OUT=out, SUBSET="12",
               SLURM_CPUS_PER_TASK="2", SLURM_NTASKS="3", SLURM_JOB_ID="4343")
    run(["bash", IMPORTANCE, "--quiet", "--batch-tokens", "300"], env=env, timeout=300)
    a = check_run(check, "importance.sbatch (environment)", out, 3, "sst-2", 12, threads=2)
    check(a is None or "--batch-tokens 300" in a["command_line"], "flags did not reach bertology")
    srun_line = (srun_lines(slurm) or [""])[-1]
    check("--cpus-per-task=2" in srun_line, "srun got %r, want --cpus-per-task=2" % srun_line)

    n_before = len(srun_lines(slurm))
    r = run(["bash", IMPORTANCE], env=dict(slurm, TASK="sst-2", DATA=GLUE, OUT=out), expect=2)
    check("MODEL is not set" in r.stderr, "importance.sbatch without MODEL: %r" % r.stderr)
    check(len(srun_lines(slurm)) == n_before, "srun ran although MODEL was missing")


def test_glue_array(model, slurm, work, check):
    """two array elements, a model per task through "{task}"; an index past the list refused"""
    for t in ("sst-2", "rte"):
        link = os.path.join(work, "model-" + t)
        if not os.path.islink(link):
            os.symlink(model, link)
    root = os.path.join(work, "glue_runs")
    env = dict(slurm, MODEL=os.path.join(work, "model-{task}"), DATA=GLUE, OUT=root,
               GLUE_TASKS="sst-2 rte", SUBSET="10", JOBS_DIR=JOBS, SLURM_ARRAY_JOB_ID="77")
    for i, t in enumerate(("sst-2", "rte")):
        r = run(["bash", GLUE_ARRAY, "--quiet"], env=dict(env, SLURM_ARRAY_TASK_ID=str(i)), timeout=300, expect=None)
        check(r.returncode == 0, r.report("glue_array.sbatch index %d" % i))
        a = check_run(check, "glue_array.sbatch %s" % t, os.path.join(root, t), 2, t, 10)
        check(a is None or a["model_dir"] == os.path.join(work, "model-" + t),
              "glue_array.sbatch %s: model_dir %s" % (t, a and a["model_dir"]))
    r = run(["bash", GLUE_ARRAY], env=dict(env, SLURM_ARRAY_TASK_ID="2"), expect=2)
    check("does not name one of the 2 tasks" in r.stderr, "glue_array.sbatch index 2: %r" % r.stderr)
