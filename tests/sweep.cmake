# sweep (issue 4): `bertology importance` end to end under mpirun, checked against independent
# references (PyTorch re-implementation of HF's loop, `bertology forward`, NumPy, h5py, the HDF5
# tools), plus the job scripts of jobs/. Scripts in tests/sweep; see docs/sweep.md.
# Every mpirun inside the scripts runs under a timeout, so a hang fails instead of blocking.
set(BT_SWEEP_MPIEXEC ${MPIEXEC_EXECUTABLE})
if(NOT BT_SWEEP_MPIEXEC)
  set(BT_SWEEP_MPIEXEC mpirun)
endif()
set(BT_SWEEP_ARGS --bertology $<TARGET_FILE:bertology> --mpiexec ${BT_SWEEP_MPIEXEC}
    --testdata ${BT_TEST_DATA})
set(BT_SWEEP_DIR ${CMAKE_CURRENT_SOURCE_DIR}/sweep)
set(BT_SWEEP_WORK ${CMAKE_CURRENT_BINARY_DIR}/sweep_work)

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
# SIGTERM / SIGKILL to mpirun while run.h5 is written: no run.h5, only the tmp file
add_test(NAME sweep.interrupt
  COMMAND ${BT_PYTHON} ${BT_SWEEP_DIR}/check_interrupt.py ${BT_SWEEP_ARGS} --work ${BT_SWEEP_WORK}/interrupt)
# jobs/: bash -n, shellcheck, run_local.sh and the sbatch scripts (fake srun -> mpirun) end to end
add_test(NAME sweep.jobs
  COMMAND ${BT_PYTHON} ${BT_SWEEP_DIR}/check_jobs.py ${BT_SWEEP_ARGS}
          --source ${PROJECT_SOURCE_DIR} --work ${BT_SWEEP_WORK}/jobs)

set(BT_SWEEP_TESTS sweep.interrupt sweep.jobs)
# All of them run mpirun and oversubscribe the 2 cores: never alongside each other.
set_tests_properties(${BT_SWEEP_TESTS} PROPERTIES LABELS "mpi;sweep" TIMEOUT 900 RUN_SERIAL TRUE)
if(BT_SANITIZE)
  # Open MPI's plugins leak at MPI_Finalize in ways LeakSanitizer cannot attribute (see
  # dist.cmake); address and UB checks stay on.
  set_tests_properties(${BT_SWEEP_TESTS} PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endif()

# issue 12: a run stopped by a signal (exit 3) or killed resumes, with other rank counts, to the
# bits of an uninterrupted run (importance, eval, ablate, mask); other options are refused
add_test(NAME sweep.resume
  COMMAND ${BT_PYTHON} ${BT_SWEEP_DIR}/check_resume.py ${BT_SWEEP_ARGS} --work ${BT_SWEEP_WORK}/resume)
# the checkpoint's own parsing and bookkeeping under ASan/UBSan too (47 s there)
set_tests_properties(sweep.resume PROPERTIES LABELS "mpi;sweep;sanitize" TIMEOUT 900 RUN_SERIAL TRUE)
if(BT_SANITIZE)
  set_tests_properties(sweep.resume PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endif()

# issue 20: stops at random moments never crash, never hang, keep the work done and resume to
# the uninterrupted bits: 30 interruptions (SIGUSR1/SIGINT/SIGTERM to mpirun, SIGKILL of a rank;
# np 1-3) of importance on a bert-base-wide model (D 768, 12 heads, F 3072: the GEMM shapes of
# bert-base; 2 layers keep it to ~3 minutes), every process under glibc's MALLOC_CHECK_=3 and
# MALLOC_PERTURB_, plus SIGSEGV of a rank (our fatal-signal handler). The seed is printed;
# BT_STOP_SEED=N repeats it. In the sanitizer build a smaller model and 12 interruptions under
# ASan/UBSan instead (glibc's checks do not apply there; ASan reports fatal signals itself).
if(BT_SANITIZE)
  set(BT_STOP_ARGS --interruptions 12 --hidden 256 --heads 4 --subset 96 --signals USR1,INT,TERM,KILL)
else()
  set(BT_STOP_ARGS --malloc-check)
endif()
add_test(NAME sweep.stop_random
  COMMAND ${BT_PYTHON} ${BT_SWEEP_DIR}/check_stop_random.py ${BT_SWEEP_ARGS} --work ${BT_SWEEP_WORK}/stop_random
          ${BT_STOP_ARGS})
set_tests_properties(sweep.stop_random PROPERTIES LABELS "mpi;sweep;sanitize" TIMEOUT 900 RUN_SERIAL TRUE)
if(BT_SANITIZE)
  set_tests_properties(sweep.stop_random PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endif()
