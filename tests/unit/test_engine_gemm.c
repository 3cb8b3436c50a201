/* The GEMM layer (src/engine/gemm.c) with every backend of the build: each transpose, leading
 * dimensions wider than the matrices, alpha and beta (beta = 0 must ignore NaN in C, as BLAS
 * does), against a double-precision loop written here; products inside an OpenMP parallel region
 * equal the same products run on one thread outside, bit for bit; the instruction-set level and
 * its cap against oneDNN's own report; run-time selection and its errors; the bf16 backend
 * against the double product of bf16-rounded inputs. */
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/engine.h"
#include "testutil.h"
#include "threads.h"

static unsigned rng_state = 777u;
static float frand(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) * (1.0 / 8388608.0)) - 1.0f;
}

/* element (i, j) of op(X) for a row-major X with leading dimension ld */
static double at(const float *X, int ld, char t, int i, int j) { return t == 'T' ? X[(size_t)j * ld + i] : X[(size_t)i * ld + j]; }

typedef struct {
    char ta, tb;
    int M, N, K;
    float alpha, beta;
} gcase;

static void check_case(int kind, const gcase *g) {
    const int pad = 3;
    const int arows = g->ta == 'T' ? g->K : g->M, acols = g->ta == 'T' ? g->M : g->K;
    const int brows = g->tb == 'T' ? g->N : g->K, bcols = g->tb == 'T' ? g->K : g->N;
    const int lda = acols + pad, ldb = bcols + pad, ldc = g->N + pad;
    float *A = malloc(sizeof(float) * arows * lda), *B = malloc(sizeof(float) * brows * ldb);
    float *C = malloc(sizeof(float) * g->M * ldc), *C0 = malloc(sizeof(float) * g->M * ldc);
    for (int i = 0; i < arows * lda; i++) A[i] = frand();
    for (int i = 0; i < brows * ldb; i++) B[i] = frand();
    for (int i = 0; i < g->M * ldc; i++) C0[i] = g->beta == 0.0f ? NAN : frand();
    memcpy(C, C0, sizeof(float) * g->M * ldc);
    bt_error err;
    ck_assert_int_eq(bt_engine_set_gemm(kind, &err), 0);
    ck_assert_int_eq(bt_engine_gemm(), kind);
    bt_engine_sgemm(g->ta, g->tb, g->M, g->N, g->K, g->alpha, A, lda, B, ldb, g->beta, C, ldc);
    for (int i = 0; i < g->M; i++) {
        for (int j = 0; j < ldc; j++) {
            if (j >= g->N) { /* the padding columns of C are never written */
                ck_assert_mem_eq(&C[i * ldc + j], &C0[i * ldc + j], sizeof(float));
                continue;
            }
            double s = 0;
            for (int k = 0; k < g->K; k++) s += at(A, lda, g->ta, i, k) * at(B, ldb, g->tb, k, j);
            const double want = g->alpha * s + (g->beta == 0.0f ? 0.0 : g->beta * (double)C0[i * ldc + j]);
            ck_assert_msg(fabs(C[i * ldc + j] - want) <= 1e-5 * (1 + fabs(want)) * sqrt(g->K + 1),
                          "%s %c%c %dx%dx%d alpha %g beta %g: C[%d,%d] = %.9g, want %.9g", bt_gemm_name(kind), g->ta,
                          g->tb, g->M, g->N, g->K, g->alpha, g->beta, i, j, C[i * ldc + j], want);
        }
    }
    free(A), free(B), free(C), free(C0);
}

START_TEST(products_match_double_loop) {
    static const gcase cases[] = {
        {'N', 'T', 67, 129, 33, 1.0f, 0.0f}, {'N', 'N', 31, 17, 64, 0.125f, 1.0f}, {'T', 'N', 128, 64, 128, -0.5f, 0.0f},
        {'T', 'T', 5, 7, 3, 2.0f, 0.5f},     {'N', 'T', 1, 1, 1, 1.0f, 0.0f},    {'N', 'N', 200, 300, 100, 1.0f, 1.0f},
        {'N', 'T', 128, 128, 64, 0.125f, 0.0f},
    };
    for (int kind = BT_GEMM_BLAS; kind <= BT_GEMM_ONEDNN; kind++) {
        if (!bt_gemm_available(kind)) continue;
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) check_case(kind, &cases[c]);
    }
}
END_TEST

/* The attention calls the GEMM from every thread of a parallel region: there each product runs
 * on its calling thread alone and has the bits of the same product run on one thread outside
 * any region. Not those of the product split among threads: oneDNN's AVX2 kernels split a
 * 57x57x64 product between two threads and sum it in another order (docs/engine.md "What is
 * bitwise"), which the ISA variants of this suite (tests/gemm.cmake) run into. A team of one
 * thread is outside any active region for the libraries, so eng_products_on_this_thread() has
 * to say it. */
START_TEST(region_products_are_one_thread_products) {
    enum { U = 8, T = 57, DH = 64 };
    const size_t out_bytes = sizeof(float) * U * T * T;
    float *q = malloc(sizeof(float) * U * T * DH), *out = malloc(out_bytes), *ref = malloc(out_bytes);
    for (int i = 0; i < U * T * DH; i++) q[i] = frand();
    bt_error err;
    for (int kind = BT_GEMM_BLAS; kind <= BT_GEMM_ONEDNN; kind++) {
        if (!bt_gemm_available(kind)) continue;
        ck_assert_int_eq(bt_engine_set_gemm(kind, &err), 0);
        bt_engine_set_threads(1);
        for (int u = 0; u < U; u++)
            bt_engine_sgemm('N', 'T', T, T, DH, 0.125f, q + u * T * DH, DH, q + u * T * DH, DH, 0.0f, ref + u * T * T, T);
        bt_engine_set_threads(2);
        memset(out, 0, out_bytes);
#pragma omp parallel for schedule(dynamic, 1) num_threads(2)
        for (int u = 0; u < U; u++)
            bt_engine_sgemm('N', 'T', T, T, DH, 0.125f, q + u * T * DH, DH, q + u * T * DH, DH, 0.0f, out + u * T * T, T);
        ck_assert_msg(!memcmp(out, ref, out_bytes), "%s: a product in a region of 2 threads", bt_gemm_name(kind));
        memset(out, 0, out_bytes);
#pragma omp parallel num_threads(1)
        {
            eng_products_on_this_thread();
            for (int u = 0; u < U; u++)
                bt_engine_sgemm('N', 'T', T, T, DH, 0.125f, q + u * T * DH, DH, q + u * T * DH, DH, 0.0f,
                                out + u * T * T, T);
        }
        ck_assert_msg(!memcmp(out, ref, out_bytes), "%s: a product in a team of one thread", bt_gemm_name(kind));
        ck_assert_int_eq(omp_get_max_threads(), 2); /* the region's own count ended with it */
    }
    free(q), free(out), free(ref);
}
END_TEST

/* The instruction set a process may use, derived without asking oneDNN (asking fixes its
 * choice), against what oneDNN then reports: for each value of the variables oneDNN reads,
 * in a process of its own (Check forks each iteration). */
static const struct {
    const char *onednn, *dnnl;
} ISA_ENV[] = {{NULL, NULL},           {"AVX2", NULL},        {NULL, "SSE41"},           {"avx", NULL},
               {"SSE41", "AVX2"},      {"AVX512_CORE", NULL}, {"avx512_core_vnni", NULL}, {"AVX512_CORE_BF16", NULL},
               {"AVX512_CORE_AMX", NULL}, {"AVX2_VNNI", NULL}, {"ALL", NULL},             {"no-such-isa", NULL}};

START_TEST(isa_level_is_onednns) {
    if (!bt_gemm_available(BT_GEMM_ONEDNN)) return;
    unsetenv("ONEDNN_MAX_CPU_ISA"), unsetenv("DNNL_MAX_CPU_ISA");
    if (ISA_ENV[_i].onednn) setenv("ONEDNN_MAX_CPU_ISA", ISA_ENV[_i].onednn, 1);
    if (ISA_ENV[_i].dnnl) setenv("DNNL_MAX_CPU_ISA", ISA_ENV[_i].dnnl, 1);
    const int level = bt_engine_isa_level();
    ck_assert_int_ge(level, BT_ISA_SSE41);
    const char *onednn = bt_gemm_isa(BT_GEMM_ONEDNN); /* fixes oneDNN's setting from here on */
    /* the OS may withhold AMX from a process; oneDNN then runs its bf16 kernels */
    if (level == BT_ISA_AMX && !strcmp(onednn, bt_isa_name(BT_ISA_AVX512_BF16))) return;
    ck_assert_msg(!strcmp(onednn, bt_isa_name(level)), "ONEDNN_MAX_CPU_ISA=%s DNNL_MAX_CPU_ISA=%s: derived %s, oneDNN runs %s",
                  ISA_ENV[_i].onednn ? ISA_ENV[_i].onednn : "-", ISA_ENV[_i].dnnl ? ISA_ENV[_i].dnnl : "-",
                  bt_isa_name(level), onednn);
}
END_TEST

/* A cap set before oneDNN's first product holds, its products stay exact, and the kernels id
 * says it; once oneDNN has chosen, a cap is refused rather than silently ignored. */
START_TEST(isa_cap) {
    if (!bt_gemm_available(BT_GEMM_ONEDNN)) return;
    unsetenv("ONEDNN_MAX_CPU_ISA"), unsetenv("DNNL_MAX_CPU_ISA");
    bt_error err;
    ck_assert_int_eq(bt_engine_cap_isa(BT_ISA_SSE41, &err), 0);
    ck_assert_int_eq(bt_engine_isa_level(), BT_ISA_SSE41);
    ck_assert_str_eq(bt_gemm_isa(BT_GEMM_ONEDNN), "sse41");
    ck_assert_int_eq(bt_engine_set_gemm(BT_GEMM_ONEDNN, &err), 0);
    ck_assert_str_eq(bt_engine_kernels(), "onednn/sse41");
    const gcase g = {'N', 'T', 67, 129, 33, 1.0f, 0.0f};
    check_case(BT_GEMM_ONEDNN, &g);
    ck_assert_int_eq(bt_engine_cap_isa(BT_ISA_AVX2, &err), BT_EINTERNAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "avx2"));
    ck_assert_str_eq(bt_gemm_isa(BT_GEMM_ONEDNN), "sse41");
}
END_TEST

/* The CBLAS id names OpenBLAS's core, which its info line shows too. */
START_TEST(blas_kernels_id) {
    bt_error err;
    ck_assert_int_eq(bt_engine_set_gemm(BT_GEMM_BLAS, &err), 0);
    const char *id = bt_engine_kernels();
    ck_assert_msg(!strncmp(id, "blas/", 5), "%s", id);
    char core[64];
    snprintf(core, sizeof core, "core %s", id + 5);
    ck_assert_ptr_nonnull(strstr(bt_gemm_info(BT_GEMM_BLAS), core));
    ck_assert_ptr_nonnull(bt_gemm_isa(BT_GEMM_BLAS));
}
END_TEST

/* x rounded to bfloat16 (8 significant bits, to nearest even) through frexp/ldexp, not bits */
static double bf16_round(double x) {
    int e;
    const double m = frexp(x, &e);
    return ldexp(nearbyint(ldexp(m, 8)), e - 8);
}

/* --gemm onednn-bf16: a product of >= 2^24 multiply-adds equals the double-precision product of
 * the inputs rounded to bf16 (float32 accumulation: 1e-5), and so differs from the exact
 * product by far more than float32 would; smaller products are the float32 backend's, bit for bit. */
START_TEST(bf16_products) {
    if (!bt_gemm_available(BT_GEMM_ONEDNN_BF16)) {
        fprintf(stderr, "bf16_products: no onednn-bf16 on this build/CPU, skipped\n");
        bt_error err;
        ck_assert_int_eq(bt_engine_set_gemm(BT_GEMM_ONEDNN_BF16, &err), BT_EINPUT);
        return;
    }
    static const gcase cases[] = {{'N', 'T', 64, 512, 768, 1.0f, 0.0f}, {'N', 'N', 96, 384, 512, 0.5f, 1.0f},
                                  {'T', 'N', 64, 300, 900, 1.0f, 0.25f}, {'T', 'T', 80, 256, 1024, -2.0f, 0.0f}};
    bt_error err;
    ck_assert_int_eq(bt_engine_set_gemm(BT_GEMM_ONEDNN_BF16, &err), 0);
    ck_assert_int_eq(bt_engine_gemm(), BT_GEMM_ONEDNN_BF16);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const gcase *g = &cases[c];
        ck_assert((long)g->M * g->N * g->K >= 1L << 24);
        const int arows = g->ta == 'T' ? g->K : g->M, acols = g->ta == 'T' ? g->M : g->K;
        const int brows = g->tb == 'T' ? g->N : g->K, bcols = g->tb == 'T' ? g->K : g->N;
        const int lda = acols + 2, ldb = bcols + 1, ldc = g->N + 3;
        float *A = malloc(sizeof(float) * arows * lda), *B = malloc(sizeof(float) * brows * ldb);
        float *C = malloc(sizeof(float) * g->M * ldc), *C0 = malloc(sizeof(float) * g->M * ldc);
        for (int i = 0; i < arows * lda; i++) A[i] = frand();
        for (int i = 0; i < brows * ldb; i++) B[i] = frand();
        for (int i = 0; i < g->M * ldc; i++) C0[i] = g->beta == 0.0f ? NAN : frand();
        memcpy(C, C0, sizeof(float) * g->M * ldc);
        bt_engine_sgemm(g->ta, g->tb, g->M, g->N, g->K, g->alpha, A, lda, B, ldb, g->beta, C, ldc);
        double worst_exact = 0;
        for (int i = 0; i < g->M; i++)
            for (int j = 0; j < ldc; j++) {
                if (j >= g->N) {
                    ck_assert_mem_eq(&C[i * ldc + j], &C0[i * ldc + j], sizeof(float));
                    continue;
                }
                double s = 0, s_exact = 0, mag = 0;
                for (int k = 0; k < g->K; k++) {
                    const double a = at(A, lda, g->ta, i, k), b = at(B, ldb, g->tb, k, j);
                    s += bf16_round(a) * bf16_round(b);
                    s_exact += a * b;
                    mag += fabs(a * b);
                }
                const double c0 = g->beta == 0.0f ? 0.0 : g->beta * (double)C0[i * ldc + j];
                const double want = g->alpha * s + c0, exact = g->alpha * s_exact + c0;
                ck_assert_msg(fabs(C[i * ldc + j] - want) <= 1e-5 * (1 + fabs(g->alpha) * mag),
                              "bf16 %c%c %dx%dx%d: C[%d,%d] = %.9g, want %.9g", g->ta, g->tb, g->M, g->N, g->K, i,
                              j, C[i * ldc + j], want);
                worst_exact = fmax(worst_exact, fabs(C[i * ldc + j] - exact) / (1 + fabs(g->alpha) * mag));
            }
        ck_assert_msg(worst_exact > 1e-4, "%c%c: off the exact product by %g only: not bf16", g->ta, g->tb, worst_exact);
        free(A), free(B), free(C), free(C0);
    }
    /* below the threshold: float32, the bits of the onednn backend */
    enum { M = 33, N = 65, K = 64 };
    float A[M * K], B[N * K], C1[M * N], C2[M * N];
    for (int i = 0; i < M * K; i++) A[i] = frand();
    for (int i = 0; i < N * K; i++) B[i] = frand();
    bt_engine_sgemm('N', 'T', M, N, K, 1.0f, A, K, B, K, 0.0f, C1, N);
    ck_assert_int_eq(bt_engine_set_gemm(BT_GEMM_ONEDNN, &err), 0);
    bt_engine_sgemm('N', 'T', M, N, K, 1.0f, A, K, B, K, 0.0f, C2, N);
    ck_assert_mem_eq(C1, C2, sizeof C1);
}
END_TEST

START_TEST(selection) {
    int k = -7;
    ck_assert_int_eq(bt_gemm_parse("auto", &k), 0);
    ck_assert_int_eq(k, BT_GEMM_AUTO);
    ck_assert_int_eq(bt_gemm_parse("blas", &k), 0);
    ck_assert_int_eq(k, BT_GEMM_BLAS);
    ck_assert_int_eq(bt_gemm_parse("onednn", &k), 0);
    ck_assert_int_eq(k, BT_GEMM_ONEDNN);
    ck_assert_int_eq(bt_gemm_parse("onednn-bf16", &k), 0);
    ck_assert_int_eq(k, BT_GEMM_ONEDNN_BF16);
    ck_assert_str_eq(bt_gemm_name(BT_GEMM_ONEDNN_BF16), "onednn-bf16");
    ck_assert_int_ne(bt_gemm_parse("mkl", &k), 0);
    bt_error err;
    /* auto is the documented rule: oneDNN when built in */
    ck_assert_int_eq(bt_engine_set_gemm(BT_GEMM_AUTO, &err), 0);
    ck_assert_int_eq(bt_engine_gemm(), bt_gemm_available(BT_GEMM_ONEDNN) ? BT_GEMM_ONEDNN : BT_GEMM_BLAS);
    ck_assert_ptr_nonnull(strstr(bt_engine_gemm_info(), bt_gemm_name(bt_engine_gemm())));
    ck_assert_ptr_nonnull(bt_gemm_info(BT_GEMM_BLAS));
    if (!bt_gemm_available(BT_GEMM_ONEDNN)) {
        ck_assert_int_eq(bt_engine_set_gemm(BT_GEMM_ONEDNN, &err), BT_EINPUT);
        ck_assert_ptr_nonnull(strstr(err.msg, "onednn"));
        ck_assert_ptr_null(bt_gemm_info(BT_GEMM_ONEDNN));
    } else {
        /* the OpenBLAS core warning belongs to the CBLAS path only */
        ck_assert_int_eq(bt_engine_set_gemm(BT_GEMM_ONEDNN, &err), 0);
        ck_assert_ptr_null(bt_engine_blas_warning());
    }
    ck_assert_int_ne(bt_engine_set_gemm(42, &err), 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("engine_gemm");
    TCase *tc = tcase_create("gemm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, products_match_double_loop);
    tcase_add_test(tc, region_products_are_one_thread_products);
    tcase_add_loop_test(tc, isa_level_is_onednns, 0, sizeof ISA_ENV / sizeof ISA_ENV[0]);
    tcase_add_test(tc, isa_cap);
    tcase_add_test(tc, blas_kernels_id);
    tcase_add_test(tc, bf16_products);
    tcase_add_test(tc, selection);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
