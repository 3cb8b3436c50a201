/* attribution: self-attention attribution (Hao et al. 2021; docs/attribution.md) of one batch's
 * examples, on top of the engine (compute only, like it):
 *
 *   Attr_l = A_l (.) (1/m) sum_{k=1..m} dF/dX at X = (k/m) A_l,   score[l,h] = max_ij Attr_l[h]
 *
 * with A_l layer l's (gated) probabilities and F the target's probability (a classifier) or the
 * output (a regressor). Per example and layer, the m scaled copies of the example run as one
 * batch of the engine (bt_engine_forward_scaled, copy k at alpha = k/m; a long example's in
 * chunks of at most 2048 tokens, so that memory does not grow with m) from the example's input
 * of layer l, which a forward of the whole batch cached: the layers below l run once per example,
 * not m times. Cost: m * sum_l (L - l) layer passes forward and as many backward per example.
 * The buffers are allocated once (bt_attr_alloc); a batch allocates nothing. */
#ifndef BERTOLOGY_ATTRIBUTION_H
#define BERTOLOGY_ATTRIBUTION_H

#include "bertology/engine.h"

typedef struct {
    int L, H, D, m, max_len;
    int chunk;     /* copies per engine batch: all m, unless m * max_len exceeds 2048 tokens */
    float *hidden; /* [L, N, D] the batch's input of every layer, from its plain forward */
    float *x;      /* [chunk * max_len, D] the copies' input of the layer attributed */
    int *ids, *types, *lens, *labels; /* the copies' batch: [m * max_len], [m * max_len], [m], [m] */
    float *targets, *alpha;           /* [m], [m] */
    float *g, *gsum, *a;              /* [H, T, T]: one copy's gradient, their sum, the probabilities */
    int from_embeddings; /* run every copy from the embeddings, the layers below l included: only
                            for bench, which measures what sharing them saves (same numbers) */
} bt_attr;

/* Engine limits that also hold the m copies of the longest example (and the attribution's
 * buffers), from those of the batches to attribute. */
bt_engine_limits bt_attr_limits(bt_engine_limits lim, int m);
/* Buffers for batches within lim (the batches' own limits, not bt_attr_limits'), m steps. */
int bt_attr_alloc(bt_attr *a, const bt_config *cfg, const bt_engine_limits *lim, int m, bt_error *err);
void bt_attr_free(bt_attr *a);

/* Attributes every example of batch (the engine must hold the batch's full forward with hidden
 * states, from bt_engine_forward) to its target class target[k] (ignored for a regressor):
 * score [B, L, H] gets max_ij of each head's map, and maps (nullable) every example's maps
 * [L, H, T_k, T_k] concatenated in batch order. Leaves the engine holding the last copies'
 * batch: the caller runs the batch's forward again before reading the engine. */
int bt_attr_batch(bt_attr *a, bt_engine *e, const bt_batch *batch, const float *gates, const int *target,
                     double *score, float *maps, bt_error *err);

#endif
