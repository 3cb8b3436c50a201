/* model.safetensors.index.json (sharded weights): the input is the index; the model
 * directory holds two small valid shards it may name (and any name it invents is missing).
 * Opened through bt_weights_open, as the model loader does; every weight_map entry that opened
 * must then be found. */
#include <stdlib.h>

#include "fuzz_util.h"
#include "model/weights.h"

/* A valid F32 safetensors image with the named 1-element tensors. */
static void write_shard(const char *dir, const char *file, const char *const *names, int n) {
    char hdr[512];
    int k = snprintf(hdr, sizeof hdr, "{");
    for (int i = 0; i < n; i++)
        k += snprintf(hdr + k, sizeof hdr - (size_t)k, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%d,%d]}",
                      i ? "," : "", names[i], 4 * i, 4 * i + 4);
    k += snprintf(hdr + k, sizeof hdr - (size_t)k, "}");
    unsigned char buf[1024];
    uint64_t hl = (uint64_t)k;
    memcpy(buf, &hl, 8);
    memcpy(buf + 8, hdr, (size_t)k);
    memset(buf + 8 + k, 0, 4 * (size_t)n);
    fz_write(dir, file, buf, 8 + (size_t)k + 4 * (size_t)n);
}

static char dir[300];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        fz_subdir("model", dir, sizeof dir);
        static const char *const a[] = {"embeddings.weight", "layer.0.weight"};
        static const char *const b[] = {"layer.1.weight", "classifier.weight", "pooler.weight"};
        write_shard(dir, "model-00001-of-00002.safetensors", a, 2);
        write_shard(dir, "model-00002-of-00002.safetensors", b, 3);
    }
    fz_write(dir, "model.safetensors.index.json", data, size);
    bt_weights c;
    bt_error err = {0};
    int rc = bt_weights_open(dir, &c, &err);
    fz_check_failure(rc, &err);
    if (rc) return 0;
    for (int i = 0; i < c.n_entries; i++) {
        const char *file = NULL;
        if (!bt_weights_find(&c, c.entries[i].name, &file) || !file) abort();
    }
    (void)bt_weights_find(&c, "embeddings.weight", NULL);
    bt_weights_close(&c);
    return 0;
}
