/* A whole model directory through bt_model_load: the input is config.json, next to the tiny
 * GPT-2 weights of tests/data (any model type, dims, head, pruned_heads against real tensors).
 * A model that loads must be consistent with its config and save-able parameter count. */
#include <stdlib.h>

#include "bertology/model.h"
#include "fuzz_util.h"

static char dir[300];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        fz_subdir("model", dir, sizeof dir);
        fz_copy_fixture("tests/data/models/tiny-gpt2/model.safetensors", dir, "model.safetensors");
    }
    fz_write(dir, "config.json", data, size);
    bt_model m;
    bt_error err = {0};
    int rc = bt_model_load(dir, &m, &err);
    fz_check_failure(rc, &err);
    if (!rc) {
        if (m.n_params != bt_params_count(&m.cfg) || bt_config_check(&m.cfg, &err) != BT_OK) abort();
        (void)bt_model_param_count(&m);
    }
    bt_model_free(&m);
    return 0;
}
