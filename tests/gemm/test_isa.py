"""The kernels every rank runs (issue 25, docs/engine.md "What is bitwise").

1. `bench` and `importance --verbose` print the instruction set each backend runs on, and it
   follows ONEDNN_MAX_CPU_ISA / OPENBLAS_CORETYPE.
2. Two ranks of different instruction sets (one capped at AVX2 by its environment) agree on the
   lower: the run is bitwise the one-rank AVX2 run (and, on a CPU above AVX2, not the unrestricted
   one: the cap is what made it equal).
3. Two ranks on different OpenBLAS cores are refused: exit 2, one line naming both, no run.h5.
4. A run interrupted on one set of kernels is not resumed on another (exit 2, naming both); on
   the same kernels it resumes to the bits of an uninterrupted run.
5. Without --threads, the ranks agree on the smallest default and run.h5 records the count
   that ran (not 0).
"""
import json
import os

import h5py

from bttest import BERTOLOGY, DEMO_MODEL, DEMO_SST2, MPIEXEC, run

MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1"}
# the variables this test sets itself: start every process without them
OWN = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "OPENBLAS_CORETYPE", "BT_GEMM", "OMP_NUM_THREADS",
       "BT_TEST_SIGNAL_AFTER")



def run_with(argv, **kv):
    """argv without this test's own variables but those given, and the MPI ones."""
    env = dict({k: None for k in OWN}, **MPI_ENV)
    env.update(kv)
    return run(argv, timeout=300, env=env, expect=None)


def same_files(a, b, names=("head_importance.npy", "attn_entropy.npy")):
    for n in names:
        with open(os.path.join(a, n), "rb") as fa, open(os.path.join(b, n), "rb") as fb:
            if fa.read() != fb.read():
                return False
    return True


def mpmd(binary, args, out, env0, env1):
    """mpirun with one rank per environment: `-x` entries for each."""
    argv = [MPIEXEC, "--oversubscribe"]
    for i, e in enumerate((env0, env1)):
        if i:
            argv.append(":")
        argv += ["-np", "1"]
        for k, v in e.items():
            argv += ["-x", f"{k}={v}"]
        argv += [binary] + args + ["--out", out]
    return run_with(argv)


def test_kernels(work, check):
    """The five parts above in order: 2 and 4 compare with the runs of 1."""
    check.verbose = True
    B = BERTOLOGY
    model, data = DEMO_MODEL, DEMO_SST2
    imp = ["importance", "--model", model, "--task", "sst-2", "--data", data, "--subset", "96",
           "--batch-tokens", "300", "--quiet", "--verbose"]
    W = lambda name: os.path.join(work, name)  # noqa: E731

    # --- 1. what bench and --verbose print
    probe = run_with([B, "importance"] + imp[1:] + ["--threads", "1", "--out", W("probe")])
    check(probe.returncode == 0, f"importance runs (exit {probe.returncode}: {probe.stderr[-300:]})")
    has_onednn = "kernels onednn/" in probe.stderr
    top = probe.stderr.split("kernels onednn/")[1].split()[0] if has_onednn else None
    cpu_avx2 = "avx2" in open("/proc/cpuinfo").read()
    if has_onednn and cpu_avx2:
        for cap, want in (("AVX2", "avx2"), ("SSE41", "sse41")):
            r = run_with([B] + imp + ["--threads", "1", "--subset", "8", "--out", W("v" + want)], ONEDNN_MAX_CPU_ISA=cap)
            check(f"kernels onednn/{want} " in r.stderr and f"ISA {want})" in r.stderr,
                  f"--verbose under ONEDNN_MAX_CPU_ISA={cap}: {r.stderr.splitlines()[:1]}")
        b = run_with([B, "bench", "--model", model, "--reps", "1", "--threads", "1", "--batch-tokens", "256"],
                ONEDNN_MAX_CPU_ISA="AVX2", OPENBLAS_CORETYPE="Haswell")
        lines = [ln for ln in b.stdout.splitlines() if ln.startswith("bench gemm=")]
        by = {ln.split()[1]: ln for ln in lines}
        check(b.returncode == 0 and " isa=avx2 " in by.get("gemm=onednn", "") and
              " isa=avx2 " in by.get("gemm=blas", "") and "core Haswell" in by.get("gemm=blas", ""),
              f"bench prints each backend's ISA under the AVX2 variables: {lines}")

    # --- 2. mixed instruction sets agree on the lower
    if has_onednn and cpu_avx2:
        args = imp[1:] + ["--threads", "1"]
        r1 = run_with([B, "importance"] + args + ["--out", W("avx2_np1")], ONEDNN_MAX_CPU_ISA="AVX2")
        r2 = mpmd(B, ["importance"] + args, W("mixed_np2"), {}, {"ONEDNN_MAX_CPU_ISA": "AVX2"})
        check(r1.returncode == 0 and r2.returncode == 0, f"np=1 AVX2 and mixed np=2 run ({r1.returncode}, "
              f"{r2.returncode}: {r2.stderr[-300:]})")
        if r1.returncode == 0 and r2.returncode == 0:
            check("kernels onednn/avx2 on every rank" in r2.stderr, "the mixed run says it runs avx2 everywhere")
            check(same_files(W("avx2_np1"), W("mixed_np2")), "mixed np=2 = np=1 AVX2, bitwise")
            if top != "avx2":
                check(not same_files(W("probe"), W("mixed_np2")),
                      f"and differs from the {top} run (the cap is what made them equal)")

    # --- 3. mixed OpenBLAS cores are refused
    args = imp[1:] + ["--threads", "1", "--gemm", "blas"]
    r = mpmd(B, ["importance"] + args, W("mixed_blas"), {"OPENBLAS_CORETYPE": "Haswell"},
             {"OPENBLAS_CORETYPE": "Sandybridge"})
    msg = [ln for ln in r.stderr.splitlines() if ln.startswith("bertology importance:") and "rank 1" in ln]
    check(r.returncode == 2 and len(msg) == 1 and "blas/Haswell" in msg[0] and "blas/Sandybridge" in msg[0]
          and "OPENBLAS_CORETYPE" in msg[0], f"mixed OpenBLAS cores refused in one line: {r.returncode} {msg}")
    check(not os.path.exists(os.path.join(W("mixed_blas"), "run.h5")), "and no run.h5")

    # --- 4. resume on the same kernels only
    cases = [("blas", {"OPENBLAS_CORETYPE": "Haswell"}, {"OPENBLAS_CORETYPE": "Sandybridge"}, "blas/Haswell")]
    if has_onednn and cpu_avx2 and top != "avx2":
        cases.append(("onednn", {"ONEDNN_MAX_CPU_ISA": "AVX2"}, {}, "onednn/avx2"))
    for gemm, first, other, kernels in cases:
        args = [B] + imp + ["--threads", "1", "--gemm", gemm]
        out, ref = W("resume_" + gemm), W("whole_" + gemm)
        r = run_with(args + ["--out", out], BT_TEST_SIGNAL_AFTER="2:USR1", **first)
        check(r.returncode == 3, f"{gemm}: interrupted run exits 3 ({r.returncode}: {r.stderr[-200:]})")
        r = run_with(args + ["--out", out], **other)
        check(r.returncode == 2 and kernels in r.stderr and "--restart" in r.stderr,
              f"{gemm}: resume on other kernels refused naming {kernels}: {r.stderr.strip()[-300:]}")
        r = run_with(args + ["--out", out], **first)
        w = run_with(args + ["--out", ref], **first)
        check(r.returncode == 0 and w.returncode == 0 and same_files(out, ref),
              f"{gemm}: resumed on the same kernels = uninterrupted, bitwise ({r.returncode}, {w.returncode})")

    # --- 5. threads: the ranks' smallest default, recorded
    r = mpmd(B, ["importance"] + imp[1:], W("threads"), {"OMP_NUM_THREADS": "2"}, {"OMP_NUM_THREADS": "1"})
    check(r.returncode == 0 and "1 threads per rank" in r.stderr, f"OMP_NUM_THREADS 2 and 1: one thread each "
          f"({r.returncode}: {r.stderr[-200:]})")
    if r.returncode == 0:
        with h5py.File(os.path.join(W("threads"), "run.h5"), "r") as f:
            check(json.loads(f.attrs["options"])["threads"] == 1, "run.h5 options record threads 1")
    r = run_with([B] + imp + ["--out", W("threads2")], OMP_NUM_THREADS="2")
    if r.returncode == 0:
        with h5py.File(os.path.join(W("threads2"), "run.h5"), "r") as f:
            check(json.loads(f.attrs["options"])["threads"] == 2, "one rank, OMP_NUM_THREADS=2: options record 2")
    else:
        check(False, f"OMP_NUM_THREADS=2 run: {r.stderr[-200:]}")
