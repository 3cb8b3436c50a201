# The engine against the independent float64 PyTorch reference (tests/ref/, criteria in
# docs/testing_numerics.md). ref.reference and ref.harness check the reference and the
# comparison themselves and need no C code; ref.engine.* run `bertology forward`.
set(BT_REF_DIR ${CMAKE_CURRENT_SOURCE_DIR}/ref)

add_test(NAME ref.reference COMMAND ${BT_PYTHON} ${BT_REF_DIR}/test_reference.py)
add_test(NAME ref.harness COMMAND ${BT_PYTHON} ${BT_REF_DIR}/test_harness.py)
set_tests_properties(ref.reference ref.harness PROPERTIES TIMEOUT 600 LABELS "ref")

set(BT_REF_ENGINE_CASES
    base three regress f16 bf16 gelu_new relu odd nohead sharded pruned wide packing fd errors)
foreach(name ${BT_REF_ENGINE_CASES})
  add_test(NAME ref.engine.${name}
           COMMAND ${BT_PYTHON} ${BT_REF_DIR}/compare_engine.py
                   --bertology $<TARGET_FILE:bertology> --only ${name})
  set_tests_properties(ref.engine.${name} PROPERTIES TIMEOUT 600 LABELS "ref;engine")
endforeach()
