/* Inside the model module: what one model type (bert, later gpt2, openai-gpt, roberta,
 * distilbert) must provide, and the helpers the types share.
 *
 * Adding a model type = one file with a bt_arch_ops and a line in arch_table (config.c). The
 * loader and the writer are driven by the same tensor list, so a type that loads also saves. */
#ifndef BT_MODEL_INTERNAL_H
#define BT_MODEL_INTERNAL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "bertology/common.h"
#include "bertology/engine.h"
#include "bertology/error.h"
#include "model/weights.h"

/* One stored tensor and where it lives in the parameter block. */
typedef struct {
    char name[192]; /* Hugging Face name, prefix included */
    char alt[192];  /* an older spelling of the same tensor (LayerNorm.gamma), or "" */
    int ndim;
    int64_t shape[2]; /* as stored in the file */
    float *dst;       /* its view in the block: shape[0]*shape[1] floats, contiguous */
    int transpose;    /* stored [in, out] (Conv1D); the block holds [out, in] */
} bt_tensor_spec;

typedef struct {
    const char *model_type;
    /* The type's own config.json fields (dims, activation, eps) into cfg; arch_name is the first
     * entry of "architectures" ("" if none). Labels and pruned_heads are read by config.c. */
    int (*read_config)(const cJSON *root, const char *path, const char *arch_name, bt_config *cfg, bt_error *err);
    /* What only the weights tell: the name prefix, the head, the pooler. */
    int (*inspect)(const bt_weights *wts, const char *arch_name, bt_config *cfg, char *prefix, size_t prefix_len,
                   bt_error *err);
    /* The tensors of cfg in block order with their views in p; returns how many (out may be
     * NULL to count only). */
    int (*tensors)(const bt_config *cfg, const bt_params *p, const char *prefix, bt_tensor_spec *out);
    /* The prefix transformers' save_pretrained would put on the base model for this head. */
    const char *(*save_prefix)(const bt_config *cfg);
    /* Brings the type's fields of a config.json tree in line with cfg (for bt_model_save). */
    int (*write_config)(cJSON *root, const bt_config *cfg, bt_error *err);
} bt_arch_ops;

extern const bt_arch_ops bt_bert_ops;

/* NULL for a model type nobody has implemented. */
const bt_arch_ops *bt_arch_find(const char *model_type);
/* Supported model types, comma separated, for error messages. */
const char *bt_arch_supported(void);

/* Parses config.json text (path is for messages) into cfg with everything the config alone
 * decides; model_type/arch_name (may be NULL) receive those strings. The head is left as if the
 * model classified (n_labels, CLASSIFY or REGRESS): the caller settles it with
 * bt_config_set_head, then runs bt_config_check. */
int bt_config_parse(const char *text, size_t len, const char *path, bt_config *cfg, char *model_type,
                    size_t model_type_len, char *arch_name, size_t arch_name_len, const bt_arch_ops **ops,
                    bt_error *err);
/* Keeps the classification head bt_config_parse prepared, or makes it BT_HEAD_NONE. */
void bt_config_set_head(bt_config *cfg, int classify);
/* Writes cfg's pruning into root's "pruned_heads" (removed if nothing is pruned and it was absent). */
int bt_config_write_pruned(cJSON *root, const bt_config *cfg, bt_error *err);

/* Parses a JSON object; errors say path:line. */
int bt_json_parse(const char *text, size_t len, const char *path, cJSON **root, bt_error *err);
/* JSON fields: absent or null means def; anything of the wrong type or range is an error
 * naming path and key. */
int bt_json_int(const cJSON *root, const char *key, int def, int lo, int hi, const char *path, int *out, bt_error *err);
int bt_json_float(const cJSON *root, const char *key, double def, const char *path, float *out, bt_error *err);
int bt_json_bool(const cJSON *root, const char *key, int def, const char *path, int *out, bt_error *err);
int bt_json_str(const cJSON *root, const char *key, const char *def, const char *path, const char **out, bt_error *err);
/* Sets root[key] = value unless it already holds that value (or is absent and def equals it),
 * so that a saved config differs from the original only where the model changed. */
int bt_json_set_int(cJSON *root, const char *key, int value, int def);
/* The shortest decimal that reads back as f, as a double (so 1e-12f prints as 1e-12). */
double bt_float_decimal(float f);
/* Makes id2label (and label2id) say cfg->n_labels labels when they say another number. */
int bt_config_write_labels(cJSON *root, const bt_config *cfg, bt_error *err);
/* hidden_act / activation_function name -> bt_act, or -1. */
int bt_act_parse(const char *name);

#endif
