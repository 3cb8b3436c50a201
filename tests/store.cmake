# store floor: .npy against NumPy, run.h5 written under MPI (np 1, 2, 3) checked with h5py,
# h5ls/h5dump/h5diff, crash/abort behaviour and the size estimate. See docs/run_h5.md.
set(BT_STORE_MPIEXEC ${MPIEXEC_EXECUTABLE})
if(NOT BT_STORE_MPIEXEC)
  set(BT_STORE_MPIEXEC mpirun)
endif()
set(BT_STORE_RUN_H5 ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/store/check_run_h5.py
    --demo $<TARGET_FILE:store_demo> --mpiexec ${BT_STORE_MPIEXEC})

add_test(NAME store.npy_vs_numpy
  COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/store/check_npy.py
          $<TARGET_FILE:store_npy> ${CMAKE_CURRENT_BINARY_DIR}/store_work/npy)
add_test(NAME store.run_h5_np1_np3
  COMMAND ${BT_STORE_RUN_H5} --work ${CMAKE_CURRENT_BINARY_DIR}/store_work/ranks ranks)
add_test(NAME store.run_h5_variants
  COMMAND ${BT_STORE_RUN_H5} --work ${CMAKE_CURRENT_BINARY_DIR}/store_work/variants variants)
add_test(NAME store.run_h5_failures
  COMMAND ${BT_STORE_RUN_H5} --work ${CMAKE_CURRENT_BINARY_DIR}/store_work/failures failures)
set(BT_STORE_MPI_TESTS store.run_h5_np1_np3 store.run_h5_variants store.run_h5_failures)
set_tests_properties(store.npy_vs_numpy PROPERTIES TIMEOUT 120)
# The MPI runs oversubscribe the 2 cores: never alongside each other or other MPI tests.
set_tests_properties(${BT_STORE_MPI_TESTS} PROPERTIES TIMEOUT 600 RUN_SERIAL TRUE)
if(BT_SANITIZE)
  # Open MPI's plugins leak at MPI_Finalize in ways LeakSanitizer cannot attribute (see
  # dist.cmake); address and UB checks stay on. The unit tests keep leak checking.
  set_tests_properties(${BT_STORE_MPI_TESTS} PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endif()
