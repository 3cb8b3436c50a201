/* The engine's one matrix-product interface (docs/engine.md "GEMM backends"). Every dense and
 * attention product goes through eng_gemm; the backend behind it is chosen at build time (which
 * ones exist) and at run time (bt_engine_set_gemm). */
#ifndef BT_ENGINE_GEMM_H
#define BT_ENGINE_GEMM_H

/* C[M,N] = alpha op(A) op(B) + beta C, row-major; op(X) = X for 'N', X^T for 'T'.
 * Inside an OpenMP parallel region the product runs on the calling thread alone. */
void eng_gemm(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

/* Resolves BT_GEMM_AUTO before the first product (bt_engine_create calls it outside any
 * parallel region, so the choice is never raced). */
void eng_gemm_resolve(void);

/* Backends: each fills a table entry. */
typedef void (*eng_gemm_fn)(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda,
                            const float *B, int ldb, float beta, float *C, int ldc);
void eng_gemm_blas(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc);
/* "OpenBLAS 0.3.21 ... core Haswell" or the CBLAS vendor CMake found */
const char *eng_gemm_blas_info(void);
#ifdef BT_HAVE_ONEDNN
void eng_gemm_onednn(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc);
/* "oneDNN 2.6.3 dnnl_sgemm, ISA avx512_core_bf16" */
const char *eng_gemm_onednn_info(void);
/* bf16 dense products, float32 accumulation (gemm_onednn_bf16.c); the CPU must have
 * AVX512_BF16 or AMX (gemm_isa.c tells, without fixing oneDNN's ISA setting). */
void eng_gemm_onednn_bf16(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda,
                          const float *B, int ldb, float beta, float *C, int ldc);
int eng_gemm_onednn_bf16_supported(void);
const char *eng_gemm_onednn_bf16_info(void);
#endif

#endif
