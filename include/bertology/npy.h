/* npy: NumPy .npy files (format 1.0 written, 1.x/2.x/3.x read), the exchange format of HF's
 * BERTology script (head_importance.npy, attn_entropy.npy, head_mask.npy: float32 [L, H]).
 *
 * Written files are little-endian, C order, descr '<f4' '<f8' '<i4' '<i8', header padded to a
 * multiple of 64 bytes as NumPy does. Writes are atomic: the data goes to "<path>.tmp-<pid>",
 * which is renamed to path only when complete, so a reader never sees half a file.
 */
#ifndef BERTOLOGY_NPY_H
#define BERTOLOGY_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "bertology/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BT_NPY_MAX_DIMS 32 /* NumPy's own limit (NPY_MAXDIMS) */

typedef enum { BT_NPY_F32 = 0, BT_NPY_F64 = 1, BT_NPY_I32 = 2, BT_NPY_I64 = 3 } bt_npy_dtype;

/* Bytes of one element of dtype (0 for an unknown dtype). */
int bt_npy_itemsize(bt_npy_dtype dtype);

/* Writes data (C order, prod(shape) elements of dtype) to path. ndim 0 is a scalar. */
int bt_npy_write(const char *path, bt_npy_dtype dtype, int ndim, const int64_t *shape,
                 const void *data, bt_error *err);

typedef struct {
    int ndim;
    int64_t shape[BT_NPY_MAX_DIMS];
    int64_t count;       /* prod(shape) */
    bt_npy_dtype dtype;  /* as stored in the file (before any conversion) */
} bt_npy_info;

/* Reads a float32 or float64 array (either byte order) as float32 into *data (malloc'd, caller
 * frees; NULL when count is 0) and its shape into *info. Anything else is BT_EINPUT with a
 * message naming the file and what is wrong: magic, version, header dict, descr, fortran_order,
 * shape, data length. */
int bt_npy_read_f32(const char *path, bt_npy_info *info, float **data, bt_error *err);

/* "[d0, d1, ...]" of info into buf for messages: always NUL-terminated, ending ", ...]" when the
 * shape does not fit in cap bytes (cap >= 8). A 32-dim shape of 19-digit sizes needs ~680. */
void bt_npy_shape_str(const bt_npy_info *info, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
