/* Head pruning of the weights (SPEC "Pruning"): removing head h of layer l deletes its dh rows
 * of the query, key and value projections and biases, and the same dh columns of the attention
 * output projection. Everything else is copied unchanged. */
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/model.h"

static void copy(float *dst, const float *src, size_t n) {
    if (dst && src && n) memcpy(dst, src, n * sizeof *dst);
}

/* One layer's attention: old present heads -> the kept subset, in the same order. */
static void prune_attention(const bt_config *oc, const bt_config *nc, int l, const bt_layer_params *o,
                            bt_layer_params *n) {
    const size_t D = (size_t)oc->d_model, dh = (size_t)oc->d_head;
    const size_t Dl_old = (size_t)oc->layer_heads[l] * dh, Dl_new = (size_t)nc->layer_heads[l] * dh;
    int j_new = 0;
    for (int j = 0; j < oc->layer_heads[l]; j++) {
        if (j_new == nc->layer_heads[l] || nc->head_id[l][j_new] != oc->head_id[l][j]) continue;
        for (size_t p = 0; p < 3; p++) { /* q, k, v blocks of rows */
            copy(n->wqkv + (p * Dl_new + (size_t)j_new * dh) * D, o->wqkv + (p * Dl_old + (size_t)j * dh) * D, dh * D);
            copy(n->bqkv + p * Dl_new + (size_t)j_new * dh, o->bqkv + p * Dl_old + (size_t)j * dh, dh);
        }
        for (size_t r = 0; r < D; r++)
            copy(n->wo + r * Dl_new + (size_t)j_new * dh, o->wo + r * Dl_old + (size_t)j * dh, dh);
        j_new++;
    }
}

int bt_model_prune(const bt_model *src, const float *mask, bt_model *dst, bt_error *err) {
    memset(dst, 0, sizeof *dst);
    if (!src->block || !mask) return bt_error_set(err, BT_EINPUT, "prune: %s", !mask ? "no head mask" : "no model");
    const bt_config *oc = &src->cfg;
    bt_config nc = *oc;
    for (int l = 0; l < oc->n_layers; l++) {
        int k = 0;
        for (int j = 0; j < oc->layer_heads[l]; j++) {
            const int h = oc->head_id[l][j];
            if (mask[l * oc->n_heads + h] != 0.0f) nc.head_id[l][k++] = (signed char)h;
        }
        for (int j = k; j < BT_MAX_HEADS; j++) nc.head_id[l][j] = -1;
        nc.layer_heads[l] = k;
    }
    int rc = bt_model_alloc(dst, &nc, err);
    if (rc) return rc;
    if (src->config_json && !(dst->config_json = bt_strdup(src->config_json, "config.json", err))) {
        bt_model_free(dst);
        return BT_EINTERNAL;
    }
    memcpy(dst->model_type, src->model_type, sizeof dst->model_type);
    memcpy(dst->arch_name, src->arch_name, sizeof dst->arch_name);
    memcpy(dst->dtype, src->dtype, sizeof dst->dtype);
    memcpy(dst->dir, src->dir, sizeof dst->dir);

    const bt_params *o = &src->params;
    bt_params *n = &dst->params;
    const size_t D = (size_t)oc->d_model, F = (size_t)oc->d_ff, C = (size_t)oc->n_labels;
    copy(n->wte, o->wte, (size_t)oc->vocab_size * D);
    copy(n->wpe, o->wpe, (size_t)oc->max_pos * D);
    copy(n->wtt, o->wtt, (size_t)oc->type_vocab * D);
    copy(n->emb_ln_g, o->emb_ln_g, D);
    copy(n->emb_ln_b, o->emb_ln_b, D);
    for (int l = 0; l < oc->n_layers; l++) {
        const bt_layer_params *ol = &o->layer[l];
        bt_layer_params *nl = &n->layer[l];
        prune_attention(oc, &nc, l, ol, nl);
        copy(nl->bo, ol->bo, D);
        copy(nl->ln1_g, ol->ln1_g, D);
        copy(nl->ln1_b, ol->ln1_b, D);
        copy(nl->w1, ol->w1, F * D);
        copy(nl->b1, ol->b1, F);
        copy(nl->w2, ol->w2, D * F);
        copy(nl->b2, ol->b2, D);
        copy(nl->ln2_g, ol->ln2_g, D);
        copy(nl->ln2_b, ol->ln2_b, D);
    }
    copy(n->lnf_g, o->lnf_g, D);
    copy(n->lnf_b, o->lnf_b, D);
    copy(n->pool_w, o->pool_w, D * D);
    copy(n->pool_b, o->pool_b, D);
    copy(n->cls_w, o->cls_w, C * D);
    copy(n->cls_b, o->cls_b, C);
    return BT_OK;
}
