# store floor: .npy against NumPy, run.h5 written under MPI (np 1, 2, 3) checked with h5py,
# h5ls/h5dump/h5diff, crash/abort behaviour and the size estimate. See docs/run_h5.md.
bt_pytest(store.npy_vs_numpy store/test_npy.py TIMEOUT 120 LABELS store FAST)
bt_pytest(store.run_h5_np1_np3 store/test_run_h5.py SELECT test_ranks LABELS store mpi MPI)
bt_pytest(store.run_h5_variants store/test_run_h5.py SELECT test_variants LABELS store mpi MPI)
bt_pytest(store.run_h5_attr store/test_run_h5.py SELECT test_attr LABELS store mpi MPI)
bt_pytest(store.run_h5_failures store/test_run_h5.py SELECT test_failures LABELS store mpi MPI)
