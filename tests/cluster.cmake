# Cluster runs (issue 12): the job scripts under a real single-node Slurm started by the test
# (skipped, with the reason, where its daemons cannot start), and mpirun over simulated hosts
# (loopback addresses, an rsh agent, TCP between ranks); output faults (a full or read-only file
# system, the directory removed, EIO from a FUSE file system) in the middle of a run. See
# tests/cluster/. Skipped (exit 77) where a daemon, a mount or root is not available.
bt_pytest(cluster.slurm cluster/test_slurm.py TIMEOUT 900 LABELS mpi cluster RUN_SERIAL MPI)
bt_pytest(cluster.multihost cluster/test_multihost.py TIMEOUT 900 LABELS mpi cluster MPI)
# a full file system, up front (refused with both sizes) and in the middle of the pass (every
# rank ends, one message, no run.h5) at np 1-3; needs root to mount a small tmpfs
bt_pytest(cluster.disk_full cluster/test_faults.py TIMEOUT 900 LABELS mpi cluster RUN_SERIAL MPI)
# an I/O error (EIO) in the middle of a run, from a FUSE file system that passes through to a
# directory until told to fail (tests/tools/fuse/eio_fs.c; libfuse3, not under tests/tools/
# itself, whose programs are all built): every rank ends, one message, no run.h5. Needs
# libfuse3, /dev/fuse and the right to mount.
pkg_check_modules(FUSE3 IMPORTED_TARGET fuse3)
if(FUSE3_FOUND)
  add_executable(eio_fs ${CMAKE_CURRENT_SOURCE_DIR}/tools/fuse/eio_fs.c)
  target_link_libraries(eio_fs PRIVATE PkgConfig::FUSE3)
endif()
bt_pytest(cluster.eio cluster/test_eio.py TIMEOUT 900 LABELS mpi cluster MPI)
