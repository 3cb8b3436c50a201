# Experiments (eval, mask, ablate, prune): the commands against the float64 torch reference of
# tests/ref and sklearn/scipy metrics, each other (ablation = eval --head-mask), independent
# checkpoints (pruned tensors), and under MPI (np 1 == np 3 bitwise). See docs/experiments.md.
set(BT_EXP_MPIEXEC ${MPIEXEC_EXECUTABLE})
if(NOT BT_EXP_MPIEXEC)
  set(BT_EXP_MPIEXEC mpirun)
endif()
set(BT_EXP_ENV "BT_TEST_DATA=${BT_TEST_DATA};BT_MPIEXEC=${BT_EXP_MPIEXEC}")
foreach(name eval mask ablate prune bad_input ranks)
  add_test(NAME experiments.${name}
    COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/experiments/check_${name}.py
            $<TARGET_FILE:bertology> ${CMAKE_CURRENT_BINARY_DIR}/experiments_work/${name})
  set_tests_properties(experiments.${name} PROPERTIES TIMEOUT 900 LABELS experiments
                       ENVIRONMENT "${BT_EXP_ENV}")
endforeach()
# np 3 oversubscribes the 2 cores: never alongside other MPI tests.
set_tests_properties(experiments.ranks PROPERTIES RUN_SERIAL TRUE)
if(BT_SANITIZE)
  # Open MPI's plugins leak at MPI_Finalize in ways LeakSanitizer cannot attribute (see
  # dist.cmake); address and UB checks stay on. The unit tests keep leak checking.
  foreach(name eval mask ablate prune bad_input ranks)
    set_tests_properties(experiments.${name} PROPERTIES
                         ENVIRONMENT "${BT_EXP_ENV};ASAN_OPTIONS=detect_leaks=0")
  endforeach()
endif()
