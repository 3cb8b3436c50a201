# dist floor: MPI runs of tests/tools/dist_check.c checked by the scripts in tests/dist.
# Each mpirun inside the scripts is wrapped in `timeout 60`, so a hang fails instead of blocking.
set(BT_DIST_MPIEXEC ${MPIEXEC_EXECUTABLE})
if(NOT BT_DIST_MPIEXEC)
  set(BT_DIST_MPIEXEC mpirun)
endif()

add_test(NAME dist.reduce_bitwise
  COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/dist/check_reduce.py ${BT_DIST_MPIEXEC}
          $<TARGET_FILE:dist_check> ${CMAKE_CURRENT_BINARY_DIR}/dist_work)
add_test(NAME dist.agree
  COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/dist/check_agree.py ${BT_DIST_MPIEXEC}
          $<TARGET_FILE:dist_check>)
add_test(NAME dist.progress
  COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/dist/check_progress.py ${BT_DIST_MPIEXEC}
          $<TARGET_FILE:dist_check>)
# The MPI tests oversubscribe the 2 cores: never run them alongside each other.
set_tests_properties(dist.reduce_bitwise dist.agree dist.progress PROPERTIES
  TIMEOUT 300 RUN_SERIAL TRUE)
if(BT_SANITIZE)
  # Open MPI leaks in plugins it dlclose()s at MPI_Finalize; LeakSanitizer cannot name them, so
  # suppressions cannot match. Address and UB checks stay on. (Leak totals of these runs equal
  # those of a bare MPI_Init/MPI_Finalize, checked by hand; the unit tests keep leak checking.)
  set_tests_properties(dist.reduce_bitwise dist.agree dist.progress PROPERTIES
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endif()
