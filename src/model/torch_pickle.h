/* The pickle inside a pytorch_model.bin (archive/data.pkl), read by a restricted unpickler that
 * knows exactly what torch.save(state_dict) writes and nothing more (docs/model_files.md).
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
    int *order; /* legacy format: storage indices in the order their bytes follow, else NULL */
} bt_torch_pickle;

/* What a pickle must hold. */
enum {
    BT_TP_ZIP = 0,      /* data.pkl of the zip format: a state dict, 5-field persistent ids */
    BT_TP_LEGACY = 1,   /* the legacy format's main pickle: a state dict, 6-field persistent ids */
    BT_TP_SYS_INFO = 2, /* the legacy header's sys_info dict (little_endian must be True) */
    BT_TP_KEY_LIST = 3  /* the legacy list of storage keys: fills out->order (out from BT_TP_LEGACY) */
};

/* Parses len bytes of pickle (path names them in messages). Every tensor is checked to be
 * contiguous and to lie inside its storage. On failure out is empty. */
int bt_tp_parse(const unsigned char *p, size_t len, const char *path, bt_torch_pickle *out, bt_error *err);
/* One pickle of the legacy format's sequence, which starts at p; *used = its length. On failure
 * out is freed. */
int bt_tp_parse_part(const unsigned char *p, size_t len, const char *path, int mode, size_t *used,
                     bt_torch_pickle *out, bt_error *err);
void bt_tp_free(bt_torch_pickle *tp);

/* Opens a pytorch_model.bin into f as if it were a safetensors file: the torch >= 1.6 zip
 * format (storages read into one heap block that f owns) or the legacy format of older torch
 * (header pickles, the state dict, the key list, then the storages; mapped like safetensors). */
int bt_torchbin_open(const char *path, bt_st_file *f, bt_error *err);

#endif
