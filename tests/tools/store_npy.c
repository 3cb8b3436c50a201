/* The npy module from the command line, for tests/store/test_npy.py:
 *   store_npy read FILE                  -> "shape d0 d1 ...", "dtype f32|f64", one %.9g per line
 *   store_npy write f4|f8|i4|i8 FILE d0 d1 ...   writes value(k) for k = 0 .. prod(d)-1:
 *       floats: ((37 k) mod 101 - 50) / 8     ints: i4 1000003 k - 500000, i8 2^33 k + k - 7
 * Errors: the library's message on stderr, exit code = the library's code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/npy.h"

int main(int argc, char **argv) {
    bt_error err;
    if (argc == 3 && !strcmp(argv[1], "read")) {
        bt_npy_info info;
        float *d;
        if (bt_npy_read_f32(argv[2], &info, &d, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return err.code;
        }
        printf("shape");
        for (int i = 0; i < info.ndim; i++) printf(" %lld", (long long)info.shape[i]);
        printf("\ndtype %s\n", info.dtype == BT_NPY_F32 ? "f32" : "f64");
        for (int64_t i = 0; i < info.count; i++) printf("%.9g\n", d[i]);
        free(d);
        return 0;
    }
    if (argc >= 4 && !strcmp(argv[1], "write")) {
        const char *names[] = {"f4", "f8", "i4", "i8"};
        int dt = -1;
        for (int i = 0; i < 4; i++)
            if (!strcmp(argv[2], names[i])) dt = i;
        int ndim = argc - 4;
        int64_t shape[BT_NPY_MAX_DIMS], count = 1;
        if (dt < 0 || ndim > BT_NPY_MAX_DIMS) return 2;
        for (int i = 0; i < ndim; i++) count *= shape[i] = atoll(argv[4 + i]);
        char *buf = malloc((size_t)count * 8 + 8);
        for (int64_t k = 0; k < count; k++) {
            double f = (double)((37 * k) % 101 - 50) / 8.0;
            if (dt == 0) ((float *)(void *)buf)[k] = (float)f;
            if (dt == 1) ((double *)(void *)buf)[k] = f;
            if (dt == 2) ((int32_t *)(void *)buf)[k] = (int32_t)(1000003 * k - 500000);
            if (dt == 3) ((int64_t *)(void *)buf)[k] = (k << 33) + k - 7;
        }
        int rc = bt_npy_write(argv[3], (bt_npy_dtype)dt, ndim, shape, buf, &err);
        free(buf);
        if (rc) fprintf(stderr, "%s\n", err.msg);
        return rc;
    }
    fprintf(stderr, "usage: store_npy read FILE | store_npy write f4|f8|i4|i8 FILE dims...\n");
    return 2;
}
