# GEMM backends and instruction sets (docs/engine.md "GEMM backends", "What is bitwise"): the
# float64 PyTorch reference suites of engine_ref.cmake and families.cmake, the engine's unit
# suites and the rank-bitwise sweep, once per built backend and per instruction set a cluster
# node may have. The tests defined there run with BT_GEMM=blas on this machine's best kernels;
# here each gets copies:
#   <test>.onednn               BT_GEMM=onednn
#   <test>.avx2, .avx2.onednn   kernels of an AVX2 node (oneDNN capped at AVX2, OpenBLAS Haswell)
#   <test>.sse41.onednn         oneDNN's SSE4.1 kernels (OpenBLAS's closest core, Penryn, for the
#                               unit suites; the engine itself is built for x86-64-v3)
# so that a machine with AVX-512 runs what an AVX2 node would (the tests defined there pin
# BT_GEMM=blas). Deferred to the end of tests/: the other files must have defined their
# functions whatever the order of the glob.
set(BT_ISA_AVX2_ENV ONEDNN_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell)
set(BT_ISA_SSE41_ENV ONEDNN_MAX_CPU_ISA=SSE41 OPENBLAS_CORETYPE=Penryn)

# Copies of the reference suites named <test><suffix>, with `gemm` for BT_GEMM and extra
# environment entries (ARGN).
function(bt_ref_copies suffix gemm labels)
  foreach(case ${BT_REF_ENGINE_CASES})
    bt_ref_engine_test(${case} ${suffix} LABELS ref engine ${labels} ENV BT_GEMM=${gemm} ${ARGN})
  endforeach()
  foreach(group ${BT_FAMILY_GROUPS})
    bt_families_test("${group}" ${suffix} TIMEOUT 900 LABELS ref engine families ${labels}
                     ENV BT_GEMM=${gemm} ${ARGN})
  endforeach()
endfunction()

# Copies of the engine's unit suites (every backend of the build inside each).
function(bt_unit_engine_copies suffix labels)
  foreach(suite test_engine_gemm test_engine_ops test_engine_model)
    add_test(NAME unit.${suite}${suffix} COMMAND ${suite})
    get_test_property(unit.${suite} ENVIRONMENT env)
    set_tests_properties(unit.${suite}${suffix} PROPERTIES LABELS "unit;engine;${labels}" TIMEOUT 600
                         ENVIRONMENT "${env};${ARGN}")
  endforeach()
endfunction()

function(bt_gemm_backend_tests)
  bt_ref_copies(.avx2 blas "isa;avx2" ${BT_ISA_AVX2_ENV})
  bt_unit_engine_copies(.avx2 "isa;avx2" ${BT_ISA_AVX2_ENV})
  bt_unit_engine_copies(.sse41 "isa;sse41" ${BT_ISA_SSE41_ENV})
  if(BT_HAVE_ONEDNN)
    bt_ref_copies(.onednn onednn onednn)
    bt_ref_copies(.avx2.onednn onednn "onednn;isa;avx2" ${BT_ISA_AVX2_ENV})
    bt_ref_copies(.sse41.onednn onednn "onednn;isa;sse41" ${BT_ISA_SSE41_ENV})
    bt_pytest(sweep.ranks_bitwise.onednn sweep/test_ranks_bitwise.py TIMEOUT 900 LABELS mpi sweep onednn
              MPI ENV BT_GEMM=onednn)
  endif()
endfunction()
cmake_language(DEFER CALL bt_gemm_backend_tests)

# bertology bench: failures with the engine's error, FLOPs counted from the shapes (LM head
# included), the SST-2 dev lengths it packs (tests/gemm/test_bench.py; about 10 s)
bt_pytest(gemm.bench gemm/test_bench.py LABELS gemm MPI)

# The kernels every rank runs (src/run/kernels.c): the ISA and OpenBLAS core that bench and
# --verbose print follow ONEDNN_MAX_CPU_ISA/OPENBLAS_CORETYPE; ranks of mixed instruction sets
# agree on the lowest (bitwise the run of that set), mixed OpenBLAS cores and a resume on other
# kernels are refused; unset --threads resolves to the ranks' smallest default.
bt_pytest(gemm.isa_agreement gemm/test_isa.py LABELS gemm mpi isa MPI)
