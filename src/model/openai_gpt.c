/* GPT (model_type "openai-gpt"): the post-LayerNorm decoder of Radford et al. 2018.
 *
 * transformers' OpenAIGPTModel names: tokens_embed, positions_embed, then the same h.{i} Conv1D
 * block as GPT-2 (families.c), where ln_1 follows the attention and ln_2 the MLP. No embedding
 * LayerNorm, no final LayerNorm; the MLP is always 4 * n_embd wide. */
#include <string.h>

#include "model/families.h"

/* OpenAI GPT's "gelu" is the tanh approximation (transformers: ACT_FNS["gelu"] = gelu_new). */
static int afn_parse(const char *name) {
    if (strcmp(name, "gelu") == 0) return BT_ACT_GELU_TANH;
    if (strcmp(name, "relu") == 0) return BT_ACT_RELU;
    return -1;
}

static int read_config(const cJSON *root, const char *path, const char *arch_name, bt_config *c, bt_error *err) {
    int rc;
    const char *afn;
    /* defaults: transformers' OpenAIGPTConfig */
    if ((rc = bt_json_int(root, "vocab_size", 40478, 1, 1 << 30, path, &c->vocab_size, err)) ||
        (rc = bt_json_int(root, "n_embd", 768, 1, 1 << 20, path, &c->d_model, err)) ||
        (rc = bt_json_int(root, "n_layer", 12, 1, BT_MAX_LAYERS, path, &c->n_layers, err)) ||
        (rc = bt_json_int(root, "n_head", 12, 1, BT_MAX_HEADS, path, &c->n_heads, err)) ||
        (rc = bt_json_int(root, "n_positions", 512, 1, 1 << 24, path, &c->max_pos, err)) ||
        (rc = bt_json_float(root, "layer_norm_epsilon", 1e-5, path, &c->ln_eps, err)) ||
        (rc = bt_json_str(root, "afn", "gelu", path, &afn, err)))
        return rc;
    if (c->d_model % c->n_heads != 0)
        return bt_error_set(err, BT_EINPUT, "%s: n_embd %d is not a multiple of n_head %d", path, c->d_model,
                            c->n_heads);
    c->act = afn_parse(afn);
    if (c->act < 0) return bt_error_set(err, BT_EINPUT, "%s: afn \"%.64s\" is not supported (gelu, relu)", path, afn);
    c->arch = BT_ARCH_GPT;
    c->d_head = c->d_model / c->n_heads;
    c->d_ff = 4 * c->d_model;
    c->type_vocab = 0;
    c->pos_offset = 0;
    c->cls_last = 1;
    return BT_OK;
}

static int inspect(const bt_weights *wts, const char *arch_name, bt_config *c, char *prefix, size_t prefix_len,
                   bt_error *err) {
    int rc = bt_spec_prefix(wts, "transformer.", "tokens_embed.weight", prefix, prefix_len, err);
    return rc ? rc : bt_decoder_head(wts, arch_name, c, err);
}

static int tensors(const bt_config *c, const bt_params *p, const char *prefix, bt_tensor_spec *out) {
    int n = 0;
    bt_spec_add(out, &n, prefix, "tokens_embed.weight", c->vocab_size, c->d_model, p->wte, 0);
    bt_spec_add(out, &n, prefix, "positions_embed.weight", c->max_pos, c->d_model, p->wpe, 0);
    bt_decoder_layers(c, p, prefix, out, &n);
    bt_decoder_score(c, p, out, &n);
    return n;
}

static const char *save_prefix(const bt_config *c) { return c->head == BT_HEAD_NONE ? "" : "transformer."; }

static int write_config(cJSON *root, const bt_config *c, bt_error *err) {
    if (c->act == BT_ACT_GELU)
        return bt_error_set(err, BT_EINPUT, "openai-gpt cannot express the erf GELU (its \"gelu\" is the tanh form)");
    if (c->d_ff != 4 * c->d_model)
        return bt_error_set(err, BT_EINPUT, "openai-gpt's MLP is 4 * n_embd = %d wide, not %d", 4 * c->d_model,
                            c->d_ff);
    const char *arch = c->head == BT_HEAD_LM     ? "OpenAIGPTLMHeadModel"
                       : c->head == BT_HEAD_NONE ? "OpenAIGPTModel"
                                                 : "OpenAIGPTForSequenceClassification";
    int ok = bt_json_set_int(root, "vocab_size", c->vocab_size, 40478) &&
             bt_json_set_int(root, "n_embd", c->d_model, 768) && bt_json_set_int(root, "n_layer", c->n_layers, 12) &&
             bt_json_set_int(root, "n_head", c->n_heads, 12) && bt_json_set_int(root, "n_positions", c->max_pos, 512) &&
             bt_json_set_act(root, "afn", c->act, c->act == BT_ACT_RELU ? "relu" : "gelu", afn_parse, "gelu") &&
             bt_json_set_float(root, "layer_norm_epsilon", c->ln_eps, 1e-5f) && bt_json_set_arch(root, arch);
    return ok ? BT_OK : bt_error_set(err, BT_EINTERNAL, "out of memory writing config.json");
}

const bt_arch_ops bt_openai_gpt_ops = {
    .model_type = "openai-gpt",
    .read_config = read_config,
    .inspect = inspect,
    .tensors = tensors,
    .save_prefix = save_prefix,
    .write_config = write_config,
};
