# dist floor: MPI runs of tests/tools/dist_check.c checked by tests/dist/test_*.py. Every run
# has a 60 s timeout (the harness kills its session), so a hang fails instead of blocking.
bt_pytest(dist.reduce_bitwise dist/test_reduce.py TIMEOUT 300 MPI LABELS mpi FAST)
bt_pytest(dist.agree dist/test_agree.py TIMEOUT 300 MPI LABELS mpi FAST)
bt_pytest(dist.progress dist/test_progress.py TIMEOUT 300 MPI LABELS mpi FAST)
