/* .npy (--head-mask, and any array the tools read back): the input is the file. An array that
 * loads must have as many elements as its shape says; its shape must format into the 128-byte
 * message buffer the CLI uses (run_opts.c once overflowed it). */
#include <stdlib.h>

#include "bertology/npy.h"
#include "fuzz_util.h"

static char dir[300];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) fz_subdir("npy", dir, sizeof dir);
    fz_write(dir, "a.npy", data, size);
    char path[400];
    snprintf(path, sizeof path, "%s/a.npy", dir);
    bt_npy_info info;
    float *x = NULL;
    bt_error err = {0};
    int rc = bt_npy_read_f32(path, &info, &x, &err);
    fz_check_failure(rc, &err);
    if (!rc) {
        int64_t count = 1;
        for (int d = 0; d < info.ndim; d++) count *= info.shape[d];
        if (count != info.count || (count > 0) != (x != NULL)) abort();
        int64_t nan = 0; /* reads every element: ASan sees a buffer shorter than count */
        for (int64_t i = 0; i < count; i++) nan += x[i] != x[i];
        if (nan > count) abort();
        char shape[128];
        bt_npy_shape_str(&info, shape, sizeof shape);
        if (strlen(shape) >= sizeof shape || shape[0] != '[' || shape[strlen(shape) - 1] != ']') abort();
    }
    free(x);
    return 0;
}
