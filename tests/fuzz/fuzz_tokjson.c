/* libFuzzer target: tokenizer.json (src/tok/tokjson.c). The input is written as the only file
 * of a model directory; loading must succeed or fail with a message, and a loaded tokenizer must
 * encode a fixed set of texts (single and pair) without crashing, with ids inside its
 * vocabulary or among its added tokens.
 *
 * Built by tests/fuzz.cmake; run alone with `bash tests/fuzz/run_fuzz.sh tokjson` (dictionary
 * tests/fuzz/tokjson.dict, seeds tests/fuzz/corpus/tokjson). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bertology/tokenizer.h"

static char dir[512];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/fuzz_tokjson_%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
        mkdir(dir, 0700);
    }
    char path[600];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    bt_tok *tok = NULL;
    bt_error err = {0};
    if (bt_tok_load(dir, &tok, &err) != BT_OK) {
        if (tok || !err.msg[0]) abort();
        return 0;
    }
    static const char *const texts[] = {"Hello, World! [CLS] <s>x</s> <mask> caf\xc3\xa9 \xe4\xb8\xad", "", "  a  ",
                                        "unaffable [SEP][MASK] \xf0\x9f\x98\x80"};
    int ids[64], types[64], n;
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        const int ns = bt_tok_num_special_tokens(tok, 1);
        if (ns > 60) break;
        if (bt_tok_encode(tok, texts[i], texts[(i + 1) % 4], 64, ids, types, &n, &err) == BT_OK && n > 64) abort();
        if (bt_tok_encode(tok, texts[i], NULL, 64, ids, types, &n, &err) == BT_OK && n > 64) abort();
    }
    bt_tok_free(tok);
    return 0;
}
