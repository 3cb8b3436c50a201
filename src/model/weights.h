/* The weights of a model directory: model.safetensors or pytorch_model.bin, or the shards that
 * model.safetensors.index.json / pytorch_model.bin.index.json list, behind one lookup by
 * tensor name. */
#ifndef BT_MODEL_WEIGHTS_H
#define BT_MODEL_WEIGHTS_H

#include "model/safetensors.h"

typedef struct {
    const char *name; /* points into names */
    int shard;
} bt_weights_entry;

typedef struct {
    char path[1100]; /* model.safetensors or the index: what errors about the set name */
    int n_files;
    bt_st_file *files;
    int n_entries; /* sharded only: the weight_map, sorted by name */
    bt_weights_entry *entries;
    char *names;
} bt_weights;

/* Opens the first of dir/model.safetensors, model.safetensors.index.json, pytorch_model.bin,
 * pytorch_model.bin.index.json that exists (transformers' preference); every shard is opened
 * and validated and every weight_map entry must exist in its shard. */
int bt_weights_open(const char *dir, bt_weights *c, bt_error *err);
void bt_weights_close(bt_weights *c);
/* NULL if absent; *file (if file is not NULL) names the file that holds it. */
const bt_st_tensor *bt_weights_find(const bt_weights *c, const char *name, const char **file);

#endif
