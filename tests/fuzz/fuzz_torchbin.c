/* libFuzzer target: pytorch_model.bin. An input starting like a zip archive ("PK\3\4") or like
 * the legacy format (its magic-number pickle, 80 02 8a) is a whole .bin file, opened through a
 * memory file by bt_torchbin_open (src/model/torch_bin.c, libzip); anything else is a data.pkl
 * for the restricted unpickler alone
 * (src/model/torch_pickle.c). Either must load into a consistent tensor table or be refused
 * with a message; never crash, leak or read out of bounds.
 *
 *   clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc tests/fuzz/fuzz_torchbin.c \
 *       src/model/torch_pickle.c src/model/torch_bin.c src/model/safetensors.c src/model/st_dtype.c \
 *       src/common/error.c -lzip -lcjson -lm -o fuzz_torchbin
 *   ./fuzz_torchbin -dict=tests/fuzz/torchbin.dict tests/fuzz/corpus/torchbin */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model/torch_pickle.h"

static void fuzz_zip(const uint8_t *data, size_t size) {
    static int fd = -1;
    if (fd < 0 && (fd = memfd_create("fuzz_torchbin", 0)) < 0) abort();
    if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    bt_st_file f;
    bt_error err = {0};
    if (bt_torchbin_open(path, &f, &err) == BT_OK) {
        for (int i = 0; i < f.n; i++) {
            const bt_st_tensor *t = &f.t[i];
            /* every byte of every tensor is readable */
            volatile unsigned char sum = 0;
            for (size_t b = 0; b < t->nbytes; b++) sum ^= t->data[b];
            (void)sum;
        }
        bt_st_close(&f);
    } else if (err.msg[0] == '\0' || f.t || f.owned) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if ((size >= 4 && !memcmp(data, "PK\3\4", 4)) || (size >= 3 && !memcmp(data, "\x80\x02\x8a", 3))) {
        fuzz_zip(data, size);
        return 0;
    }
    bt_torch_pickle tp;
    bt_error err = {0};
    if (bt_tp_parse(data, size, "fuzz", &tp, &err) == BT_OK) {
        /* what the loader relies on: every tensor inside its storage, names NUL-terminated */
        for (int i = 0; i < tp.n_tensors; i++) {
            const bt_tp_tensor *t = &tp.t[i];
            if (t->storage < 0 || t->storage >= tp.n_storages) abort();
            const bt_tp_storage *s = &tp.s[t->storage];
            if (t->numel && (t->offset < 0 || t->offset + t->numel > s->numel)) abort();
            if (t->dtype != s->dtype || strlen(t->name) == 0) abort();
        }
        bt_tp_free(&tp);
    } else if (err.msg[0] == '\0' || tp.n_tensors || tp.t) {
        abort(); /* a refusal always says why and leaves nothing behind */
    }
    return 0;
}
