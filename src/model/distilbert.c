/* DistilBERT (model_type "distilbert"): a post-LayerNorm encoder like BERT with its own names
 * (transformers' DistilBertModel, under "distilbert." in head models), no token types, and
 * LayerNorm eps fixed at 1e-12 by the code rather than the config. The sequence classifier
 * reads the first token through pre_classifier + ReLU (our pooler) and classifier. */
#include <stdio.h>
#include <string.h>

#include "model/families.h"

static int read_config(const cJSON *root, const char *path, const char *arch_name, bt_config *c, bt_error *err) {
    int rc, sinusoidal;
    const char *act;
    /* defaults: transformers' DistilBertConfig (distilbert-base-uncased) */
    if ((rc = bt_json_int(root, "vocab_size", 30522, 1, 1 << 30, path, &c->vocab_size, err)) ||
        (rc = bt_json_int(root, "dim", 768, 1, 1 << 20, path, &c->d_model, err)) ||
        (rc = bt_json_int(root, "n_layers", 6, 1, BT_MAX_LAYERS, path, &c->n_layers, err)) ||
        (rc = bt_json_int(root, "n_heads", 12, 1, BT_MAX_HEADS, path, &c->n_heads, err)) ||
        (rc = bt_json_int(root, "hidden_dim", 3072, 1, 1 << 24, path, &c->d_ff, err)) ||
        (rc = bt_json_int(root, "max_position_embeddings", 512, 1, 1 << 24, path, &c->max_pos, err)) ||
        (rc = bt_json_str(root, "activation", "gelu", path, &act, err)) ||
        (rc = bt_json_bool(root, "sinusoidal_pos_embds", 0, path, &sinusoidal, err)))
        return rc;
    if (c->d_model % c->n_heads != 0)
        return bt_error_set(err, BT_EINPUT, "%s: dim %d is not a multiple of n_heads %d", path, c->d_model, c->n_heads);
    c->act = bt_act_parse(act);
    if (c->act < 0)
        return bt_error_set(err, BT_EINPUT, "%s: activation \"%.64s\" is not supported (gelu, gelu_new, relu)", path,
                            act);
    if (sinusoidal) return bt_error_set(err, BT_EINPUT, "%s: sinusoidal_pos_embds = true is not supported", path);
    c->arch = BT_ARCH_BERT;
    c->d_head = c->d_model / c->n_heads;
    c->ln_eps = 1e-12f;
    c->type_vocab = 0;
    c->pos_offset = 0;
    c->pooler_act = BT_POOL_RELU;
    c->cls_last = 0;
    return BT_OK;
}

static int inspect(const bt_weights *wts, const char *arch_name, bt_config *c, char *prefix, size_t prefix_len,
                   bt_error *err) {
    int rc = bt_spec_prefix(wts, "distilbert.", "embeddings.word_embeddings.weight", prefix, prefix_len, err);
    if (rc) return rc;
    /* DistilBertForTokenClassification also has a "classifier" (and no pre_classifier), and
     * DistilBertForMultipleChoice both: only a sequence classifier's pair is ours. */
    const int seq_cls = arch_name[0] == '\0' || strstr(arch_name, "ForSequenceClassification") != NULL;
    const int has_pre = bt_weights_find(wts, "pre_classifier.weight", NULL) != NULL;
    const int has_cls = bt_weights_find(wts, "classifier.weight", NULL) != NULL;
    if (seq_cls && arch_name[0] && !(has_pre && has_cls))
        return bt_error_set(err, BT_EINPUT, "%s: missing tensor %s (needed by %s)", wts->path,
                            has_pre ? "classifier.weight" : "pre_classifier.weight", arch_name);
    bt_config_set_head(c, seq_cls && has_pre && has_cls);
    c->has_pooler = c->head != BT_HEAD_NONE;
    return BT_OK;
}

static int tensors(const bt_config *c, const bt_params *p, const char *prefix, bt_tensor_spec *out) {
    int n = 0;
    const int64_t D = c->d_model, F = c->d_ff;
    char nm[160];
#define NAME(...) (snprintf(nm, sizeof nm, __VA_ARGS__), nm)
    bt_spec_add(out, &n, prefix, "embeddings.word_embeddings.weight", c->vocab_size, D, p->wte, 0);
    bt_spec_add(out, &n, prefix, "embeddings.position_embeddings.weight", c->max_pos, D, p->wpe, 0);
    bt_spec_add_ln(out, &n, prefix, "embeddings.LayerNorm", D, p->emb_ln_g, p->emb_ln_b);
    for (int l = 0; l < c->n_layers; l++) {
        const bt_layer_params *lp = &p->layer[l];
        const int64_t Dl = (int64_t)c->layer_heads[l] * c->d_head;
        static const char *const qkv[3] = {"q_lin", "k_lin", "v_lin"};
        for (int k = 0; k < 3; k++) { /* q, k, v: consecutive row blocks of wqkv */
            bt_spec_add(out, &n, prefix, NAME("transformer.layer.%d.attention.%s.weight", l, qkv[k]), Dl, D,
                        lp->wqkv ? lp->wqkv + k * Dl * D : NULL, 0);
            bt_spec_add(out, &n, prefix, NAME("transformer.layer.%d.attention.%s.bias", l, qkv[k]), Dl, BT_VEC,
                        lp->bqkv ? lp->bqkv + k * Dl : NULL, 0);
        }
        bt_spec_add(out, &n, prefix, NAME("transformer.layer.%d.attention.out_lin.weight", l), D, Dl, lp->wo, 0);
        bt_spec_add(out, &n, prefix, NAME("transformer.layer.%d.attention.out_lin.bias", l), D, BT_VEC, lp->bo, 0);
        bt_spec_add_ln(out, &n, prefix, NAME("transformer.layer.%d.sa_layer_norm", l), D, lp->ln1_g, lp->ln1_b);
        bt_spec_add(out, &n, prefix, NAME("transformer.layer.%d.ffn.lin1.weight", l), F, D, lp->w1, 0);
        bt_spec_add(out, &n, prefix, NAME("transformer.layer.%d.ffn.lin1.bias", l), F, BT_VEC, lp->b1, 0);
        bt_spec_add(out, &n, prefix, NAME("transformer.layer.%d.ffn.lin2.weight", l), D, F, lp->w2, 0);
        bt_spec_add(out, &n, prefix, NAME("transformer.layer.%d.ffn.lin2.bias", l), D, BT_VEC, lp->b2, 0);
        bt_spec_add_ln(out, &n, prefix, NAME("transformer.layer.%d.output_layer_norm", l), D, lp->ln2_g, lp->ln2_b);
    }
#undef NAME
    if (c->has_pooler) {
        bt_spec_add(out, &n, "", "pre_classifier.weight", D, D, p->pool_w, 0);
        bt_spec_add(out, &n, "", "pre_classifier.bias", D, BT_VEC, p->pool_b, 0);
    }
    if (c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS) {
        bt_spec_add(out, &n, "", "classifier.weight", c->n_labels, D, p->cls_w, 0);
        bt_spec_add(out, &n, "", "classifier.bias", c->n_labels, BT_VEC, p->cls_b, 0);
    }
    return n;
}

static const char *save_prefix(const bt_config *c) { return c->head == BT_HEAD_NONE ? "" : "distilbert."; }

static int write_config(cJSON *root, const bt_config *c, bt_error *err) {
    static const char *const act_name[] = {
        [BT_ACT_GELU] = "gelu", [BT_ACT_GELU_TANH] = "gelu_new", [BT_ACT_RELU] = "relu"};
    if (c->ln_eps != 1e-12f || c->type_vocab != 0 || c->pos_offset != 0)
        return bt_error_set(err, BT_EINPUT,
                            "distilbert cannot express LayerNorm eps %g, %d token types or position offset %d "
                            "(it has 1e-12, none and 0)",
                            c->ln_eps, c->type_vocab, c->pos_offset);
    const char *arch = c->head == BT_HEAD_NONE ? "DistilBertModel" : "DistilBertForSequenceClassification";
    int ok = bt_json_set_int(root, "vocab_size", c->vocab_size, 30522) &&
             bt_json_set_int(root, "dim", c->d_model, 768) && bt_json_set_int(root, "n_layers", c->n_layers, 6) &&
             bt_json_set_int(root, "n_heads", c->n_heads, 12) && bt_json_set_int(root, "hidden_dim", c->d_ff, 3072) &&
             bt_json_set_int(root, "max_position_embeddings", c->max_pos, 512) &&
             bt_json_set_act(root, "activation", c->act, act_name[c->act], bt_act_parse, "gelu") &&
             bt_json_set_arch(root, arch);
    return ok ? BT_OK : bt_error_set(err, BT_EINTERNAL, "out of memory writing config.json");
}

const bt_arch_ops bt_distilbert_ops = {
    .model_type = "distilbert",
    .read_config = read_config,
    .inspect = inspect,
    .tensors = tensors,
    .save_prefix = save_prefix,
    .write_config = write_config,
};
