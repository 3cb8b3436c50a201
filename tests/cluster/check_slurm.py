#!/usr/bin/python3
"""The job scripts of jobs/ under a real Slurm (tests/cluster/slurm_cluster.py: slurmctld,
slurmd and munge from Debian, MpiDefault=none as Debian ships it):

* `sbatch jobs/importance.sbatch` with 2 tasks on the bundled demo model completes, chooses an
  srun MPI plugin by itself (no SRUN_MPI), and its head_importance.npy, attn_entropy.npy and
  run.h5 (every dataset, every attribute but the volatile ones) equal `mpirun -np 1` bitwise;
* `sbatch --array=0-1 jobs/glue_array.sbatch` over two tasks (SST-2 and RTE) completes, each
  element writing OUT/<task>/ equal to its own `mpirun -np 1` run.

Exit 77 (ctest: skipped) with the reason when the Slurm daemons cannot start here.
"""
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sweep"))
import common  # noqa: E402
from common import check  # noqa: E402
from slurm_cluster import SlurmCluster, SlurmUnavailable  # noqa: E402

SUBSET = 40


def same_run(args, a, b, what):
    for f in ("head_importance.npy", "attn_entropy.npy"):
        pa, pb = os.path.join(a, f), os.path.join(b, f)
        check(os.path.exists(pb) and open(pa, "rb").read() == open(pb, "rb").read(),
              "%s: %s differs from mpirun -np 1" % (what, f))
    if os.path.exists(os.path.join(b, "run.h5")):
        n = common.compare_h5(os.path.join(a, "run.h5"), os.path.join(b, "run.h5"), what)
        print("%s: %d datasets bitwise equal to mpirun -np 1" % (what, n))
    else:
        check(False, "%s: no run.h5" % what)


def sbatch(sl, args, argv, what, env=None):
    e = dict(sl.env, BERTOLOGY=args.bertology, **(env or {}))
    e.pop("SRUN_MPI", None)  # the script must find the plugin itself
    r = sl.run(["sbatch", "--wait", "--nodes=1", "--ntasks-per-node=2", "--cpus-per-task=1",
                "--time=10"] + argv, env=e, timeout=600, cwd=args.source)
    check(r.returncode == 0, "%s: sbatch --wait exit %d\n%s%s\nslurmctld: %s" % (
        what, r.returncode, r.stdout, r.stderr, sl.log("slurmctld")[-1500:]))
    return r


def main():
    ap = common.parser(__doc__)
    ap.add_argument("--source", required=True)
    args = common.setup(ap.parse_args())
    model = os.path.join(args.source, "data", "demo-sst2")
    glue = os.path.join(args.testdata, "glue")
    jobs = os.path.join(args.source, "jobs")
    try:
        # slurm.conf and munge cannot take paths with spaces (the checkout's may have them):
        # the daemons' files go to a directory of their own under /tmp
        with SlurmCluster(tempfile.mkdtemp(prefix="bt-slurm-")) as sl:
            # importance.sbatch, 2 ranks through srun
            ref = os.path.join(args.work, "np1")
            common.importance(args, 1, ref, model, "--subset", SUBSET, "--save-attentions")
            out = os.path.join(args.work, "sbatch")
            log = os.path.join(args.work, "importance-%j.log")
            sbatch(sl, args, ["--output", log, os.path.join(jobs, "importance.sbatch"), model, "sst-2",
                              os.path.join(glue, "SST-2"), out, "--subset", str(SUBSET),
                              "--save-attentions", "--quiet"], "importance.sbatch")
            logs = [f for f in os.listdir(args.work) if f.startswith("importance-")]
            text = "".join(open(os.path.join(args.work, f)).read() for f in logs)
            check("--mpi=pmix" in text or "--mpi=pmi2" in text,
                  "importance.sbatch did not choose an srun MPI plugin:\n" + text[-1500:])
            check("2 ranks" in text, "importance.sbatch: not 2 ranks:\n" + text[-1500:])
            same_run(args, ref, out, "importance.sbatch")

            # glue_array.sbatch, array of two tasks
            outs = os.path.join(args.work, "array")
            sbatch(sl, args, ["--array=0-1", "--output", os.path.join(args.work, "array-%A_%a.log"),
                              os.path.join(jobs, "glue_array.sbatch"), "--subset", str(SUBSET), "--quiet"],
                   "glue_array.sbatch",
                   env={"MODEL": model, "DATA": glue, "OUT": outs, "GLUE_TASKS": "sst-2 rte",
                        "JOBS_DIR": jobs})
            for task in ("sst-2", "rte"):
                ref_t = os.path.join(args.work, "np1-" + task)
                # --data as the array gives it (the GLUE root): it is recorded in run.h5
                common.importance(args, 1, ref_t, model, "--subset", SUBSET, task=task, data=glue)
                same_run(args, ref_t, os.path.join(outs, task), "glue_array.sbatch %s" % task)
    except SlurmUnavailable as e:
        print("SKIP: Slurm cannot run here: %s" % e)
        return 77
    return common.finish()


if __name__ == "__main__":
    sys.exit(main())
