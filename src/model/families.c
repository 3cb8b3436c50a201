/* Helpers of the model types after BERT: tensor lists, the Conv1D decoder block, config.json
 * writing. */
#include <stdio.h>
#include <string.h>

#include "model/families.h"

void bt_spec_add(bt_tensor_spec *out, int *n, const char *prefix, const char *name, int64_t rows, int64_t cols,
                 float *dst, int transpose) {
    if (out) {
        bt_tensor_spec *s = &out[*n];
        memset(s, 0, sizeof *s);
        snprintf(s->name, sizeof s->name, "%s%s", prefix, name);
        s->ndim = cols == BT_VEC ? 1 : 2;
        s->shape[0] = rows;
        s->shape[1] = cols == BT_VEC ? 0 : cols;
        s->dst = dst;
        s->transpose = transpose;
    }
    (*n)++;
}

void bt_spec_add_ln(bt_tensor_spec *out, int *n, const char *prefix, const char *base, int64_t d, float *g, float *b) {
    char nm[160];
    snprintf(nm, sizeof nm, "%s.weight", base);
    bt_spec_add(out, n, prefix, nm, d, BT_VEC, g, 0);
    if (out) snprintf(out[*n - 1].alt, sizeof out[*n - 1].alt, "%s%s.gamma", prefix, base);
    snprintf(nm, sizeof nm, "%s.bias", base);
    bt_spec_add(out, n, prefix, nm, d, BT_VEC, b, 0);
    if (out) snprintf(out[*n - 1].alt, sizeof out[*n - 1].alt, "%s%s.beta", prefix, base);
}

int bt_spec_prefix(const bt_weights *wts, const char *prefix_with, const char *probe, char *prefix, size_t prefix_len,
                   bt_error *err) {
    char name[256];
    snprintf(name, sizeof name, "%s%s", prefix_with, probe);
    if (bt_weights_find(wts, name, NULL)) {
        snprintf(prefix, prefix_len, "%s", prefix_with);
        return BT_OK;
    }
    if (bt_weights_find(wts, probe, NULL)) {
        prefix[0] = '\0';
        return BT_OK;
    }
    return bt_error_set(err, BT_EINPUT, "%s: missing tensor %s (or %s without the prefix)", wts->path, name, probe);
}

void bt_decoder_layers(const bt_config *c, const bt_params *p, const char *prefix, bt_tensor_spec *out, int *n) {
    const int64_t D = c->d_model, F = c->d_ff;
    char nm[160];
#define NAME(...) (snprintf(nm, sizeof nm, __VA_ARGS__), nm)
    for (int l = 0; l < c->n_layers; l++) {
        const bt_layer_params *lp = &p->layer[l];
        const int64_t Dl = (int64_t)c->layer_heads[l] * c->d_head;
        bt_spec_add_ln(out, n, prefix, NAME("h.%d.ln_1", l), D, lp->ln1_g, lp->ln1_b);
        bt_spec_add(out, n, prefix, NAME("h.%d.attn.c_attn.weight", l), D, 3 * Dl, lp->wqkv, 1);
        bt_spec_add(out, n, prefix, NAME("h.%d.attn.c_attn.bias", l), 3 * Dl, BT_VEC, lp->bqkv, 0);
        bt_spec_add(out, n, prefix, NAME("h.%d.attn.c_proj.weight", l), Dl, D, lp->wo, 1);
        bt_spec_add(out, n, prefix, NAME("h.%d.attn.c_proj.bias", l), D, BT_VEC, lp->bo, 0);
        bt_spec_add_ln(out, n, prefix, NAME("h.%d.ln_2", l), D, lp->ln2_g, lp->ln2_b);
        bt_spec_add(out, n, prefix, NAME("h.%d.mlp.c_fc.weight", l), D, F, lp->w1, 1);
        bt_spec_add(out, n, prefix, NAME("h.%d.mlp.c_fc.bias", l), F, BT_VEC, lp->b1, 0);
        bt_spec_add(out, n, prefix, NAME("h.%d.mlp.c_proj.weight", l), F, D, lp->w2, 1);
        bt_spec_add(out, n, prefix, NAME("h.%d.mlp.c_proj.bias", l), D, BT_VEC, lp->b2, 0);
    }
#undef NAME
}

int bt_decoder_head(const bt_weights *wts, const char *arch_name, bt_config *c, bt_error *err) {
    const int seq_cls = strstr(arch_name, "ForSequenceClassification") != NULL;
    const int has_score = bt_weights_find(wts, "score.weight", NULL) != NULL;
    if (seq_cls && !has_score)
        return bt_error_set(err, BT_EINPUT, "%s: missing tensor score.weight (needed by %s)", wts->path, arch_name);
    c->has_pooler = 0;
    c->cls_last = 1;
    if (seq_cls || (arch_name[0] == '\0' && has_score)) return BT_OK; /* keeps the config's labels */
    /* LMHeadModel, Model, DoubleHeadsModel, ...: the LM head is wte itself, so every decoder has it */
    c->head = BT_HEAD_LM;
    c->n_labels = 0;
    return BT_OK;
}

void bt_decoder_score(const bt_config *c, const bt_params *p, bt_tensor_spec *out, int *n) {
    if (c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS)
        bt_spec_add(out, n, "", "score.weight", c->n_labels, c->d_model, p->cls_w, 0);
}

static int set_item(cJSON *root, const char *key, cJSON *item) {
    if (!item) return 0;
    if (cJSON_GetObjectItemCaseSensitive(root, key)) return cJSON_ReplaceItemInObjectCaseSensitive(root, key, item);
    return cJSON_AddItemToObject(root, key, item);
}

static const cJSON *present(const cJSON *root, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    return cJSON_IsNull(v) ? NULL : v;
}

int bt_json_set_float(cJSON *root, const char *key, float value, float def) {
    const cJSON *v = present(root, key);
    if (v ? cJSON_IsNumber(v) && (float)v->valuedouble == value : value == def) return 1;
    return set_item(root, key, cJSON_CreateNumber(bt_float_decimal(value)));
}

int bt_json_set_act(cJSON *root, const char *key, int act, const char *name, int (*parse)(const char *),
                    const char *def) {
    const cJSON *v = present(root, key);
    if (v ? cJSON_IsString(v) && parse(v->valuestring) == act : parse(def) == act) return 1;
    return set_item(root, key, cJSON_CreateString(name));
}

int bt_json_set_arch(cJSON *root, const char *arch) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    const cJSON *a0 = cJSON_IsArray(a) ? cJSON_GetArrayItem(a, 0) : NULL;
    if (cJSON_IsString(a0) && cJSON_GetArraySize(a) == 1 && strcmp(a0->valuestring, arch) == 0) return 1;
    return set_item(root, "architectures", cJSON_CreateStringArray(&arch, 1));
}
