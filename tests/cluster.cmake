# Cluster runs (issue 12): the job scripts under a real single-node Slurm started by the test
# (skipped, with the reason, where its daemons cannot start), and mpirun over simulated hosts
# (loopback addresses, an rsh agent, TCP between ranks). See tests/cluster/.
set(BT_CLUSTER_MPIEXEC ${MPIEXEC_EXECUTABLE})
if(NOT BT_CLUSTER_MPIEXEC)
  set(BT_CLUSTER_MPIEXEC mpirun)
endif()
set(BT_CLUSTER_ARGS --bertology $<TARGET_FILE:bertology> --mpiexec ${BT_CLUSTER_MPIEXEC}
    --testdata ${BT_TEST_DATA} --source ${PROJECT_SOURCE_DIR})
set(BT_CLUSTER_WORK ${CMAKE_CURRENT_BINARY_DIR}/cluster_work)
add_test(NAME cluster.slurm
  COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cluster/check_slurm.py ${BT_CLUSTER_ARGS}
          --work ${BT_CLUSTER_WORK}/slurm)
add_test(NAME cluster.multihost
  COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cluster/check_multihost.py ${BT_CLUSTER_ARGS}
          --work ${BT_CLUSTER_WORK}/multihost)
set_tests_properties(cluster.slurm cluster.multihost PROPERTIES LABELS "mpi;cluster" TIMEOUT 900
                     RUN_SERIAL TRUE ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
set_tests_properties(cluster.slurm PROPERTIES SKIP_RETURN_CODE 77)
# a full file system, up front (refused with both sizes) and in the middle of the pass (every
# rank ends, one message, no run.h5) at np 1-3; needs root to mount a small tmpfs (else skipped)
add_test(NAME cluster.disk_full
  COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cluster/check_faults.py ${BT_CLUSTER_ARGS}
          --work ${BT_CLUSTER_WORK}/faults)
set_tests_properties(cluster.disk_full PROPERTIES LABELS "mpi;cluster" TIMEOUT 900 RUN_SERIAL TRUE
                     SKIP_RETURN_CODE 77 ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
# an I/O error (EIO) in the middle of a run, from a FUSE file system that passes through to a
# directory until told to fail (tests/tools/fuse/eio_fs.c; libfuse3, not under tests/tools/
# itself, whose programs are all built): every rank ends, one message, no run.h5. Skipped (77)
# without libfuse3, /dev/fuse or the right to mount.
pkg_check_modules(FUSE3 IMPORTED_TARGET fuse3)
if(FUSE3_FOUND)
  add_executable(eio_fs ${CMAKE_CURRENT_SOURCE_DIR}/tools/fuse/eio_fs.c)
  target_link_libraries(eio_fs PRIVATE PkgConfig::FUSE3)
  set(BT_EIO_FS $<TARGET_FILE:eio_fs>)
else()
  set(BT_EIO_FS none)
endif()
add_test(NAME cluster.eio
  COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cluster/check_eio.py ${BT_CLUSTER_ARGS}
          --eio-fs ${BT_EIO_FS} --work ${BT_CLUSTER_WORK}/eio)
set_tests_properties(cluster.eio PROPERTIES LABELS "mpi;cluster" TIMEOUT 900 RUN_SERIAL TRUE
                     SKIP_RETURN_CODE 77 ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
