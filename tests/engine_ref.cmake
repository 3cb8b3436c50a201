# The engine against the independent float64 PyTorch reference (tests/ref/, criteria in
# docs/testing_numerics.md). ref.reference and ref.harness check the reference and the
# comparison themselves and need no C code; ref.engine.* run `bertology forward`
# (tests/ref/test_engine.py: one test per configuration or check).
bt_pytest(ref.reference ref/test_reference.py LABELS ref FAST)
bt_pytest(ref.harness ref/test_harness.py LABELS ref)
# the attention-attribution reference (torch_attattr.py, the judge of `importance --method
# attattr` in experiments.attattr) against finite differences, completeness and the gate gradient
bt_pytest(ref.attattr ref/test_attattr_ref.py TIMEOUT 300 LABELS ref FAST)

set(BT_REF_ENGINE_CASES
    base three regress f16 bf16 gelu_new relu odd nohead sharded pruned wide packing fd errors)
# ref.engine.CASE<suffix>: test_engine.py's test of CASE; ARGN: more bt_pytest options.
function(bt_ref_engine_test case suffix)
  if(case MATCHES "^(packing|fd|errors)$")
    set(select "test_check[${case}]")
  else()
    set(select "test_config[${case}]")
  endif()
  bt_pytest(ref.engine.${case}${suffix} ref/test_engine.py SELECT "${select}" ${ARGN})
endfunction()
# on the CBLAS backend (auto would take oneDNN); gemm.cmake adds the other backends and ISAs
foreach(case ${BT_REF_ENGINE_CASES})
  bt_ref_engine_test(${case} "" LABELS ref engine FAST ENV BT_GEMM=blas)
endforeach()
