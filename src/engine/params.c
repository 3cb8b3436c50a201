/* The parameter block: one allocation, every tensor a view into it at a 64-byte boundary. */
#include <stdio.h>
#include <string.h>

#include "bertology/engine.h"

#define ALIGN_FLOATS 16

static size_t round_up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

/* Walks the layout once; with block == NULL it only counts. */
static size_t layout(const bt_config *c, float *block, bt_params *p) {
    size_t off = 0;
    bt_params dummy;
    if (!p) p = &dummy;
    memset(p, 0, sizeof *p);
#define TAKE(ptr, n)                              \
    do {                                          \
        (ptr) = block ? block + off : NULL;       \
        off += round_up((size_t)(n));             \
    } while (0)
    const size_t D = (size_t)c->d_model, F = (size_t)c->d_ff;
    TAKE(p->wte, (size_t)c->vocab_size * D);
    TAKE(p->wpe, (size_t)c->max_pos * D);
    if (c->type_vocab > 0) TAKE(p->wtt, (size_t)c->type_vocab * D);
    if (c->arch == BT_ARCH_BERT) {
        TAKE(p->emb_ln_g, D);
        TAKE(p->emb_ln_b, D);
    }
    for (int l = 0; l < c->n_layers; l++) {
        bt_layer_params *lp = &p->layer[l];
        const size_t Dl = (size_t)c->layer_heads[l] * (size_t)c->d_head;
        TAKE(lp->wqkv, 3 * Dl * D);
        TAKE(lp->bqkv, 3 * Dl);
        TAKE(lp->wo, D * Dl);
        TAKE(lp->bo, D);
        TAKE(lp->ln1_g, D);
        TAKE(lp->ln1_b, D);
        TAKE(lp->w1, F * D);
        TAKE(lp->b1, F);
        TAKE(lp->w2, D * F);
        TAKE(lp->b2, D);
        TAKE(lp->ln2_g, D);
        TAKE(lp->ln2_b, D);
    }
    if (c->arch == BT_ARCH_GPT2) {
        TAKE(p->lnf_g, D);
        TAKE(p->lnf_b, D);
    }
    if (c->has_pooler) {
        TAKE(p->pool_w, D * D);
        TAKE(p->pool_b, D);
    }
    if (c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS) {
        TAKE(p->cls_w, (size_t)c->n_labels * D);
        TAKE(p->cls_b, (size_t)c->n_labels);
    }
#undef TAKE
    return off;
}

size_t bt_params_count(const bt_config *cfg) { return layout(cfg, NULL, NULL); }

void bt_params_map(const bt_config *cfg, float *block, bt_params *p) { layout(cfg, block, p); }

void bt_config_unpruned(bt_config *cfg) {
    for (int l = 0; l < BT_MAX_LAYERS; l++) {
        cfg->layer_heads[l] = cfg->n_heads;
        for (int h = 0; h < BT_MAX_HEADS; h++) cfg->head_id[l][h] = (signed char)(h < cfg->n_heads ? h : -1);
    }
}

int bt_config_check(const bt_config *c, bt_error *err) {
    if (c->arch < BT_ARCH_BERT || c->arch > BT_ARCH_GPT)
        return bt_error_set(err, BT_EINPUT, "unknown architecture %d", c->arch);
    if (c->n_layers < 1 || c->n_layers > BT_MAX_LAYERS)
        return bt_error_set(err, BT_EINPUT, "num_hidden_layers = %d: must be 1..%d", c->n_layers, BT_MAX_LAYERS);
    if (c->n_heads < 1 || c->n_heads > BT_MAX_HEADS)
        return bt_error_set(err, BT_EINPUT, "num_attention_heads = %d: must be 1..%d", c->n_heads, BT_MAX_HEADS);
    if (c->d_model < 1 || c->d_head < 1 || c->d_head * c->n_heads != c->d_model)
        return bt_error_set(err, BT_EINPUT, "hidden_size = %d is not num_attention_heads (%d) x head size (%d)",
                            c->d_model, c->n_heads, c->d_head);
    if (c->d_ff < 1) return bt_error_set(err, BT_EINPUT, "intermediate_size = %d: must be positive", c->d_ff);
    if (c->vocab_size < 1) return bt_error_set(err, BT_EINPUT, "vocab_size = %d: must be positive", c->vocab_size);
    if (c->max_pos < 1) return bt_error_set(err, BT_EINPUT, "max_position_embeddings = %d: must be positive", c->max_pos);
    if (c->type_vocab < 0) return bt_error_set(err, BT_EINPUT, "type_vocab_size = %d: must be >= 0", c->type_vocab);
    if (c->pos_offset < 0 || c->pos_offset >= c->max_pos)
        return bt_error_set(err, BT_EINPUT, "position offset %d outside the %d positions", c->pos_offset, c->max_pos);
    if (c->act < BT_ACT_GELU || c->act > BT_ACT_RELU) return bt_error_set(err, BT_EINPUT, "unknown activation %d", c->act);
    if (!(c->ln_eps > 0.0f)) return bt_error_set(err, BT_EINPUT, "layer_norm_eps = %g: must be positive", c->ln_eps);
    if (c->head == BT_HEAD_CLASSIFY && c->n_labels < 2)
        return bt_error_set(err, BT_EINPUT, "num_labels = %d: a classifier needs at least 2", c->n_labels);
    if (c->head == BT_HEAD_REGRESS && c->n_labels != 1)
        return bt_error_set(err, BT_EINPUT, "num_labels = %d: regression needs exactly 1", c->n_labels);
    for (int l = 0; l < c->n_layers; l++) {
        if (c->layer_heads[l] < 0 || c->layer_heads[l] > c->n_heads)
            return bt_error_set(err, BT_EINPUT, "layer %d keeps %d heads of %d", l, c->layer_heads[l], c->n_heads);
        unsigned long long seen = 0;
        for (int j = 0; j < c->layer_heads[l]; j++) {
            int h = c->head_id[l][j];
            if (h < 0 || h >= c->n_heads || (seen >> h & 1ull))
                return bt_error_set(err, BT_EINPUT, "layer %d: head id %d invalid or repeated", l, h);
            seen |= 1ull << h;
        }
    }
    return BT_OK;
}
