/* docs/spec.md "Importance": normalisation and ranks, on at most BT_MAX_LAYERS x BT_MAX_HEADS
 * values (kept on the stack: nothing here can fail). */
#include <math.h>
#include <stdlib.h>

#include "bertology/sweep.h"

enum { MAX_LH = BT_MAX_LAYERS * BT_MAX_HEADS };

void bt_sweep_normalize(const double *raw, int L, int H, int64_t n_tokens, int token_norm, int layer_norm,
                        int global_norm, float *out) {
    double v[MAX_LH];
    for (int i = 0; i < L * H; i++) v[i] = token_norm && n_tokens > 0 ? raw[i] / (double)n_tokens : raw[i];
    if (layer_norm)
        for (int l = 0; l < L; l++) {
            double s = 0;
            for (int h = 0; h < H; h++) s += v[l * H + h] * v[l * H + h];
            const double norm = sqrt(s) + 1e-20;
            for (int h = 0; h < H; h++) v[l * H + h] /= norm;
        }
    if (global_norm) {
        double lo = v[0], hi = v[0];
        for (int i = 1; i < L * H; i++) lo = v[i] < lo ? v[i] : lo, hi = v[i] > hi ? v[i] : hi;
        /* all equal: HF divides 0 by 0 and prints NaN; every head is as important as the rest */
        for (int i = 0; i < L * H; i++) v[i] = hi > lo ? (v[i] - lo) / (hi - lo) : 0.0;
    }
    for (int i = 0; i < L * H; i++) out[i] = (float)v[i];
}

typedef struct {
    float importance;
    int head;
} ranked;

static int by_importance(const void *pa, const void *pb) {
    const ranked *a = pa, *b = pb;
    if (a->importance != b->importance) return a->importance > b->importance ? -1 : 1;
    return a->head - b->head; /* ties keep (layer, head) order */
}

void bt_sweep_rank(const float *importance, int n, int *ranks) {
    ranked order[MAX_LH];
    for (int i = 0; i < n; i++) order[i] = (ranked){importance[i], i};
    qsort(order, (size_t)n, sizeof *order, by_importance);
    for (int r = 0; r < n; r++) ranks[order[r].head] = r;
}
