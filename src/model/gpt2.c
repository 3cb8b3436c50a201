/* GPT-2 (model_type "gpt2"): config fields, tensor names and where each lands in the block.
 *
 * Names are those of transformers' GPT2Model, under "transformer." when a head model
 * (GPT2LMHeadModel, GPT2ForSequenceClassification) saved them. Every matrix of a layer is a
 * Conv1D stored [in, out] and transposed on the way in and out. lm_head.weight, when a file
 * carries it, is wte itself and is not read; the attn.bias / attn.masked_bias buffers of old
 * checkpoints are not weights. */
#include <string.h>

#include "model/families.h"

static int read_config(const cJSON *root, const char *path, const char *arch_name, bt_config *c, bt_error *err) {
    int rc, n_inner, scale, by_layer, cross;
    const char *act;
    /* defaults: transformers' GPT2Config (gpt2 small) */
    if ((rc = bt_json_int(root, "vocab_size", 50257, 1, 1 << 30, path, &c->vocab_size, err)) ||
        (rc = bt_json_int(root, "n_embd", 768, 1, 1 << 20, path, &c->d_model, err)) ||
        (rc = bt_json_int(root, "n_layer", 12, 1, BT_MAX_LAYERS, path, &c->n_layers, err)) ||
        (rc = bt_json_int(root, "n_head", 12, 1, BT_MAX_HEADS, path, &c->n_heads, err)) ||
        (rc = bt_json_int(root, "n_inner", 0, 1, 1 << 24, path, &n_inner, err)) ||
        (rc = bt_json_int(root, "n_positions", 1024, 1, 1 << 24, path, &c->max_pos, err)) ||
        (rc = bt_json_float(root, "layer_norm_epsilon", 1e-5, path, &c->ln_eps, err)) ||
        (rc = bt_json_str(root, "activation_function", "gelu_new", path, &act, err)) ||
        (rc = bt_json_bool(root, "scale_attn_weights", 1, path, &scale, err)) ||
        (rc = bt_json_bool(root, "scale_attn_by_inverse_layer_idx", 0, path, &by_layer, err)) ||
        (rc = bt_json_bool(root, "add_cross_attention", 0, path, &cross, err)))
        return rc;
    if (c->d_model % c->n_heads != 0)
        return bt_error_set(err, BT_EINPUT, "%s: n_embd %d is not a multiple of n_head %d", path, c->d_model,
                            c->n_heads);
    c->act = bt_act_parse(act);
    if (c->act < 0)
        return bt_error_set(err, BT_EINPUT,
                            "%s: activation_function \"%.64s\" is not supported (gelu_new, gelu_pytorch_tanh, gelu, "
                            "relu)",
                            path, act);
    /* the engine scales scores by 1/sqrt(dh) in every layer, as GPT-2's defaults do */
    if (!scale || by_layer)
        return bt_error_set(err, BT_EINPUT,
                            "%s: scale_attn_weights = false / scale_attn_by_inverse_layer_idx = true are not "
                            "supported",
                            path);
    if (cross) return bt_error_set(err, BT_EINPUT, "%s: add_cross_attention: cross-attention is not supported", path);
    c->arch = BT_ARCH_GPT2;
    c->d_head = c->d_model / c->n_heads;
    c->d_ff = n_inner ? n_inner : 4 * c->d_model; /* n_inner null means 4 * n_embd */
    c->type_vocab = 0;                            /* token types, if any, would index wte: not used */
    c->pos_offset = 0;
    c->cls_last = 1;
    return BT_OK;
}

static int inspect(const bt_weights *wts, const char *arch_name, bt_config *c, char *prefix, size_t prefix_len,
                   bt_error *err) {
    int rc = bt_spec_prefix(wts, "transformer.", "wte.weight", prefix, prefix_len, err);
    return rc ? rc : bt_decoder_head(wts, arch_name, c, err);
}

static int tensors(const bt_config *c, const bt_params *p, const char *prefix, bt_tensor_spec *out) {
    int n = 0;
    const int64_t D = c->d_model;
    bt_spec_add(out, &n, prefix, "wte.weight", c->vocab_size, D, p->wte, 0);
    bt_spec_add(out, &n, prefix, "wpe.weight", c->max_pos, D, p->wpe, 0);
    bt_decoder_layers(c, p, prefix, out, &n);
    bt_spec_add_ln(out, &n, prefix, "ln_f", D, p->lnf_g, p->lnf_b);
    bt_decoder_score(c, p, out, &n);
    return n;
}

static const char *save_prefix(const bt_config *c) { return c->head == BT_HEAD_NONE ? "" : "transformer."; }

static int write_config(cJSON *root, const bt_config *c, bt_error *err) {
    static const char *const act_name[] = {
        [BT_ACT_GELU] = "gelu", [BT_ACT_GELU_TANH] = "gelu_new", [BT_ACT_RELU] = "relu"};
    const char *arch = c->head == BT_HEAD_LM     ? "GPT2LMHeadModel"
                       : c->head == BT_HEAD_NONE ? "GPT2Model"
                                                 : "GPT2ForSequenceClassification";
    int ok = bt_json_set_int(root, "vocab_size", c->vocab_size, 50257) &&
             bt_json_set_int(root, "n_embd", c->d_model, 768) && bt_json_set_int(root, "n_layer", c->n_layers, 12) &&
             bt_json_set_int(root, "n_head", c->n_heads, 12) &&
             bt_json_set_int(root, "n_inner", c->d_ff, 4 * c->d_model) &&
             bt_json_set_int(root, "n_positions", c->max_pos, 1024) &&
             bt_json_set_act(root, "activation_function", c->act, act_name[c->act], bt_act_parse, "gelu_new") &&
             bt_json_set_float(root, "layer_norm_epsilon", c->ln_eps, 1e-5f) && bt_json_set_arch(root, arch);
    return ok ? BT_OK : bt_error_set(err, BT_EINTERNAL, "out of memory writing config.json");
}

const bt_arch_ops bt_gpt2_ops = {
    .model_type = "gpt2",
    .read_config = read_config,
    .inspect = inspect,
    .tensors = tensors,
    .save_prefix = save_prefix,
    .write_config = write_config,
};
