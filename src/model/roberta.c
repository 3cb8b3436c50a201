/* RoBERTa (model_type "roberta"): BERT's encoder under "roberta.", with two differences that
 * matter here. Position ids start at padding_idx + 1 (transformers counts positions from the
 * pad id up, so a sequence without pad tokens has pad_token_id + 1 + t). The sequence
 * classifier reads the first token through classifier.dense + tanh (our pooler) and
 * classifier.out_proj; RobertaForSequenceClassification has no pooler of its own.
 *
 * The encoder's config fields and tensors are BERT's, so this reuses bt_bert_ops for them. */
#include <stdio.h>
#include <string.h>

#include "model/families.h"

static int read_config(const cJSON *root, const char *path, const char *arch_name, bt_config *c, bt_error *err) {
    int rc = bt_bert_ops.read_config(root, path, arch_name, c, err);
    int pad;
    /* RobertaConfig differs from BertConfig's defaults only in these two */
    if (rc || (rc = bt_json_int(root, "vocab_size", 50265, 1, 1 << 30, path, &c->vocab_size, err)) ||
        (rc = bt_json_int(root, "pad_token_id", 1, 0, 1 << 30, path, &pad, err)))
        return rc;
    if (pad + 1 >= c->max_pos)
        return bt_error_set(err, BT_EINPUT,
                            "%s: pad_token_id %d leaves no positions: they start at pad_token_id + 1 and "
                            "max_position_embeddings is %d",
                            path, pad, c->max_pos);
    c->pos_offset = pad + 1;
    c->pooler_act = BT_POOL_TANH;
    c->cls_last = 0;
    return BT_OK;
}

static int inspect(const bt_weights *wts, const char *arch_name, bt_config *c, char *prefix, size_t prefix_len,
                   bt_error *err) {
    int rc = bt_spec_prefix(wts, "roberta.", "embeddings.word_embeddings.weight", prefix, prefix_len, err);
    if (rc) return rc;
    const int seq_cls = arch_name[0] == '\0' || strstr(arch_name, "ForSequenceClassification") != NULL;
    const int has_cls = bt_weights_find(wts, "classifier.out_proj.weight", NULL) != NULL;
    if (seq_cls && arch_name[0] && !has_cls)
        return bt_error_set(err, BT_EINPUT, "%s: missing tensor classifier.out_proj.weight (needed by %s)", wts->path,
                            arch_name);
    bt_config_set_head(c, seq_cls && has_cls);
    /* A classifier's dense layer is required; RobertaModel's pooler is kept if it is there, so
     * that a saved encoder still has it. */
    char name[256];
    snprintf(name, sizeof name, "%spooler.dense.weight", prefix);
    c->has_pooler = c->head != BT_HEAD_NONE || bt_weights_find(wts, name, NULL) != NULL;
    return BT_OK;
}

static int tensors(const bt_config *c, const bt_params *p, const char *prefix, bt_tensor_spec *out) {
    bt_config enc = *c;
    enc.head = BT_HEAD_NONE;
    enc.n_labels = 0;
    enc.has_pooler = 0;
    int n = bt_bert_ops.tensors(&enc, p, prefix, out);
    const int64_t D = c->d_model, C = c->n_labels;
    const int cls = c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS;
    if (c->has_pooler) {
        const char *pre = cls ? "" : prefix, *base = cls ? "classifier.dense" : "pooler.dense";
        char nm[64];
        snprintf(nm, sizeof nm, "%s.weight", base);
        bt_spec_add(out, &n, pre, nm, D, D, p->pool_w, 0);
        snprintf(nm, sizeof nm, "%s.bias", base);
        bt_spec_add(out, &n, pre, nm, D, BT_VEC, p->pool_b, 0);
    }
    if (cls) {
        bt_spec_add(out, &n, "", "classifier.out_proj.weight", C, D, p->cls_w, 0);
        bt_spec_add(out, &n, "", "classifier.out_proj.bias", C, BT_VEC, p->cls_b, 0);
    }
    return n;
}

static const char *save_prefix(const bt_config *c) { return c->head == BT_HEAD_NONE ? "" : "roberta."; }

static int write_config(cJSON *root, const bt_config *c, bt_error *err) {
    int rc = bt_bert_ops.write_config(root, c, err);
    if (rc) return rc;
    const char *arch = c->head == BT_HEAD_NONE ? "RobertaModel" : "RobertaForSequenceClassification";
    int ok = bt_json_set_int(root, "vocab_size", c->vocab_size, 50265) &&
             bt_json_set_int(root, "pad_token_id", c->pos_offset - 1, 1) && bt_json_set_arch(root, arch);
    return ok ? BT_OK : bt_error_set(err, BT_EINTERNAL, "out of memory writing config.json");
}

const bt_arch_ops bt_roberta_ops = {
    .model_type = "roberta",
    .read_config = read_config,
    .inspect = inspect,
    .tensors = tensors,
    .save_prefix = save_prefix,
    .write_config = write_config,
};
