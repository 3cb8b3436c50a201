/* vocab.json + merges.txt (byte-level BPE): the input is vocab.json, a NUL byte, merges.txt,
 * (optionally) a NUL byte and text to tokenize; without that text the merges are tokenized.
 * No tokenizer_config.json: GPT-2's conventions. */
#include <stdlib.h>

#include "bertology/tokenizer.h"
#include "fuzz_util.h"
#include "fuzz_vocab.h"

static char dir[300];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) fz_subdir("bpe", dir, sizeof dir);
    const uint8_t *part[3];
    size_t len[3];
    fz_split(data, size, 3, part, len);
    fz_write(dir, "vocab.json", part[0], len[0]);
    fz_write(dir, "merges.txt", part[1], len[1]);
    bt_tok *tok = NULL;
    bt_error err = {0};
    int rc = bt_tok_load(dir, &tok, &err);
    fz_check_failure(rc, &err);
    if (rc) return 0;
    if (bt_tok_kind_of(tok) != BT_TOK_BPE) abort();
    fz_exercise_tokenizer(tok, len[2] ? part[2] : part[1], len[2] ? len[2] : len[1]);
    bt_tok_free(tok);
    return 0;
}
