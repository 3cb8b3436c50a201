# Hostile inputs (docs/hostile_inputs.md) beyond the fuzz targets of tests/fuzz.cmake.

# The run_opts.c head-mask message overflow (issue 13): a CLI run with the regression .npy.
add_test(NAME hardening.head_mask_shape
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/hardening/head_mask_shape.sh $<TARGET_FILE:bertology>
          ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/hardening_head_mask)
set_tests_properties(hardening.head_mask_shape PROPERTIES LABELS "hardening;sanitize;fast" TIMEOUT 120
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1")

# Unit suites that initialise MPI keep leak checking on: Open MPI's own allocations are
# suppressed (tests/lsan.supp, each entry justified), and reaching them needs full stacks. The
# suppressions come from LSAN_OPTIONS as tests/run.sh exports it (a copy of tests/lsan.supp in
# /tmp: LSAN_OPTIONS cannot hold the checkout's path when it has a space).
set_property(TEST unit.test_sweep_batches unit.test_sweep_stop APPEND PROPERTY ENVIRONMENT
  "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0")
