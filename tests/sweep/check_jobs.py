#!/usr/bin/python3
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
import subprocess
import sys
import time

import h5py

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import check  # noqa: E402


def run(cmd, env=None, timeout=300):
    e = dict(os.environ)
    e.update(env or {})
    try:
        return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=timeout)
    except subprocess.TimeoutExpired as x:
        return subprocess.CompletedProcess(cmd, 124, x.stdout or "", "TIMEOUT")


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


def h5_attrs(path):
    with h5py.File(path, "r") as f:
        return dict(f.attrs)


def check_run(what, out, n_ranks, task, n_examples, threads=None):
    h5 = os.path.join(out, "run.h5")
    if not check(os.path.exists(h5), "%s: no %s (%s)" % (what, h5, os.listdir(out) if
                                                          os.path.isdir(out) else "no dir")):
        return None
    a = h5_attrs(h5)
    opts = json.loads(a["options"])
    check(a["status"] == "complete" and a["n_ranks"] == n_ranks and a["task"] == task and
          a["n_examples"] == n_examples, "%s: run.h5 status %s, %s ranks, task %s, %s examples" % (
              what, a["status"], a["n_ranks"], a["task"], a["n_examples"]))
    if threads is not None:
        check(opts["threads"] == threads, "%s: ran with --threads %s, want %d" % (
            what, opts["threads"], threads))
    for f in ("head_importance.npy", "attn_entropy.npy"):
        check(os.path.exists(os.path.join(out, f)), "%s: %s missing" % (what, f))
    return a


def local_sigterm(args, script, m, env):
    """SIGTERM to run_local.sh (its mpirun): the ranks get SIGTERM 2 s later (it raises Open MPI's
    odls_base_sigkill_timeout from 1 s), stop, say so, and leave a checkpoint covering every batch
    done."""
    out = os.path.join(args.work, "local_term")
    env = dict(os.environ, **env, BT_TEST_BATCH_SECONDS="0.5")  # a pause after every batch: time to signal
    p = subprocess.Popen([script, m, "sst-2", args.sst2, out, "--subset", "48", "--batch-tokens", "64", "--quiet"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                         start_new_session=True)
    t0 = time.time()
    while p.poll() is None and not os.path.exists(os.path.join(out, "checkpoint")) and time.time() - t0 < 60:
        time.sleep(0.02)
    time.sleep(0.5)
    if not check(p.poll() is None, "run_local.sh ended before its SIGTERM: exit %s" % p.returncode):
        return
    t_sig = time.time()
    p.send_signal(signal.SIGTERM)
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        _, err = p.communicate()
    took = time.time() - t_sig
    state = os.path.join(out, "checkpoint", "state.json")
    ok = os.path.exists(state) and not os.path.exists(os.path.join(out, "run.h5"))
    if ok:
        with open(state) as f:
            st = json.load(f)
        ok = st["journals"] and all(os.path.getsize(os.path.join(out, "checkpoint", j["file"])) == j["bytes"]
                                    for j in st["journals"])
    check(ok and 2.0 < took < 12 and "exit status 3" in err, "run_local.sh, SIGTERM: ended %.1f s later "
          "(want the 2 s of its odls_base_sigkill_timeout and a stop), checkpoint %s:\n%s" % (
              took, "kept" if ok else "missing", err[-1000:]))
    print("run_local.sh: SIGTERM: the ranks stopped %.1f s later, every batch done kept" % took)


def main():
    ap = common.parser(__doc__)
    ap.add_argument("--source", required=True)
    args = common.setup(ap.parse_args())
    jobs = os.path.join(args.source, "jobs")
    scripts = [os.path.join(jobs, s) for s in ("importance.sbatch", "glue_array.sbatch",
                                               "run_local.sh")]
    scripts += [os.path.join(HERE, "rank_rc.sh"), os.path.join(HERE, "fake_slurm", "srun")]
    have_shellcheck = shutil.which("shellcheck") is not None
    for s in scripts:
        r = run(["bash", "-n", s])
        check(r.returncode == 0, "bash -n %s: %s" % (s, r.stderr))
        if have_shellcheck:
            r = run(["shellcheck", "-s", "bash", s])
            check(r.returncode == 0, "shellcheck %s:\n%s" % (s, r.stdout))
        check(os.access(s, os.X_OK), "%s is not executable" % s)
    print("bash -n%s: %d scripts" % (" and shellcheck" if have_shellcheck else "", len(scripts)))
    for s in scripts[:2]:
        d = sbatch_directives(s)
        for k in ("nodes", "ntasks-per-node", "cpus-per-task", "time", "output", "job-name"):
            check(k in d, "%s: no #SBATCH --%s before the first command (%s)" % (s, k, d))
    arr = sbatch_directives(scripts[1]).get("array", "")
    check(re.fullmatch(r"0-9(%\d+)?", arr) is not None,
          "glue_array.sbatch: --array=%s, want 0-9 for its 10 default tasks" % arr)

    m = common.model(args, "model", layers=2, hidden=32, heads=4, seed=4)
    glue = os.path.join(args.testdata, "glue")
    base_env = {"BERTOLOGY": args.bertology, "OMPI_ALLOW_RUN_AS_ROOT": "1",
                "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}

    # run_local.sh
    out = os.path.join(args.work, "local")
    r = run([scripts[2], m, "sst-2", args.sst2, out, "--subset", "24", "--quiet"],
            dict(base_env, NP="2", THREADS="1"))
    check(r.returncode == 0, "run_local.sh: exit %d\n%s" % (r.returncode, r.stderr[-2000:]))
    check_run("run_local.sh", out, 2, "sst-2", 24, threads=1)
    check("Head importance scores" in r.stdout, "run_local.sh: no importance table on stdout")
    r = run([scripts[2], m, "no-such-task", args.sst2, os.path.join(args.work, "local_bad")],
            dict(base_env, NP="2"))
    check(r.returncode == 2 and "no-such-task" in r.stderr, "run_local.sh bad task: exit %d %s"
          % (r.returncode, r.stderr[-500:]))
    r = run([scripts[2], m], base_env)
    check(r.returncode == 2 and "usage" in r.stderr, "run_local.sh without arguments: exit %d"
          % r.returncode)
    local_sigterm(args, scripts[2], m, dict(base_env, NP="2", THREADS="1"))

    # importance.sbatch under the fake srun
    fake = os.path.join(HERE, "fake_slurm")
    log = os.path.join(args.work, "srun.log")
    slurm = dict(base_env, PATH=fake + os.pathsep + os.environ["PATH"], FAKE_SRUN_LOG=log,
                 FAKE_SRUN_MPIEXEC=args.mpiexec, SLURM_JOB_ID="4242", SLURM_NTASKS="2",
                 SLURM_CPUS_PER_TASK="1", SLURM_SUBMIT_DIR=args.source)
    out = os.path.join(args.work, "sbatch_args")
    r = run(["bash", scripts[0], m, "sst-2", args.sst2, out, "--quiet"], dict(slurm, SUBSET="20"))
    check(r.returncode == 0, "importance.sbatch (arguments): exit %d\n%s%s" % (
        r.returncode, r.stdout[-1500:], r.stderr[-1500:]))
    a = check_run("importance.sbatch (arguments)", out, 2, "sst-2", 20, threads=1)
    srun_line = open(log).read().strip().splitlines()[-1] if os.path.exists(log) else ""
    check("--cpus-per-task=1" in srun_line and "--kill-on-bad-exit=1" in srun_line and
          " importance --model " + m in srun_line, "srun command line: %r" % srun_line)
    check(a is None or "--subset 20" in a["command_line"], "SUBSET did not reach bertology")
    check("done in" in r.stdout, "importance.sbatch: no final line")

    out = os.path.join(args.work, "sbatch_env")
    env = dict(slurm, MODEL=m, TASK="sst-2", DATA=glue, OUT=out, SUBSET="12",
               SLURM_CPUS_PER_TASK="2", SLURM_NTASKS="3", SLURM_JOB_ID="4343")
    r = run(["bash", scripts[0], "--quiet", "--batch-tokens", "300"], env)
    check(r.returncode == 0, "importance.sbatch (environment): exit %d\n%s" % (
        r.returncode, r.stderr[-1500:]))
    a = check_run("importance.sbatch (environment)", out, 3, "sst-2", 12, threads=2)
    check(a is None or "--batch-tokens 300" in a["command_line"], "flags did not reach bertology")
    srun_line = open(log).read().strip().splitlines()[-1]
    check("--cpus-per-task=2" in srun_line, "srun got %r, want --cpus-per-task=2" % srun_line)

    n_before = len(open(log).read().splitlines())
    r = run(["bash", scripts[0]], dict(slurm, TASK="sst-2", DATA=glue, OUT=out))
    check(r.returncode == 2 and "MODEL is not set" in r.stderr,
          "importance.sbatch without MODEL: exit %d %r" % (r.returncode, r.stderr))
    check(len(open(log).read().splitlines()) == n_before, "srun ran although MODEL was missing")

    # glue_array.sbatch: two array elements, a model per task through "{task}"
    for t in ("sst-2", "rte"):
        os.symlink(m, os.path.join(args.work, "model-" + t))
    root = os.path.join(args.work, "glue_runs")
    env = dict(slurm, MODEL=os.path.join(args.work, "model-{task}"), DATA=glue, OUT=root,
               GLUE_TASKS="sst-2 rte", SUBSET="10", JOBS_DIR=jobs, SLURM_ARRAY_JOB_ID="77")
    for i, t in enumerate(("sst-2", "rte")):
        r = run(["bash", scripts[1], "--quiet"], dict(env, SLURM_ARRAY_TASK_ID=str(i)))
        check(r.returncode == 0, "glue_array.sbatch index %d: exit %d\n%s" % (
            i, r.returncode, r.stderr[-1500:]))
        a = check_run("glue_array.sbatch %s" % t, os.path.join(root, t), 2, t, 10)
        check(a is None or a["model_dir"] == os.path.join(args.work, "model-" + t),
              "glue_array.sbatch %s: model_dir %s" % (t, a and a["model_dir"]))
    r = run(["bash", scripts[1]], dict(env, SLURM_ARRAY_TASK_ID="2"))
    check(r.returncode == 2 and "does not name one of the 2 tasks" in r.stderr,
          "glue_array.sbatch index 2: exit %d %r" % (r.returncode, r.stderr))
    return common.finish()


if __name__ == "__main__":
    sys.exit(main())
