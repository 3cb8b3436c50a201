/* BERT (model_type "bert"): config fields, tensor names and where each lands in the block.
 *
 * Tensor names are those of transformers' BertModel, with the "bert." prefix when a head
 * model (BertForSequenceClassification, BertForPreTraining, ...) saved them. q, k and v of a
 * layer are separate [Dl, D] matrices in the file and consecutive row blocks of wqkv here. */
#include <stdio.h>
#include <string.h>

#include "model/families.h"

static int read_config(const cJSON *root, const char *path, const char *arch_name, bt_config *c, bt_error *err) {
    int rc;
    const char *act, *pos_type;
    int is_decoder, cross;
    /* defaults: transformers' BertConfig (bert-base-uncased) */
    if ((rc = bt_json_int(root, "vocab_size", 30522, 1, 1 << 30, path, &c->vocab_size, err)) ||
        (rc = bt_json_int(root, "hidden_size", 768, 1, 1 << 20, path, &c->d_model, err)) ||
        (rc = bt_json_int(root, "num_hidden_layers", 12, 1, BT_MAX_LAYERS, path, &c->n_layers, err)) ||
        (rc = bt_json_int(root, "num_attention_heads", 12, 1, BT_MAX_HEADS, path, &c->n_heads, err)) ||
        (rc = bt_json_int(root, "intermediate_size", 3072, 1, 1 << 24, path, &c->d_ff, err)) ||
        (rc = bt_json_int(root, "max_position_embeddings", 512, 1, 1 << 24, path, &c->max_pos, err)) ||
        (rc = bt_json_int(root, "type_vocab_size", 2, 0, 1 << 20, path, &c->type_vocab, err)) ||
        (rc = bt_json_float(root, "layer_norm_eps", 1e-12, path, &c->ln_eps, err)) ||
        (rc = bt_json_str(root, "hidden_act", "gelu", path, &act, err)) ||
        (rc = bt_json_str(root, "position_embedding_type", "absolute", path, &pos_type, err)) ||
        (rc = bt_json_bool(root, "is_decoder", 0, path, &is_decoder, err)) ||
        (rc = bt_json_bool(root, "add_cross_attention", 0, path, &cross, err)))
        return rc;
    if (c->d_model % c->n_heads != 0)
        return bt_error_set(err, BT_EINPUT, "%s: hidden_size %d is not a multiple of num_attention_heads %d", path,
                            c->d_model, c->n_heads);
    c->arch = BT_ARCH_BERT;
    c->d_head = c->d_model / c->n_heads;
    c->pos_offset = 0;
    c->act = bt_act_parse(act);
    if (c->act < 0)
        return bt_error_set(err, BT_EINPUT,
                            "%s: hidden_act \"%.64s\" is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)", path,
                            act);
    if (strcmp(pos_type, "absolute") != 0)
        return bt_error_set(err, BT_EINPUT, "%s: position_embedding_type \"%.64s\" is not supported (absolute)", path,
                            pos_type);
    if (is_decoder || cross)
        return bt_error_set(err, BT_EINPUT, "%s: is_decoder/add_cross_attention: only the BERT encoder is supported",
                            path);
    /* What the architecture name implies; the weights have the last word (inspect). */
    c->has_pooler = strcmp(arch_name, "BertForMaskedLM") != 0 && strcmp(arch_name, "BertForTokenClassification") != 0 &&
                    strcmp(arch_name, "BertForQuestionAnswering") != 0 && strcmp(arch_name, "BertLMHeadModel") != 0;
    return BT_OK;
}

static int inspect(const bt_weights *wts, const char *arch_name, bt_config *c, char *prefix, size_t prefix_len,
                   bt_error *err) {
    char name[256];
    if (bt_weights_find(wts, "bert.embeddings.word_embeddings.weight", NULL))
        snprintf(prefix, prefix_len, "bert.");
    else if (bt_weights_find(wts, "embeddings.word_embeddings.weight", NULL))
        prefix[0] = '\0';
    else
        return bt_error_set(err, BT_EINPUT,
                            "%s: missing tensor bert.embeddings.word_embeddings.weight (or without bert.)", wts->path);
    /* Only a sequence classifier's "classifier" is one we can use: BertForTokenClassification's
     * and BertForMultipleChoice's have the same name but another meaning. Those load as encoders. */
    const int seq_cls = arch_name[0] == '\0' || strstr(arch_name, "ForSequenceClassification") != NULL;
    const int has_cls = bt_weights_find(wts, "classifier.weight", NULL) != NULL;
    if (seq_cls && arch_name[0] && !has_cls)
        return bt_error_set(err, BT_EINPUT, "%s: missing tensor classifier.weight (needed by %s)", wts->path, arch_name);
    bt_config_set_head(c, seq_cls && has_cls);
    snprintf(name, sizeof name, "%spooler.dense.weight", prefix);
    /* A sequence classifier reads the pooler, so there it is required (a missing one is reported
     * by name when the tensors are read). */
    c->has_pooler = c->head != BT_HEAD_NONE || bt_weights_find(wts, name, NULL) != NULL;
    return BT_OK;
}

static int tensors(const bt_config *c, const bt_params *p, const char *prefix, bt_tensor_spec *out) {
    int n = 0;
    const int64_t D = c->d_model, F = c->d_ff;
    bt_spec_add(out, &n, prefix, "embeddings.word_embeddings.weight", c->vocab_size, D, p->wte, 0);
    bt_spec_add(out, &n, prefix, "embeddings.position_embeddings.weight", c->max_pos, D, p->wpe, 0);
    if (c->type_vocab > 0)
        bt_spec_add(out, &n, prefix, "embeddings.token_type_embeddings.weight", c->type_vocab, D, p->wtt, 0);
    bt_spec_add_ln(out, &n, prefix, "embeddings.LayerNorm", D, p->emb_ln_g, p->emb_ln_b);
    for (int l = 0; l < c->n_layers; l++) {
        const bt_layer_params *lp = &p->layer[l];
        const int64_t Dl = (int64_t)c->layer_heads[l] * c->d_head;
        static const char *const qkv[3] = {"query", "key", "value"};
        char nm[160];
        for (int k = 0; k < 3; k++) {
            snprintf(nm, sizeof nm, "encoder.layer.%d.attention.self.%s.weight", l, qkv[k]);
            bt_spec_add(out, &n, prefix, nm, Dl, D, lp->wqkv ? lp->wqkv + k * Dl * D : NULL, 0);
            snprintf(nm, sizeof nm, "encoder.layer.%d.attention.self.%s.bias", l, qkv[k]);
            bt_spec_add(out, &n, prefix, nm, Dl, BT_VEC, lp->bqkv ? lp->bqkv + k * Dl : NULL, 0);
        }
        snprintf(nm, sizeof nm, "encoder.layer.%d.attention.output.dense.weight", l);
        bt_spec_add(out, &n, prefix, nm, D, Dl, lp->wo, 0);
        snprintf(nm, sizeof nm, "encoder.layer.%d.attention.output.dense.bias", l);
        bt_spec_add(out, &n, prefix, nm, D, BT_VEC, lp->bo, 0);
        snprintf(nm, sizeof nm, "encoder.layer.%d.attention.output.LayerNorm", l);
        bt_spec_add_ln(out, &n, prefix, nm, D, lp->ln1_g, lp->ln1_b);
        snprintf(nm, sizeof nm, "encoder.layer.%d.intermediate.dense.weight", l);
        bt_spec_add(out, &n, prefix, nm, F, D, lp->w1, 0);
        snprintf(nm, sizeof nm, "encoder.layer.%d.intermediate.dense.bias", l);
        bt_spec_add(out, &n, prefix, nm, F, BT_VEC, lp->b1, 0);
        snprintf(nm, sizeof nm, "encoder.layer.%d.output.dense.weight", l);
        bt_spec_add(out, &n, prefix, nm, D, F, lp->w2, 0);
        snprintf(nm, sizeof nm, "encoder.layer.%d.output.dense.bias", l);
        bt_spec_add(out, &n, prefix, nm, D, BT_VEC, lp->b2, 0);
        snprintf(nm, sizeof nm, "encoder.layer.%d.output.LayerNorm", l);
        bt_spec_add_ln(out, &n, prefix, nm, D, lp->ln2_g, lp->ln2_b);
    }
    if (c->has_pooler) {
        bt_spec_add(out, &n, prefix, "pooler.dense.weight", D, D, p->pool_w, 0);
        bt_spec_add(out, &n, prefix, "pooler.dense.bias", D, BT_VEC, p->pool_b, 0);
    }
    if (c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS) {
        bt_spec_add(out, &n, "", "classifier.weight", c->n_labels, D, p->cls_w, 0);
        bt_spec_add(out, &n, "", "classifier.bias", c->n_labels, BT_VEC, p->cls_b, 0);
    }
    return n;
}

static const char *save_prefix(const bt_config *c) { return c->head == BT_HEAD_NONE ? "" : "bert."; }

static int write_config(cJSON *root, const bt_config *c, bt_error *err) {
    int ok = bt_json_set_int(root, "vocab_size", c->vocab_size, 30522) &&
             bt_json_set_int(root, "hidden_size", c->d_model, 768) &&
             bt_json_set_int(root, "num_hidden_layers", c->n_layers, 12) &&
             bt_json_set_int(root, "num_attention_heads", c->n_heads, 12) &&
             bt_json_set_int(root, "intermediate_size", c->d_ff, 3072) &&
             bt_json_set_int(root, "max_position_embeddings", c->max_pos, 512) &&
             bt_json_set_int(root, "type_vocab_size", c->type_vocab, 2);
    static const char *const act_name[] = {
        [BT_ACT_GELU] = "gelu", [BT_ACT_GELU_TANH] = "gelu_new", [BT_ACT_RELU] = "relu"};
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
    if (ok && (act ? !cJSON_IsString(act) || bt_act_parse(act->valuestring) != c->act : c->act != BT_ACT_GELU)) {
        cJSON *s = cJSON_CreateString(act_name[c->act]);
        ok = s && (act ? cJSON_ReplaceItemInObjectCaseSensitive(root, "hidden_act", s)
                       : cJSON_AddItemToObject(root, "hidden_act", s));
    }
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_eps");
    if (ok && (eps ? !cJSON_IsNumber(eps) || (float)eps->valuedouble != c->ln_eps : c->ln_eps != 1e-12f)) {
        cJSON *v = cJSON_CreateNumber(bt_float_decimal(c->ln_eps));
        ok = v && (eps ? cJSON_ReplaceItemInObjectCaseSensitive(root, "layer_norm_eps", v)
                       : cJSON_AddItemToObject(root, "layer_norm_eps", v));
    }
    /* The file holds what we hold: an encoder, or an encoder with a sequence classifier. */
    const char *arch = c->head == BT_HEAD_NONE ? "BertModel" : "BertForSequenceClassification";
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    const cJSON *a0 = cJSON_IsArray(a) ? cJSON_GetArrayItem(a, 0) : NULL;
    if (ok && !(cJSON_IsString(a0) && cJSON_GetArraySize(a) == 1 && strcmp(a0->valuestring, arch) == 0)) {
        cJSON *na = cJSON_CreateStringArray(&arch, 1);
        ok = na && (a ? cJSON_ReplaceItemInObjectCaseSensitive(root, "architectures", na)
                      : cJSON_AddItemToObject(root, "architectures", na));
    }
    return ok ? BT_OK : bt_error_set(err, BT_EINTERNAL, "out of memory writing config.json");
}

const bt_arch_ops bt_bert_ops = {
    .model_type = "bert",
    .read_config = read_config,
    .inspect = inspect,
    .tensors = tensors,
    .save_prefix = save_prefix,
    .write_config = write_config,
};
