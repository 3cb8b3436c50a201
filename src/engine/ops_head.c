/* Embeddings in, sequence-level heads out: gather of the first token, pooler tanh, losses. */
#include <math.h>
#include <string.h>

#include "gemm.h"
#include "ops.h"
#include "vmath.h"

void op_embed_forward(float *x, const int *ids, const int *types, const float *wte,
                      const float *wpe, const float *wtt, const op_seqs *s, int pos_offset, int D) {
#pragma omp parallel for schedule(static)
    for (int b = 0; b < s->B; b++) {
        for (int t = 0; t < s->len[b]; t++) {
            const size_t n = (size_t)s->off[b] + t;
            const float *we = wte + (size_t)ids[n] * D;
            const float *pe = wpe + (size_t)(pos_offset + t) * D;
            float *o = x + n * D;
            if (wtt) {
                const float *te = wtt + (size_t)(types ? types[n] : 0) * D;
#pragma omp simd
                for (int i = 0; i < D; i++) o[i] = we[i] + pe[i] + te[i];
            } else {
#pragma omp simd
                for (int i = 0; i < D; i++) o[i] = we[i] + pe[i];
            }
        }
    }
}

static size_t token_row(const op_seqs *s, int b, int last) {
    return (size_t)s->off[b] + (last ? (size_t)s->len[b] - 1 : 0);
}

void op_gather_token(float *rows, const float *x, const op_seqs *s, int D, int last) {
    for (int b = 0; b < s->B; b++)
        memcpy(rows + (size_t)b * D, x + token_row(s, b, last) * D, (size_t)D * sizeof(float));
}

void op_scatter_token(float *dx, const float *drows, const op_seqs *s, int N, int D, int last) {
    memset(dx, 0, (size_t)N * D * sizeof(float));
    for (int b = 0; b < s->B; b++)
        memcpy(dx + token_row(s, b, last) * D, drows + (size_t)b * D, (size_t)D * sizeof(float));
}

void op_tanh_forward(float *out, const float *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = tanhf(in[i]);
}

void op_tanh_backward(float *d, const float *out, size_t n) {
    for (size_t i = 0; i < n; i++) d[i] *= 1.0f - out[i] * out[i];
}

void op_loss_forward_backward(double *loss, float *dlogits, const float *logits, const int *labels,
                              const float *targets, int B, int C) {
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * C;
        float *dz = dlogits ? dlogits + (size_t)b * C : NULL;
        if (C == 1) {
            const double e = (double)z[0] - (double)targets[b];
            loss[b] = e * e;
            if (dz) dz[0] = (float)(2.0 * e);
            continue;
        }
        double m = z[0];
        for (int c = 1; c < C; c++) m = z[c] > m ? z[c] : m;
        double sum = 0.0;
        for (int c = 0; c < C; c++) sum += exp(z[c] - m);
        const double lse = m + log(sum);
        loss[b] = lse - z[labels[b]];
        if (dz)
            for (int c = 0; c < C; c++) dz[c] = (float)(exp(z[c] - lse) - (c == labels[b] ? 1.0 : 0.0));
    }
}

void op_target_grad(float *dseed, const float *logits, const int *labels, int B, int C) {
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * C;
        float *d = dseed + (size_t)b * C;
        if (C == 1) {
            d[0] = 1.0f;
            continue;
        }
        double m = z[0];
        for (int c = 1; c < C; c++) m = z[c] > m ? z[c] : m;
        double sum = 0.0;
        for (int c = 0; c < C; c++) sum += exp(z[c] - m);
        const double py = exp(z[labels[b]] - m) / sum;
        for (int c = 0; c < C; c++) d[c] = (float)(py * ((c == labels[b] ? 1.0 : 0.0) - exp(z[c] - m) / sum));
    }
}

void op_lm_head_forward_backward(double *loss, float *dh, const float *h, const int *ids,
                                 const float *wte, const op_seqs *s, int V, int D, float *scratch,
                                 int chunk) {
    for (int b = 0; b < s->B; b++) {
        const int T = s->len[b], n_pred = T - 1;
        const size_t row0 = (size_t)s->off[b];
        double total = 0.0;
        if (dh) memset(dh + row0 * D, 0, (size_t)T * D * sizeof(float));
        for (int t0 = 0; t0 < n_pred; t0 += chunk) {
            const int nc = n_pred - t0 < chunk ? n_pred - t0 : chunk;
            const float *hc = h + (row0 + t0) * D;
            eng_gemm('N', 'T', nc, V, D, 1.0f, hc, D, wte, D, 0.0f, scratch, V);
            double part = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : part)
            for (int r = 0; r < nc; r++) {
                float *z = scratch + (size_t)r * V;
                const int target = ids[row0 + t0 + r + 1];
                const float zt = z[target];
                float m = z[0];
#pragma omp simd reduction(max : m)
                for (int v = 1; v < V; v++) m = z[v] > m ? z[v] : m;
                /* one exponential per logit: kept in place for the gradient */
                float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                for (int v = 0; v < V; v++) {
                    z[v] = expf(z[v] - m);
                    sum += z[v];
                }
                part += m + log((double)sum) - zt;
                if (dh) { /* d loss_b / d z = (softmax - onehot) / n_pred */
                    const float inv = 1.0f / (float)n_pred, scale = inv / sum;
#pragma omp simd
                    for (int v = 0; v < V; v++) z[v] *= scale;
                    z[target] -= inv;
                }
            }
            total += part;
            if (dh)
                eng_gemm('N', 'N', nc, D, V, 1.0f, scratch, V, wte, D, 0.0f, dh + (row0 + t0) * D, D);
        }
        loss[b] = n_pred > 0 ? total / n_pred : 0.0;
    }
}
