# GEMM backends (issue 14, docs/engine.md "GEMM backends"): the float64 PyTorch reference suites
# of engine_ref.cmake and families.cmake, and the rank-bitwise sweep, once per built backend.
# The tests defined there run with BT_GEMM=blas; here each gets a copy named <test>.onednn with
# BT_GEMM=onednn when oneDNN is built in. Deferred to the end of tests/: the other files must
# have defined their tests whatever the order of the glob.
function(bt_gemm_backend_tests)

  # the existing tests pin the CBLAS backend (auto would take oneDNN)
  foreach(name ${BT_REF_ENGINE_CASES})
    set_property(TEST ref.engine.${name} APPEND PROPERTY ENVIRONMENT BT_GEMM=blas)
  endforeach()
  foreach(group ${BT_FAMILY_GROUPS})
    string(REPLACE "=" ";" parts "${group}")
    list(GET parts 0 name)
    set_property(TEST families.${name} APPEND PROPERTY ENVIRONMENT BT_GEMM=blas)
  endforeach()
  set_property(TEST sweep.ranks_bitwise APPEND PROPERTY ENVIRONMENT BT_GEMM=blas)

  if(BT_HAVE_ONEDNN)
    foreach(name ${BT_REF_ENGINE_CASES})
      add_test(NAME ref.engine.${name}.onednn
               COMMAND ${BT_PYTHON} ${BT_REF_DIR}/compare_engine.py
                       --bertology $<TARGET_FILE:bertology> --only ${name})
      get_test_property(ref.engine.${name} ENVIRONMENT env)
      list(TRANSFORM env REPLACE "^BT_GEMM=blas$" "BT_GEMM=onednn")
      set_tests_properties(ref.engine.${name}.onednn PROPERTIES TIMEOUT 600 LABELS "ref;engine;onednn"
                           ENVIRONMENT "${env}")
    endforeach()
    foreach(group ${BT_FAMILY_GROUPS})
      string(REPLACE "=" ";" parts "${group}")
      list(GET parts 0 name)
      list(GET parts 1 only)
      add_test(NAME families.${name}.onednn
               COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/ref/compare_families.py
                       --bertology $<TARGET_FILE:bertology> --mk-model-dump $<TARGET_FILE:mk_model_dump>
                       --only ${only})
      get_test_property(families.${name} ENVIRONMENT env)
      list(TRANSFORM env REPLACE "^BT_GEMM=blas$" "BT_GEMM=onednn")
      set_tests_properties(families.${name}.onednn PROPERTIES TIMEOUT 900 LABELS "ref;engine;families;onednn"
                           ENVIRONMENT "${env}")
    endforeach()
    add_test(NAME sweep.ranks_bitwise.onednn
      COMMAND ${BT_PYTHON} ${BT_SWEEP_DIR}/check_ranks.py ${BT_SWEEP_ARGS} --work ${BT_SWEEP_WORK}/ranks_onednn)
    set_tests_properties(sweep.ranks_bitwise.onednn PROPERTIES LABELS "mpi;sweep;onednn" TIMEOUT 900 RUN_SERIAL TRUE
                         ENVIRONMENT BT_GEMM=onednn)
  endif()
endfunction()
cmake_language(DEFER CALL bt_gemm_backend_tests)

# bertology bench: failures with the engine's error, FLOPs counted from the shapes (LM head
# included), the SST-2 dev lengths it packs (tests/gemm/check_bench.py; about 10 s)
add_test(NAME gemm.bench
         COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/gemm/check_bench.py --bertology $<TARGET_FILE:bertology>
                 --source ${PROJECT_SOURCE_DIR} --work ${CMAKE_CURRENT_BINARY_DIR}/gemm_bench)
set_tests_properties(gemm.bench PROPERTIES LABELS "gemm" TIMEOUT 600)
