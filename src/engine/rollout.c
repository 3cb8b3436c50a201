/* Attention rollout (Abnar & Zuidema 2020) of one sequence of the last forward, from the
 * attention probabilities the engine keeps with limits.attentions (docs/spec.md "Attention
 * rollout").
 *
 * Per layer l with Hl present heads, gates g_j and probabilities P_j [T, T] (rows sum to 1):
 *   M_l = (1/Hl) sum_j g_j P_j                      the gated head mean (masked heads count as 0)
 *   Â_l = rownormalise(0.5 M_l + 0.5 I)             the residual as an identity half
 *   v   = e_row,  v <- v Â_l  for l = L-1 .. 0       dst = row `row` of Â_{L-1} ... Â_0
 * Â_l is never built: with s_i = 0.5 sum_k M_l[i,k] + 0.5 (row i's sum) and w_i = v_i / s_i,
 *   (v Â_l)_k = 0.5 w_k + (0.5/Hl) sum_j g_j sum_i w_i P_j[i,k],
 * a weighted sum of P's rows: T*T multiply-adds per head, the cost of reading P once. */
#include <string.h>

#include "engine_internal.h"

/* s_i for every query row i of layer l: r [T] <- 0.5 + (0.5/Hl) sum_j g_j sum_k P_j[i,k].
 * The sums are taken, not assumed 1: a softmax row's float sum is 1 only to rounding, and the
 * authors renormalise what they have. */
static void row_sums(const bt_engine *e, int l, const float *p, int T, float *r) {
    const int Hl = e->cfg.layer_heads[l];
    const size_t TT = (size_t)T * T;
    for (int i = 0; i < T; i++) {
        float m = 0.0f;
        for (int j = 0; j < Hl; j++) {
            const float *row = p + j * TT + (size_t)i * T;
            float s = 0.0f;
#pragma omp simd reduction(+ : s)
            for (int k = 0; k < T; k++) s += row[k];
            m += e->gate[l][j] * s;
        }
        r[i] = 0.5f + 0.5f * m / (float)Hl;
    }
}

/* v [T] <- v Â_l, through w [T] (scratch). Hand-written axpys rather than eng_gemm: a [1, T] x
 * [T, T] product is too small to gain from a GEMM, and the result should not depend on the GEMM
 * backend (onednn-bf16 would round P to 8 bits of mantissa). */
static void rollout_layer(const bt_engine *e, int l, const float *p, int T, float *v, float *w) {
    const int Hl = e->cfg.layer_heads[l];
    const size_t TT = (size_t)T * T;
    row_sums(e, l, p, T, w);
    for (int i = 0; i < T; i++) w[i] = v[i] / w[i];
    /* v <- 0.5 w: the identity half, then the heads' half added row by row */
#pragma omp simd
    for (int k = 0; k < T; k++) v[k] = 0.5f * w[k];
    for (int j = 0; j < Hl; j++) {
        const float c = 0.5f * e->gate[l][j] / (float)Hl;
        for (int i = 0; i < T; i++) {
            const float a = c * w[i];
            const float *row = p + j * TT + (size_t)i * T;
            if (a == 0.0f) continue; /* a masked head, or a row v does not reach (causal models) */
#pragma omp simd
            for (int k = 0; k < T; k++) v[k] += a * row[k];
        }
    }
}

int bt_engine_rollout(const bt_engine *e, int b, int row, float *dst, bt_error *err) {
    const bt_config *c = &e->cfg;
    if (!e->lim.attentions || !e->roll)
        return bt_error_set(err, BT_EINPUT, "attention rollout: engine created without attention buffers");
    if (e->have_forward != 1 || e->first_layer != 0)
        return bt_error_set(err, BT_EINPUT, "attention rollout needs a full forward (from layer 0) of the batch");
    if (b < 0 || b >= e->B) return bt_error_set(err, BT_EINPUT, "attention rollout: no sequence %d", b);
    const int T = e->len[b];
    if (row < 0 || row >= T)
        return bt_error_set(err, BT_EINPUT, "attention rollout: row %d outside 0..%d of sequence %d", row, T - 1, b);
    memset(dst, 0, (size_t)T * sizeof(float));
    dst[row] = 1.0f;
    for (int l = c->n_layers - 1; l >= 0; l--) {
        /* a layer without heads (all pruned) is the identity: only its residual remains */
        if (c->layer_heads[l] == 0) continue;
        const float *p = e->act[l].p + (size_t)c->layer_heads[l] * e->sq[b]; /* [Hl, T, T] */
        rollout_layer(e, l, p, T, dst, e->roll);
    }
    return BT_OK;
}
