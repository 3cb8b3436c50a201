/* Run-time choice of the GEMM backend. One process-wide choice, like the thread count: every
 * engine of a run, on every rank, uses the same kernels, so results stay bitwise identical
 * across ranks (a different backend differs in the last bits: docs/numerics.md). */
#include <stdio.h>
#include <string.h>

#include "bertology/engine.h"
#include "gemm.h"

static int g_requested = BT_GEMM_AUTO;
static int g_active = BT_GEMM_AUTO; /* resolved: BT_GEMM_BLAS or BT_GEMM_ONEDNN */
static eng_gemm_fn g_fn = NULL;

int bt_gemm_available(int kind) {
    switch (kind) {
    case BT_GEMM_AUTO:
    case BT_GEMM_BLAS: return 1;
#ifdef BT_HAVE_ONEDNN
    case BT_GEMM_ONEDNN: return 1;
    case BT_GEMM_ONEDNN_BF16: return eng_gemm_onednn_bf16_supported();
#endif
    default: return 0;
    }
}

int bt_gemm_parse(const char *name, int *kind) {
    static const char *names[] = {"auto", "blas", "onednn", "onednn-bf16"};
    for (int k = 0; k < 4; k++)
        if (!strcmp(name, names[k])) {
            *kind = k;
            return 0;
        }
    return -1;
}

const char *bt_gemm_name(int kind) {
    return kind == BT_GEMM_BLAS ? "blas" : kind == BT_GEMM_ONEDNN ? "onednn"
         : kind == BT_GEMM_ONEDNN_BF16 ? "onednn-bf16" : "auto";
}

/* The rule for auto: oneDNN when it is built in, since it picks its kernels by CPUID where
 * OpenBLAS may not know the CPU (docs/engine.md "GEMM backends" has the measurements). A rule
 * rather than a timing: every rank must choose the same backend without talking to the others. */
static int auto_choice(void) {
#ifdef BT_HAVE_ONEDNN
    return BT_GEMM_ONEDNN;
#else
    return BT_GEMM_BLAS;
#endif
}

int bt_engine_set_gemm(int kind, bt_error *err) {
    if (!bt_gemm_available(kind))
        return bt_error_set(err, BT_EINPUT, "`gemm` %s: this build has no %s backend (oneDNN: libdnnl-dev, "
                            "cmake -DBT_ONEDNN=ON%s)", bt_gemm_name(kind), bt_gemm_name(kind),
                            kind == BT_GEMM_ONEDNN_BF16 ? "; bf16 also needs a CPU with AVX512_BF16 or AMX" : "");
    g_requested = kind;
    g_fn = NULL;
    eng_gemm_resolve();
    return BT_OK;
}

void eng_gemm_resolve(void) {
    if (g_fn) return;
    g_active = g_requested == BT_GEMM_AUTO ? auto_choice() : g_requested;
#ifdef BT_HAVE_ONEDNN
    if (g_active == BT_GEMM_ONEDNN) {
        g_fn = eng_gemm_onednn;
        return;
    }
    if (g_active == BT_GEMM_ONEDNN_BF16) {
        g_fn = eng_gemm_onednn_bf16;
        return;
    }
#endif
    g_active = BT_GEMM_BLAS;
    g_fn = eng_gemm_blas;
}

int bt_engine_gemm(void) {
    eng_gemm_resolve();
    return g_active;
}

const char *bt_gemm_info(int kind) {
#ifdef BT_HAVE_ONEDNN
    if (kind == BT_GEMM_ONEDNN) return eng_gemm_onednn_info();
    if (kind == BT_GEMM_ONEDNN_BF16) return eng_gemm_onednn_bf16_info();
#endif
    return kind == BT_GEMM_BLAS ? eng_gemm_blas_info() : NULL;
}

const char *bt_engine_gemm_info(void) {
    static char buf[384];
    const int k = bt_engine_gemm();
    snprintf(buf, sizeof buf, "%s (%s)", bt_gemm_name(k), bt_gemm_info(k));
    return buf;
}

void eng_gemm(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc) {
    if (!g_fn) { /* an operation called without an engine (the unit tests of ops) */
#pragma omp critical(bt_gemm_resolve)
        eng_gemm_resolve();
    }
    g_fn(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void bt_engine_sgemm(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc) {
    eng_gemm_resolve();
    eng_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
