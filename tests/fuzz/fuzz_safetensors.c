/* safetensors header (model.safetensors, every shard): the input is a whole file image. Opened
 * from memory with the same checks as a mapped file; every tensor that passed is then
 * converted to F32 (both layouts of a matrix) and found again by name, which touches every
 * byte range the header claimed. */
#include <stdlib.h>

#include "fuzz_util.h"
#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bt_st_file f;
    bt_error err = {0};
    int rc = bt_st_open_mem("fuzz.safetensors", data, size, &f, &err);
    fz_check_failure(rc, &err);
    if (rc) return 0;
    for (int i = 0; i < f.n; i++) {
        const bt_st_tensor *t = &f.t[i];
        if (bt_st_find(&f, t->name) != t) abort(); /* names are unique and sorted */
        if (!bt_st_dtype_is_float(t->dtype)) continue;
        float *dst = malloc(sizeof(float) * (size_t)(t->numel ? t->numel : 1));
        if (!dst) abort();
        int64_t bad = bt_st_to_f32(t, dst, 0);
        if (bad >= t->numel) abort();
        if (bad >= 0) (void)bt_st_elem_f32(t, bad);
        if (t->ndim == 2 && bt_st_to_f32(t, dst, 1) != bad) abort();
        free(dst);
    }
    bt_st_close(&f);
    return 0;
}
