#include "bertology/attribution.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"

/* The copies of an example run together up to this many tokens, in copy order: all m of a
 * sentence (20 x 66 tokens for SST-2), but a long example's m copies would need the engine's
 * activations for m * T tokens at once (20 x 512: about 12 GB for bert-base with backward). */
#define COPY_TOKENS 2048

static int chunk_of(int m, int max_len) {
    const int c = COPY_TOKENS / (max_len > 0 ? max_len : 1);
    return c < 1 ? 1 : c > m ? m : c;
}

bt_engine_limits bt_attr_limits(bt_engine_limits lim, int m) {
    const int chunk = chunk_of(m, lim.max_len);
    const long copies = (long)chunk * lim.max_len;
    if (copies > lim.max_tokens) lim.max_tokens = (int)copies;
    if (chunk > lim.max_seqs) lim.max_seqs = chunk;
    lim.backward = lim.hidden = lim.attention_grad = 1;
    return lim;
}

void bt_attr_free(bt_attr *a) {
    free(a->hidden), free(a->x), free(a->ids), free(a->types), free(a->lens), free(a->labels);
    free(a->targets), free(a->alpha), free(a->g), free(a->gsum), free(a->a);
    memset(a, 0, sizeof *a);
}

int bt_attr_alloc(bt_attr *a, const bt_config *cfg, const bt_engine_limits *lim, int m, bt_error *err) {
    memset(a, 0, sizeof *a);
    a->L = cfg->n_layers, a->H = cfg->n_heads, a->D = cfg->d_model, a->m = m, a->max_len = lim->max_len;
    a->chunk = chunk_of(m, lim->max_len);
    const size_t N = (size_t)lim->max_tokens, mt = (size_t)m * lim->max_len, D = (size_t)a->D,
                 HTT = (size_t)a->H * lim->max_len * lim->max_len;
    if ((a->hidden = bt_malloc((size_t)a->L * N * D, sizeof(float), "the attribution's cached hidden states", err)) &&
        (a->x = bt_malloc((size_t)a->chunk * lim->max_len * D, sizeof(float), "the attribution's copies", err)) &&
        (a->ids = bt_malloc(mt, sizeof(int), "the attribution's copies", err)) &&
        (a->types = bt_malloc(mt, sizeof(int), "the attribution's copies", err)) &&
        (a->lens = bt_malloc((size_t)m, sizeof(int), "the attribution's copies", err)) &&
        (a->labels = bt_malloc((size_t)m, sizeof(int), "the attribution's copies", err)) &&
        (a->targets = bt_malloc((size_t)m, sizeof(float), "the attribution's copies", err)) &&
        (a->alpha = bt_malloc((size_t)m, sizeof(float), "the attribution's copies", err)) &&
        (a->g = bt_malloc(HTT, sizeof(float), "an attribution map", err)) &&
        (a->gsum = bt_malloc(HTT, sizeof(float), "an attribution map", err)) &&
        (a->a = bt_malloc(HTT, sizeof(float), "an attribution map", err)))
        return BT_OK;
    bt_attr_free(a);
    return BT_EINTERNAL;
}

/* The m copies of example k (rows off.. of the batch) as one batch, copy c at alpha = (c+1)/m. */
static bt_batch copies_of(bt_attr *a, const bt_batch *batch, int k, int off, int target) {
    const int m = a->m, T = batch->lens[k];
    for (int c = 0; c < m; c++) {
        memcpy(a->ids + (size_t)c * T, batch->ids + off, sizeof(int) * T);
        if (batch->types) memcpy(a->types + (size_t)c * T, batch->types + off, sizeof(int) * T);
        a->lens[c] = T;
        a->labels[c] = target;
        a->targets[c] = batch->targets ? batch->targets[k] : 0.0f;
        a->alpha[c] = (float)(c + 1) / (float)m;
    }
    return (bt_batch){.n_seqs = m, .lens = a->lens, .ids = a->ids, .types = batch->types ? a->types : NULL,
                      .labels = batch->labels || !batch->targets ? a->labels : NULL,
                      .targets = batch->targets ? a->targets : NULL};
}

/* Layer l of example k: the copies from the cached input (chunk by chunk, in copy order), their
 * gradients summed, times A. */
static int attribute_layer(bt_attr *a, bt_engine *e, const bt_batch *copies, const float *gates, int l,
                           const float *x_l, int T, double *score, float *map, bt_error *err) {
    const int m = a->m, H = a->H, D = a->D;
    const size_t TT = (size_t)T * T, n = (size_t)H * TT;
    const int first = a->from_embeddings ? 0 : l;
    int rc = BT_OK;
    for (int c0 = 0; c0 < m && !rc; c0 += a->chunk) {
        const int nc = m - c0 < a->chunk ? m - c0 : a->chunk;
        const bt_batch part = {.n_seqs = nc, .lens = copies->lens + c0, .ids = copies->ids + (size_t)c0 * T,
                               .types = copies->types ? copies->types + (size_t)c0 * T : NULL,
                               .labels = copies->labels ? copies->labels + c0 : NULL,
                               .targets = copies->targets ? copies->targets + c0 : NULL};
        /* the engine only reads x_in: the first chunk's input serves the later, smaller ones */
        for (int c = 0; first > 0 && c0 == 0 && c < nc; c++) memcpy(a->x + (size_t)c * T * D, x_l, sizeof(float) * (size_t)T * D);
        rc = bt_engine_forward_scaled(e, &part, gates, 0, first, first > 0 ? a->x : NULL, l, a->alpha + c0, err);
        if (!rc) rc = bt_engine_backward_attention(e, l, BT_SEED_TARGET, err);
        /* the last copy runs at alpha = 1: its probabilities are A */
        if (!rc && c0 + nc == m) rc = bt_engine_copy_attention(e, nc - 1, l, a->a, err);
        for (int c = 0; !rc && c < nc; c++) {
            rc = bt_engine_copy_attention_grad(e, c, c0 + c == 0 ? a->gsum : a->g, err);
            if (rc || c0 + c == 0) continue;
            float *gs = a->gsum;
            const float *g = a->g;
#pragma omp simd
            for (size_t i = 0; i < n; i++) gs[i] += g[i];
        }
    }
    if (rc) return rc;
    const float inv_m = 1.0f / (float)m;
    for (int h = 0; h < H; h++) {
        float *at = a->gsum + (size_t)h * TT;
        const float *p = a->a + (size_t)h * TT;
        float best = -INFINITY;
#pragma omp simd reduction(max : best)
        for (size_t i = 0; i < TT; i++) {
            at[i] = p[i] * (at[i] * inv_m);
            best = at[i] > best ? at[i] : best;
        }
        score[(size_t)l * H + h] = best;
    }
    if (map) memcpy(map, a->gsum, sizeof(float) * n);
    return BT_OK;
}

int bt_attr_batch(bt_attr *a, bt_engine *e, const bt_batch *batch, const float *gates, const int *target,
                     double *score, float *maps, bt_error *err) {
    const int L = a->L, H = a->H, D = a->D;
    int N = 0;
    for (int k = 0; k < batch->n_seqs; k++) N += batch->lens[k];
    /* every copies' forward overwrites the engine's hidden states: keep the batch's */
    for (int l = 1; l < L; l++) {
        const float *h = bt_engine_hidden(e, l);
        if (!h) return bt_error_set(err, BT_EINTERNAL, "attribution: the engine keeps no hidden state %d", l);
        memcpy(a->hidden + (size_t)l * N * D, h, sizeof(float) * (size_t)N * D);
    }
    size_t map_off = 0;
    for (int k = 0, off = 0; k < batch->n_seqs; off += batch->lens[k], k++) {
        const int T = batch->lens[k];
        const bt_batch copies = copies_of(a, batch, k, off, target ? target[k] : 0);
        for (int l = 0; l < L; l++) {
            float *map = maps ? maps + map_off + (size_t)l * H * T * T : NULL;
            const int rc = attribute_layer(a, e, &copies, gates, l, a->hidden + ((size_t)l * N + off) * D, T,
                                           score + (size_t)k * L * H, map, err);
            if (rc) return rc;
        }
        map_off += (size_t)L * H * T * T;
    }
    return BT_OK;
}
