#include <string.h>

#include "bertology/sweep.h"

int bt_sweep_keep_logits(void *ctx, const bt_sweep_batch *b, bt_error *err) {
    bt_sweep_logits *s = ctx;
    const size_t C = (size_t)s->n_classes;
    for (int k = 0; k < b->n && b->logits; k++)
        memcpy(s->logits + (size_t)b->examples[k] * C, b->logits + (size_t)k * C, sizeof(float) * C);
    return s->next ? s->next(s->next_ctx, b, err) : BT_OK;
}
