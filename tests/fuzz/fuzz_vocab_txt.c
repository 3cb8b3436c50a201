/* vocab.txt (WordPiece): the input is the vocabulary of a model directory without a
 * tokenizer_config.json (BERT's defaults: [UNK], [CLS], [SEP] must be in it). A vocabulary that
 * loads then tokenizes the input itself as text, so its own tokens are found. */
#include <stdlib.h>

#include "bertology/tokenizer.h"
#include "fuzz_util.h"
#include "fuzz_vocab.h"

static char dir[300];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) fz_subdir("wp", dir, sizeof dir);
    fz_write(dir, "vocab.txt", data, size);
    bt_tok *tok = NULL;
    bt_error err = {0};
    int rc = bt_tok_load(dir, &tok, &err);
    fz_check_failure(rc, &err);
    if (rc) return 0;
    if (bt_tok_kind_of(tok) != BT_TOK_WORDPIECE) abort();
    fz_exercise_tokenizer(tok, data, size);
    bt_tok_free(tok);
    return 0;
}
