/* model: a Hugging Face model directory -> one contiguous F32 parameter block plus a config,
 * and back (config.json + model.safetensors), for pruned models too.
 *
 * Reads config.json (cJSON), model.safetensors or a sharded model.safetensors.index.json, else
 * pytorch_model.bin (torch >= 1.6 zip format, through a restricted unpickler that executes
 * nothing) or a sharded pytorch_model.bin.index.json, tensors stored as F32, F16 or BF16
 * (docs/model_files.md). Every tensor the architecture needs is checked for
 * presence, dtype and shape against the config, and for NaN/Inf; errors name the file and the
 * tensor. Tensors the architecture does not use (e.g. an MLM head) are ignored.
 */
#ifndef BERTOLOGY_MODEL_H
#define BERTOLOGY_MODEL_H

#include <stddef.h>

#include "bertology/engine.h"
#include "bertology/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    bt_config cfg;
    bt_params params;     /* views into block */
    float *block;         /* bt_params_count(&cfg) floats, 64-byte aligned */
    size_t n_params;
    char model_type[32];  /* config.json "model_type": bert, gpt2, openai-gpt, roberta, distilbert */
    char arch_name[96];   /* first entry of config.json "architectures", or "" */
    char dtype[8];        /* storage dtype of the weights as found: F32, F16, BF16 */
    char *config_json;    /* config.json as read (for run metadata); owned */
    char dir[1024];       /* the directory it was loaded from */
} bt_model;

/* Loads dir/config.json and the weights. On failure m is left empty (safe to bt_model_free). */
int bt_model_load(const char *dir, bt_model *m, bt_error *err);

/* Reads only config.json into cfg (and model_type/arch_name of m if m is not NULL). */
int bt_model_read_config(const char *dir, bt_config *cfg, bt_model *m, bt_error *err);

void bt_model_free(bt_model *m);

/* Writes dir/config.json (the original config with pruned_heads and the dims of cfg) and
 * dir/model.safetensors (F32, Hugging Face tensor names, layout of the model type), so that
 * both bt_model_load and transformers' from_pretrained load it. Creates dir if needed. */
int bt_model_save(const bt_model *m, const char *dir, bt_error *err);

/* Number of parameters a Hugging Face model of this config counts (for prune reports). */
size_t bt_model_param_count(const bt_model *m);

/* Gives m a zeroed, 64-byte aligned block for cfg (copied into m->cfg; n_params = its floats)
 * and points m->params into it, freeing the block m had (m must be zero-initialised or a
 * loaded model). For code that builds a model in memory (e.g. a pruned copy) before
 * bt_model_save; set model_type and config_json (strdup) to keep the original's config keys.
 * bt_model_free releases everything. */
int bt_model_alloc(bt_model *m, const bt_config *cfg, bt_error *err);

/* dst = src without the heads whose mask entry is 0. mask is [L, H] by original head id, as a
 * head_mask.npy; heads src no longer has stay absent whatever their entry. dst gets its own
 * block and config text, so bt_model_save(dst) writes the pruned model with pruned_heads as
 * the union of the old and the new. */
int bt_model_prune(const bt_model *src, const float *mask, bt_model *dst, bt_error *err);

#ifdef __cplusplus
}
#endif
#endif
