/* tokenizer_config.json and special_tokens_map.json (special tokens, added_tokens_decoder,
 * never_split, tokenizer_class, model_max_length), for both tokenizer kinds. The first input
 * byte picks the kind (WordPiece or byte-level BPE) and the file; the rest is that file. The
 * vocabularies are small and fixed (fuzz_vocab.h). A tokenizer that loads must tokenize. */
#include <stdlib.h>

#include "bertology/tokenizer.h"
#include "fuzz_util.h"
#include "fuzz_vocab.h"

static char wp_dir[300], bpe_dir[300];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!wp_dir[0]) {
        fz_small_wordpiece(fz_subdir("wp", wp_dir, sizeof wp_dir));
        fz_small_bpe(fz_subdir("bpe", bpe_dir, sizeof bpe_dir));
    }
    if (size < 1) return 0;
    const char *dir = data[0] & 1 ? bpe_dir : wp_dir;
    const char *file = data[0] & 2 ? "special_tokens_map.json" : "tokenizer_config.json";
    fz_write(dir, file, data + 1, size - 1);
    bt_tok *tok = NULL;
    bt_error err = {0};
    int rc = bt_tok_load(dir, &tok, &err);
    fz_check_failure(rc, &err);
    fz_unlink(dir, file);
    if (rc) return 0;
    static const char text[] = "<s>The unaffable running é 中 [MASK]<mask> the<|endoftext|>er [SEP]";
    fz_exercise_tokenizer(tok, (const uint8_t *)text, sizeof text - 1);
    for (int r = 0; r < BT_TOK_N_SPECIAL; r++) {
        const int id = bt_tok_special_id(tok, r);
        size_t len;
        if (id >= 0 && !bt_tok_id_to_token(tok, id, &len) && id < bt_tok_vocab_size(tok)) abort();
    }
    (void)bt_tok_model_max_length(tok);
    bt_tok_free(tok);
    return 0;
}
