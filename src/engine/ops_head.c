/* Embeddings in, sequence-level heads out: gather of the first token, pooler tanh, losses. */
#include <math.h>
#include <string.h>

#include "ops.h"

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

void op_gather_first(float *rows, const float *x, const op_seqs *s, int D) {
    for (int b = 0; b < s->B; b++)
        memcpy(rows + (size_t)b * D, x + (size_t)s->off[b] * D, (size_t)D * sizeof(float));
}

void op_scatter_first(float *dx, const float *drows, const op_seqs *s, int N, int D) {
    memset(dx, 0, (size_t)N * D * sizeof(float));
    for (int b = 0; b < s->B; b++)
        memcpy(dx + (size_t)s->off[b] * D, drows + (size_t)b * D, (size_t)D * sizeof(float));
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
