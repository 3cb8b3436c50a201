# sweep (issue 4): `bertology importance` end to end under mpirun, checked against independent
# references (PyTorch re-implementation of HF's loop, `bertology forward`, NumPy, h5py, the HDF5
# tools), plus the job scripts of jobs/. Scripts in tests/sweep; see docs/sweep.md.
# Every command inside the tests runs under a timeout (bttest.run), so a hang fails instead of
# blocking.

# np = 1..4 give the same bits: .npy files, every run.h5 dataset, h5diff np=1 vs np=3 (on the
# CBLAS backend; gemm.cmake adds the oneDNN copy)
bt_pytest(sweep.ranks_bitwise sweep/test_ranks_bitwise.py TIMEOUT 900 LABELS mpi sweep MPI
          ENV BT_GEMM=blas)
# run.h5 read back with h5py = `bertology forward` per example; docs/run_h5.md snippet; h5ls/h5dump
bt_pytest(sweep.readback sweep/test_readback.py TIMEOUT 900 LABELS mpi sweep MPI)
# --hf-compat = a PyTorch re-implementation of HF's compute_heads_importance (B = 1, 4)
bt_pytest(sweep.hf_compat sweep/test_hf_compat.py TIMEOUT 900 LABELS mpi sweep MPI)
# bad files, flags and option combinations at np = 3: every rank exits 2, one message, no run.h5;
# quick and exercising every error path: worth running under ASan/UBSan
bt_pytest(sweep.bad_input sweep/test_sweep_bad_input.py TIMEOUT 900 LABELS mpi sweep sanitize MPI FAST)
# SIGTERM / SIGKILL to mpirun while run.h5 is written: no run.h5, only the tmp file (timed
# kills: RUN_SERIAL)
bt_pytest(sweep.interrupt sweep/test_interrupt.py TIMEOUT 900 LABELS mpi sweep MPI RUN_SERIAL)
# jobs/: bash -n, shellcheck, run_local.sh and the sbatch scripts (fake srun -> mpirun) end to
# end; run_local.sh's SIGTERM must reach the ranks within a time window: RUN_SERIAL
bt_pytest(sweep.jobs sweep/test_jobs.py TIMEOUT 900 LABELS mpi sweep MPI RUN_SERIAL)

# issue 12: a run stopped by a signal (exit 3) or killed resumes, with other rank counts, to the
# bits of an uninterrupted run (importance, eval, ablate, mask); other options are refused. The
# checkpoint's own parsing and bookkeeping under ASan/UBSan too (47 s there). The stops come
# from BT_TEST_SIGNAL_AFTER at a known batch, not a clock.
bt_pytest(sweep.resume sweep/test_resume.py TIMEOUT 900 LABELS mpi sweep sanitize MPI)

# issue 20: stops at random moments never crash, never hang, keep the work done and resume to
# the uninterrupted bits: 30 interruptions (SIGUSR1/SIGINT/SIGTERM to mpirun, SIGKILL of a rank;
# np 1-3) of importance on a bert-base-wide model (D 768, 12 heads, F 3072: the GEMM shapes of
# bert-base; 2 layers keep it to ~3 minutes), every process under glibc's MALLOC_CHECK_=3 and
# MALLOC_PERTURB_, plus SIGSEGV of a rank (our fatal-signal handler). The seed is printed;
# BT_STOP_SEED=N repeats it. In the sanitizer build a smaller model and 12 interruptions under
# ASan/UBSan instead (glibc's checks do not apply there; ASan reports fatal signals itself).
# Every process must be gone within 30 s of its signal: RUN_SERIAL.
if(BT_SANITIZE)
  set(BT_STOP_ENV BT_STOP_INTERRUPTIONS=12 BT_STOP_HIDDEN=256 BT_STOP_HEADS=4 BT_STOP_SUBSET=96
      BT_STOP_SIGNALS=USR1,INT,TERM,KILL)
else()
  set(BT_STOP_ENV BT_STOP_MALLOC_CHECK=1)
endif()
bt_pytest(sweep.stop_random sweep/test_stop_random.py TIMEOUT 900 LABELS mpi sweep sanitize MPI RUN_SERIAL
          ENV ${BT_STOP_ENV})
