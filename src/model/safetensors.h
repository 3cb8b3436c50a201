/* safetensors: the file format Hugging Face stores weights in, read through mmap, written F32.
 *
 * Layout: u64 little-endian N, then N bytes of JSON {name: {dtype, shape, data_offsets}, ...,
 * "__metadata__": {str: str}}, then the data region; data_offsets = [begin, end) relative to
 * the start of the data region. Everything is little-endian.
 */
#ifndef BT_MODEL_SAFETENSORS_H
#define BT_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "bertology/error.h"

#define BT_ST_MAX_DIMS 8
/* The reference implementation refuses larger headers too (a guard against hostile files). */
#define BT_ST_MAX_HEADER ((uint64_t)100 << 20)

/* Every dtype the format defines; only the floating ones convert to F32. */
typedef enum {
    BT_ST_BOOL,
    BT_ST_U8,
    BT_ST_I8,
    BT_ST_F8_E5M2,
    BT_ST_F8_E4M3,
    BT_ST_F8_E8M0,
    BT_ST_I16,
    BT_ST_U16,
    BT_ST_F16,
    BT_ST_BF16,
    BT_ST_I32,
    BT_ST_U32,
    BT_ST_F32,
    BT_ST_F64,
    BT_ST_I64,
    BT_ST_U64,
    BT_ST_C64,
    BT_ST_F4,
    BT_ST_F6_E2M3,
    BT_ST_F6_E3M2,
    BT_ST_N_DTYPES
} bt_st_dtype;

/* -1 for a name the format does not define. */
int bt_st_dtype_parse(const char *name);
const char *bt_st_dtype_name(int dtype);
int bt_st_dtype_bits(int dtype);
/* F32, F16, BF16 and F64 convert to F32. */
int bt_st_dtype_is_float(int dtype);

typedef struct {
    const char *name; /* points into the file's parsed header */
    int dtype;        /* bt_st_dtype */
    int ndim;
    int64_t shape[BT_ST_MAX_DIMS];
    int64_t numel;
    const unsigned char *data; /* inside the mapping; any alignment */
    size_t nbytes;
} bt_st_tensor;

typedef struct {
    char path[1024];
    void *map;
    size_t map_len;
    int n; /* tensors, sorted by name */
    bt_st_tensor *t;
    char *names; /* storage for the tensor names */
    void *owned; /* heap copy of the data (pytorch_model.bin, torch_bin.c) instead of map, or NULL */
} bt_st_file;

/* Maps path and validates its header completely; the data region is not read. */
int bt_st_open(const char *path, bt_st_file *f, bt_error *err);
/* The same checks on a whole file image already in memory (name is for messages); the tensors
 * point into data, which must outlive f. For fuzzing and for callers that read files themselves. */
int bt_st_open_mem(const char *name, const void *data, size_t len, bt_st_file *f, bt_error *err);
void bt_st_close(bt_st_file *f);
const bt_st_tensor *bt_st_find(const bt_st_file *f, const char *name);

/* Exact conversions (subnormals, infinities and NaN payloads preserved). */
float bt_f16_to_f32(uint16_t h);
float bt_bf16_to_f32(uint16_t b);

/* Converts tensor t (which must have a float dtype) into dst as F32 in one pass. With transpose, t is read as
 * a matrix [rows, cols] (rows = shape[0]) and written as [cols, rows]. Returns the index (in
 * t's element order) of the first NaN or Inf, or -1 when every value is finite. */
int64_t bt_st_to_f32(const bt_st_tensor *t, float *dst, int transpose);

/* Element i (in file order) of a float-dtype tensor as F32. */
float bt_st_elem_f32(const bt_st_tensor *t, int64_t i);

/* One tensor to write: F32 data at src, [shape] as stored in the file; with transpose src is
 * [shape[1], shape[0]] and gets transposed on the way out (Conv1D layouts). */
typedef struct {
    const char *name;
    int ndim;
    int64_t shape[2];
    const float *src;
    int transpose;
} bt_st_out;

/* Writes an F32 safetensors file with metadata {"format": "pt"} (transformers requires it).
 * Writes path.tmp and renames, so a failed save never leaves a half-written file at path. */
int bt_st_write_f32(const char *path, const bt_st_out *t, int n, bt_error *err);

#endif
