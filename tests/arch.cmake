# arch (issue 11): the library's layering and its run API. See docs/architecture.md.
set(BT_ARCH_ENV "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;BT_PYTHON=${BT_PYTHON}")
set(BT_ARCH_WORK ${CMAKE_CURRENT_BINARY_DIR}/arch_work)

# every flag of every command writing run.h5 is in its options JSON, with the values given
add_test(NAME arch.flags_in_json
  COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/arch/check_flags_json.py $<TARGET_FILE:bertology>
          ${PROJECT_SOURCE_DIR} ${BT_ARCH_WORK}/flags)

# a whole importance run through the library (tests/tools/run_importance_lib.c, no CLI) gives
# the same run.h5 and .npy files as `bertology importance`, bitwise, at np = 2
add_test(NAME arch.run_api_vs_cli
  COMMAND sh -c "rm -rf \"$2\" && mkdir -p \"$2\" && \
    mpirun --oversubscribe -np 2 \"$0\" importance --model \"$3/data/demo-sst2\" --task sst-2 --data \"$3/data/glue/SST-2\" \
      --out \"$2/cli\" --threads 1 --quiet --save-attentions > /dev/null && \
    mpirun --oversubscribe -np 2 \"$1\" \"$3/data/demo-sst2\" \"$3/data/glue/SST-2\" \"$2/lib\" --save-attentions && \
    ${BT_PYTHON} \"$3/tests/arch/compare_runs.py\" \"$2/cli\" \"$2/lib\""
    $<TARGET_FILE:bertology> $<TARGET_FILE:run_importance_lib> ${BT_ARCH_WORK}/api ${PROJECT_SOURCE_DIR})

set_tests_properties(arch.flags_in_json arch.run_api_vs_cli PROPERTIES
  LABELS "arch;mpi" TIMEOUT 600 RUN_SERIAL TRUE ENVIRONMENT "${BT_ARCH_ENV}")

# a head mask whose shape overflows any message buffer: exit 2, one line (issue 13's finding)
add_test(NAME arch.head_mask_huge_shape
  COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/arch/check_head_mask_shape.py $<TARGET_FILE:bertology>
          ${PROJECT_SOURCE_DIR} ${BT_ARCH_WORK}/head_mask)
set_tests_properties(arch.head_mask_huge_shape PROPERTIES LABELS "arch;sanitize" TIMEOUT 300
  ENVIRONMENT "${BT_ARCH_ENV}")
if(BT_SANITIZE)
  set_tests_properties(arch.head_mask_huge_shape PROPERTIES ENVIRONMENT "${BT_ARCH_ENV};ASAN_OPTIONS=detect_leaks=0")
endif()
