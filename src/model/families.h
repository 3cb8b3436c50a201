/* What the model types after BERT (gpt2, openai-gpt, roberta, distilbert) share: building
 * their tensor lists, the Conv1D decoder block of GPT and GPT-2, and bringing config.json
 * fields in line with a bt_config when a model is saved. */
#ifndef BT_MODEL_FAMILIES_H
#define BT_MODEL_FAMILIES_H

#include "model/model_internal.h"

extern const bt_arch_ops bt_gpt2_ops;
extern const bt_arch_ops bt_openai_gpt_ops;
extern const bt_arch_ops bt_roberta_ops;
extern const bt_arch_ops bt_distilbert_ops;

#define BT_VEC (-1) /* cols of a vector: a layer pruned to nothing has [D, 0] matrices */

/* Appends prefix+name, stored as [rows, cols] ([rows] for cols = BT_VEC), viewed at dst
 * (transpose: stored [in, out] as Conv1D does, viewed [out, in]). out NULL only counts. */
void bt_spec_add(bt_tensor_spec *out, int *n, const char *prefix, const char *name, int64_t rows, int64_t cols,
                 float *dst, int transpose);
/* A LayerNorm's base.weight and base.bias ([d]), with the gamma/beta spellings as alternatives. */
void bt_spec_add_ln(bt_tensor_spec *out, int *n, const char *prefix, const char *base, int64_t d, float *g, float *b);

/* The weights' name prefix: prefix_with if wts holds prefix_with+probe, "" if it holds probe
 * alone; otherwise an error naming the tensor. */
int bt_spec_prefix(const bt_weights *wts, const char *prefix_with, const char *probe, char *prefix, size_t prefix_len,
                   bt_error *err);

/* Layers h.{i} of GPT / GPT-2 weights: ln_1, attn.c_attn (Conv1D [D, 3*Dl]: the q, k and v
 * column blocks of the present heads, which transposed are wqkv's row blocks), attn.c_proj
 * (Conv1D [Dl, D]), ln_2, mlp.c_fc (Conv1D [D, F]), mlp.c_proj (Conv1D [F, D]). */
void bt_decoder_layers(const bt_config *c, const bt_params *p, const char *prefix, bt_tensor_spec *out, int *n);
/* Settles a decoder's head from its weights: a sequence classifier (score.weight, no bias,
 * read from the last token) when the architecture says ForSequenceClassification (or names
 * nothing and score.weight exists), else the LM head tied to the token embeddings. */
int bt_decoder_head(const bt_weights *wts, const char *arch_name, bt_config *c, bt_error *err);
/* The classifier rows of a decoder: score.weight [C, D] into cls_w (cls_b stays zero). */
void bt_decoder_score(const bt_config *c, const bt_params *p, bt_tensor_spec *out, int *n);

/* Sets root[key] = value unless it already holds that value (or is absent and def equals it). */
int bt_json_set_float(cJSON *root, const char *key, float value, float def);
/* Sets root[key] = name unless its string already means act to parse (absent: def does). */
int bt_json_set_act(cJSON *root, const char *key, int act, const char *name, int (*parse)(const char *),
                    const char *def);
/* Makes "architectures" exactly [arch]. */
int bt_json_set_arch(cJSON *root, const char *arch);

#endif
