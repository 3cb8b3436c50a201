/* libFuzzer target: the restricted unpickler of pytorch_model.bin's data.pkl
 * (src/model/torch_pickle.c). Any input must either parse into a consistent tensor table or be
 * refused with a message; never crash, leak or read out of bounds.
 *
 *   clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc tests/fuzz/fuzz_torchbin.c \
 *       src/model/torch_pickle.c src/common/error.c -o fuzz_torchbin
 *   ./fuzz_torchbin -dict=tests/fuzz/torchbin.dict tests/fuzz/corpus/torchbin */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/torch_pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
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
