/* config.json of a model directory: parsed for every model type (dims, activation, labels,
 * pruned_heads) as bt_model_read_config does, then checked; a config that passes must give
 * a parameter count the block allocation can hold. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "model/model_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* cJSON wants the text NUL-terminated past len for its error pointer: give it a copy */
    char *text = malloc(size + 1);
    if (!text) abort();
    memcpy(text, data, size);
    text[size] = '\0';
    bt_config cfg;
    char mt[32], an[96];
    const bt_arch_ops *ops = NULL;
    bt_error err = {0};
    int rc = bt_config_parse(text, size, "config.json", &cfg, mt, sizeof mt, an, sizeof an, &ops, &err);
    fz_check_failure(rc, &err);
    for (int classify = 0; classify < 2 && !rc; classify++) {
        bt_config c = cfg;
        bt_config_set_head(&c, classify);
        int crc = bt_config_check(&c, &err);
        fz_check_failure(crc, &err);
        if (!crc) (void)bt_params_count(&c);
    }
    free(text);
    return 0;
}
