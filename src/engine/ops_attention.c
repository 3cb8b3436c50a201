/* Scaled dot-product attention with head gates, per packed sequence and head.
 *
 * Each (sequence b, present head j) pair is an independent unit of three small products, run in
 * parallel over units, each product on its thread alone whatever the thread count (threads.c:
 * a small product split among threads has other bits, docs/engine.md). Within a unit:
 *   S = Q K^T / sqrt(dh)         [T, T]
 *   P = softmax(S) row-wise      (causal: keys k > t excluded)
 *   ctx = P V                    [T, dh], pre-gate, kept for the gate gradient
 *   ctxg = gate * ctx            what the output projection sees (HF: probs * head_mask)
 */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "gemm.h"
#include "ops.h"
#include "vmath.h"
#include "threads.h"

typedef struct {
    int T;           /* sequence length */
    const float *q;  /* row stride ld_qkv */
    const float *k;
    const float *v;
    float *p;        /* [T, T] */
    int row;         /* first packed row of the sequence */
} unit_view;

static unit_view view_of(const float *qkv, float *p, const op_seqs *s, int Hl, int dh, int b, int j) {
    const int Dl = Hl * dh;
    unit_view u;
    u.T = s->len[b];
    u.row = s->off[b];
    u.q = qkv + (size_t)u.row * 3 * Dl + (size_t)j * dh;
    u.k = u.q + Dl;
    u.v = u.q + 2 * Dl;
    u.p = p + (size_t)Hl * s->sq[b] + (size_t)j * u.T * u.T;
    return u;
}

/* Row-wise softmax of P[T,T] in place (causal: entries k > t become 0). Returns the sum over
 * rows of the row entropy when want_entropy. With x_k = s_k - max and Z = sum_k e^{x_k}:
 *   H = -sum_k p_k log p_k = log Z - (sum_k e^{x_k} x_k) / Z,
 * one log per row instead of one per entry, and underflowed entries (p = 0) add exactly 0. */
static double softmax_rows(float *P, int T, int causal, int want_entropy) {
    double ent = 0.0;
    for (int t = 0; t < T; t++) {
        float *r = P + (size_t)t * T;
        const int n = causal ? t + 1 : T;
        float m = r[0];
#pragma omp simd reduction(max : m)
        for (int k = 1; k < n; k++) m = r[k] > m ? r[k] : m;
        float sum = 0.0f, wsum = 0.0f;
#pragma omp simd reduction(+ : sum, wsum)
        for (int k = 0; k < n; k++) {
            const float x = r[k] - m, ex = expf(x);
            r[k] = ex;
            sum += ex;
            wsum += ex * x;
        }
        const float inv = 1.0f / sum;
#pragma omp simd
        for (int k = 0; k < n; k++) r[k] *= inv;
        if (n < T) memset(r + n, 0, (size_t)(T - n) * sizeof(float));
        if (want_entropy) ent += log((double)sum) - (double)wsum / sum;
    }
    return ent;
}

void op_attention_forward(float *p, float *ctx, float *ctxg, double *ent, const float *qkv,
                          const float *gate, const float *seq_scale, const op_seqs *s, int Hl, int dh,
                          int causal) {
    const int Dl = Hl * dh, ld = 3 * Dl, units = s->B * Hl;
    const float scale = 1.0f / sqrtf((float)dh);
    eng_blas_serial_begin();
#pragma omp parallel
    {
        eng_products_on_this_thread();
#pragma omp for schedule(dynamic, 1)
        for (int u = 0; u < units; u++) {
            const int b = u / Hl, j = u % Hl;
            const unit_view w = view_of(qkv, p, s, Hl, dh, b, j);
            const int T = w.T;
            eng_gemm('N', 'T', T, T, dh, scale, w.q, ld, w.k, ld, 0.0f, w.p, T);
            const double h = softmax_rows(w.p, T, causal, ent != NULL);
            float *c = ctx + (size_t)w.row * Dl + (size_t)j * dh;
            eng_gemm('N', 'N', T, dh, T, 1.0f, w.p, T, w.v, ld, 0.0f, c, Dl);
            const float g = gate[j] * (seq_scale ? seq_scale[b] : 1.0f);
            float *cg = ctxg + (size_t)w.row * Dl + (size_t)j * dh;
            for (int t = 0; t < T; t++) {
#pragma omp simd
                for (int i = 0; i < dh; i++) cg[(size_t)t * Dl + i] = g * c[(size_t)t * Dl + i];
            }
            if (ent) {
                /* Entropy of the gated row g*p: -sum g p log(g p) = g H(p) - g log g (rows sum to 1). */
                const double gd = g;
                ent[(size_t)b * Hl + j] = gd > 0.0 ? gd * h - T * gd * log(gd) : 0.0;
            }
        }
    }
    eng_blas_serial_end();
}

void op_attention_backward(float *dqkv, float *dprobs, double *ggrad, double *gtok, const float *dctxg,
                           const float *p, const float *ctx, const float *qkv, const float *gate,
                           const float *seq_scale, const op_seqs *s, int Hl, int dh, float *scratch,
                           int max_len) {
    const int Dl = Hl * dh, ld = 3 * Dl, units = s->B * Hl;
    const float scale = 1.0f / sqrtf((float)dh);
    eng_blas_serial_begin();
#pragma omp parallel
    {
        eng_products_on_this_thread();
#pragma omp for schedule(dynamic, 1)
        for (int u = 0; u < units; u++) {
            const int b = u / Hl, j = u % Hl;
            const unit_view w = view_of(qkv, (float *)p, s, Hl, dh, b, j);
            const int T = w.T;
            const float *dcg = dctxg + (size_t)w.row * Dl + (size_t)j * dh;
            const float *c = ctx + (size_t)w.row * Dl + (size_t)j * dh;

            /* dL/dgate = a sum_t <dL/d(gate a ctx)_t, ctx_t> (a: the sequence's scale); the
             * per-token terms feed `token` granularity. */
            const double a = seq_scale ? seq_scale[b] : 1.0;
            double gsum = 0.0, gabs = 0.0;
            for (int t = 0; t < T; t++) {
                double dot = 0.0;
#pragma omp simd reduction(+ : dot)
                for (int i = 0; i < dh; i++) dot += (double)dcg[(size_t)t * Dl + i] * c[(size_t)t * Dl + i];
                gsum += dot;
                gabs += fabs(dot);
            }
            ggrad[(size_t)b * Hl + j] = a * gsum;
            gtok[(size_t)b * Hl + j] = fabs(a) * gabs;
            if (dprobs) {
                /* The layer computes ctxg = X V with X = g a P the probabilities it uses, so
                 * dL/dX = dctxg V^T: the attribution's gradient, without the factor g a. */
                float *dx = dprobs + (size_t)Hl * s->sq[b] + (size_t)j * T * T;
                eng_gemm('N', 'T', T, T, dh, 1.0f, dcg, Dl, w.v, ld, 0.0f, dx, T);
            }
            if (!dqkv) continue;

            float *dq = dqkv + (size_t)w.row * ld + (size_t)j * dh, *dk = dq + Dl, *dv = dq + 2 * Dl;
            const float g = gate[j] * (float)a;
            if (g == 0.0f) {
                /* A closed gate blocks every path below it. */
                for (int t = 0; t < T; t++) {
                    memset(dq + (size_t)t * ld, 0, (size_t)dh * sizeof(float));
                    memset(dk + (size_t)t * ld, 0, (size_t)dh * sizeof(float));
                    memset(dv + (size_t)t * ld, 0, (size_t)dh * sizeof(float));
                }
                continue;
            }
            float *dP = scratch + (size_t)omp_get_thread_num() * max_len * max_len;
            /* dctx = g dcg; dP = dctx V^T; dV = P^T dctx */
            eng_gemm('N', 'T', T, T, dh, g, dcg, Dl, w.v, ld, 0.0f, dP, T);
            eng_gemm('T', 'N', T, dh, T, g, w.p, T, dcg, Dl, 0.0f, dv, ld);
            /* softmax backward: dS = P * (dP - rowsum(dP * P)); causal zeros stay zero since P = 0 */
            for (int t = 0; t < T; t++) {
                float *dr = dP + (size_t)t * T;
                const float *pr = w.p + (size_t)t * T;
                float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                for (int k = 0; k < T; k++) sum += dr[k] * pr[k];
#pragma omp simd
                for (int k = 0; k < T; k++) dr[k] = pr[k] * (dr[k] - sum);
            }
            /* S = scale Q K^T: dQ = scale dS K, dK = scale dS^T Q */
            eng_gemm('N', 'N', T, dh, T, scale, dP, T, w.k, ld, 0.0f, dq, ld);
            eng_gemm('T', 'N', T, dh, T, scale, dP, T, w.q, ld, 0.0f, dk, ld);
        }
    }
    eng_blas_serial_end();
}
