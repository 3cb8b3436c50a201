/* CBLAS backend: OpenBLAS by default, any CBLAS that CMake's FindBLAS finds (BLA_VENDOR). */
#include <stdio.h>

#include "bertology/engine.h"
#include "gemm.h"
#include BT_CBLAS_HEADER

static CBLAS_TRANSPOSE tr(char t) { return t == 'T' ? CblasTrans : CblasNoTrans; }

void eng_gemm_blas(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                   int ldb, float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char *eng_gemm_blas_info(void) {
#ifdef BT_OPENBLAS
    static char buf[256];
    snprintf(buf, sizeof buf, "cblas_sgemm, %s, core %s, ISA %s", openblas_get_config(), openblas_get_corename(),
             bt_gemm_isa(BT_GEMM_BLAS));
    return buf;
#else
    return "cblas_sgemm, " BT_BLAS_VENDOR;
#endif
}
