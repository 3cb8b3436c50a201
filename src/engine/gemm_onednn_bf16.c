/* Reduced-precision backend (`--gemm onednn-bf16`, never the default; docs/engine.md
 * "bf16 products"): the dense products (every linear layer, forward and backward) round both
 * inputs to bfloat16 and run oneDNN's matmul with float32 accumulation and output, on CPUs with
 * AVX512_BF16 or AMX. The attention products (small, inside the engine's parallel loop over
 * sequence and head) and anything below BF16_MIN_MACS stay in float32 through dnnl_sgemm.
 *
 * oneDNN 2.6 has no public bf16 GEMM call, so each product is a matmul primitive described by
 * its shape; oneDNN's primitive cache makes the second and later creations of a shape cheap. */
#ifdef BT_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "gemm.h"

/* Smaller products (attention's T x T x d_head is 1 M at T = 128) are not worth the rounding
 * and the primitive's set-up; a bert-base linear layer at 128 tokens is 75 M. */
#define BF16_MIN_MACS ((int64_t)1 << 24)

static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;
static int g_state; /* 0: not tried, 1: ready, -1: failed (then every product is f32) */

/* Conversion buffers, grown as needed; products run outside parallel regions only. */
static uint16_t *g_abuf, *g_bbuf;
static size_t g_acap, g_bcap;

static int ready(void) {
    if (g_state) return g_state > 0;
    g_state = -1;
    if (dnnl_engine_create(&g_engine, dnnl_cpu, 0) != dnnl_success) return 0;
    if (dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags) != dnnl_success) return 0;
    g_state = 1;
    return 1;
}

static uint16_t *grow(uint16_t **buf, size_t *cap, size_t n) {
    if (n > *cap) {
        free(*buf);
        *buf = bt_malloc(n, sizeof **buf, "bf16 operands", NULL);
        *cap = *buf ? n : 0;
    }
    return *buf;
}

/* rows x cols of X (leading dimension ld) to a dense bf16 copy, rounded to nearest even. */
static void to_bf16(const float *X, int rows, int cols, int ld, uint16_t *out) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        const uint32_t *src = (const uint32_t *)(X + (size_t)r * ld);
        uint16_t *dst = out + (size_t)r * cols;
        for (int c = 0; c < cols; c++) {
            const uint32_t u = src[c];
            const uint32_t nan = (u & 0x7fffffffu) > 0x7f800000u;
            dst[c] = nan ? (uint16_t)((u >> 16) | 0x40u) : (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
        }
    }
}

/* C = alpha op(A) op(B) + beta C with bf16 inputs; 0 on success. */
static int matmul_bf16(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                       int ldb, float beta, float *C, int ldc) {
    const int ar = ta == 'N' ? M : K, ac = ta == 'N' ? K : M, br = tb == 'N' ? K : N, bc = tb == 'N' ? N : K;
    uint16_t *a = grow(&g_abuf, &g_acap, (size_t)ar * ac), *b = grow(&g_bbuf, &g_bcap, (size_t)br * bc);
    if (!a || !b) return -1;
    to_bf16(A, ar, ac, lda, a);
    to_bf16(B, br, bc, ldb, b);
    /* logical A [M, K], B [K, N], C [M, N]; a transposed operand is the dense copy read by strides */
    dnnl_dims_t da = {M, K}, db = {K, N}, dc = {M, N};
    dnnl_dims_t sa = {ta == 'N' ? K : 1, ta == 'N' ? 1 : M}, sb = {tb == 'N' ? N : 1, tb == 'N' ? 1 : K},
                sc = {ldc, 1};
    dnnl_memory_desc_t ma, mb, mc;
    dnnl_matmul_desc_t md;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t p = NULL;
    dnnl_memory_t xa = NULL, xb = NULL, xc = NULL;
    int rc = -1;
    if (dnnl_memory_desc_init_by_strides(&ma, 2, da, dnnl_bf16, sa) || dnnl_memory_desc_init_by_strides(&mb, 2, db, dnnl_bf16, sb) ||
        dnnl_memory_desc_init_by_strides(&mc, 2, dc, dnnl_f32, sc) || dnnl_matmul_desc_init(&md, &ma, &mb, NULL, &mc) ||
        dnnl_primitive_attr_create(&attr))
        goto out;
    if (alpha != 1.0f && dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha)) goto out;
    if (beta != 0.0f) {
        if (dnnl_post_ops_create(&po) || dnnl_post_ops_append_sum(po, beta) || dnnl_primitive_attr_set_post_ops(attr, po))
            goto out;
    }
    if (dnnl_primitive_desc_create(&pd, &md, attr, g_engine, NULL) || dnnl_primitive_create(&p, pd) ||
        dnnl_memory_create(&xa, &ma, g_engine, a) || dnnl_memory_create(&xb, &mb, g_engine, b) ||
        dnnl_memory_create(&xc, &mc, g_engine, C))
        goto out;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, xa}, {DNNL_ARG_WEIGHTS, xb}, {DNNL_ARG_DST, xc}};
    if (dnnl_primitive_execute(p, g_stream, 3, args) || dnnl_stream_wait(g_stream)) goto out;
    rc = 0;
out:
    if (xa) dnnl_memory_destroy(xa);
    if (xb) dnnl_memory_destroy(xb);
    if (xc) dnnl_memory_destroy(xc);
    if (p) dnnl_primitive_destroy(p);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return rc;
}

void eng_gemm_onednn_bf16(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                          int ldb, float beta, float *C, int ldc) {
    const int big = (int64_t)M * N * K >= BF16_MIN_MACS;
    if (big && omp_get_level() == 0 && ready() &&
        !matmul_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
        return;
    /* small, inside the attention loop, or oneDNN refused: float32 */
    dnnl_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char *eng_gemm_onednn_bf16_info(void) {
    static char buf[160];
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, sizeof buf, "dnnl_matmul bf16 x bf16 -> f32 for products of >= 2^24 multiply-adds, dnnl_sgemm below; "
             "oneDNN %d.%d.%d", v->major, v->minor, v->patch);
    return buf;
}
#endif
