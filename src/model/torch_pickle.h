/* The pickle inside a pytorch_model.bin (archive/data.pkl), read by a restricted unpickler that
 * knows exactly what torch.save(state_dict) writes and nothing more (docs/checkpoints.md).
 *
 * It never calls anything: the few globals a state dict needs (collections.OrderedDict,
 * torch._utils._rebuild_tensor_v2 / _rebuild_parameter and the typed storage classes) are
 * recognised by name and interpreted; every other global, and every opcode a state dict does
 * not use, is refused with a message naming it. The result is a table of tensors (name, dtype,
 * shape, storage and element offset) and of the storages they point into; the storage bytes
 * themselves live in the zip next to the pickle (torch_bin.c). */
#ifndef BT_MODEL_TORCH_PICKLE_H
#define BT_MODEL_TORCH_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "bertology/error.h"
#include "model/safetensors.h"

/* A pickle larger than this is refused: a BERT-large state dict's pickle is ~40 KiB. */
#define BT_TP_MAX_PICKLE ((size_t)64 << 20)

typedef struct {
    char *key;     /* archive/data/<key> */
    int dtype;     /* bt_st_dtype */
    int64_t numel; /* elements, as the persistent id says */
} bt_tp_storage;

typedef struct {
    char *name;
    int storage; /* index into storages */
    int dtype;
    int ndim;
    int64_t shape[BT_ST_MAX_DIMS];
    int64_t numel;
    int64_t offset; /* in elements from the start of the storage */
} bt_tp_tensor;

typedef struct {
    int n_tensors, n_storages;
    bt_tp_tensor *t;
    bt_tp_storage *s;
} bt_torch_pickle;

/* Parses len bytes of pickle (path names them in messages). Every tensor is checked to be
 * contiguous and to lie inside its storage. On failure out is empty. */
int bt_tp_parse(const unsigned char *p, size_t len, const char *path, bt_torch_pickle *out, bt_error *err);
void bt_tp_free(bt_torch_pickle *tp);

/* Opens a pytorch_model.bin (torch >= 1.6 zip format) into f as if it were a safetensors file:
 * the storages are read into one heap block that f owns. Legacy (pre-1.6) files are refused
 * with a message saying how to convert them. */
int bt_torchbin_open(const char *path, bt_st_file *f, bt_error *err);

#endif
