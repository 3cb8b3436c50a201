/* oneDNN backend: dnnl_sgemm, oneDNN's JIT GEMM with kernels chosen by CPUID at run time.
 * Debian's libdnnl uses the OpenMP runtime, so it shares the engine's thread pool and runs
 * single-threaded when called inside a parallel region (the attention loop). */
#ifdef BT_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>

#include "gemm.h"

void eng_gemm_onednn(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc) {
    /* Arguments are checked by the callers' shapes; dnnl_sgemm fails only on invalid ones. */
    dnnl_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

const char *eng_gemm_onednn_info(void) {
    static char buf[128];
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, sizeof buf, "dnnl_sgemm, oneDNN %d.%d.%d, ISA %s", v->major, v->minor, v->patch,
             isa_name(dnnl_get_effective_cpu_isa()));
    return buf;
}
#endif
