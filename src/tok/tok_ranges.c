/* Byte ranges of byte-level BPE tokens (GPT-2, RoBERTa): each character of such a token stands
 * for one byte of the text (bt_bpe_byte_char), so the tokens spell the text exactly and their
 * ranges follow from their spellings; added tokens are spelled by their printable characters. CAT-probing needs them to find the syntax-tree leaf of a
 * sub-token by offset (docs/cat.md). */
#include <utf8proc.h>

#include "bertology/tokenizer.h"
#include "bpe.h"

int bt_tok_byte_ranges(const bt_tok *tok, const char *text, size_t len, const int *ids, int n, int64_t *start,
                       int64_t *end, bt_error *err) {
    if (bt_tok_kind_of(tok) != BT_TOK_BPE)
        return bt_error_set(err, BT_EINPUT, "byte ranges of tokens need a byte-level BPE tokenizer, not %s",
                            bt_tok_name(tok));
    int byte_of[512]; /* code point (all below 512) -> byte */
    for (int c = 0; c < 512; c++) byte_of[c] = -1;
    for (int b = 0; b < 256; b++) byte_of[bt_bpe_byte_char((uint8_t)b)] = b;
    size_t at = 0;
    for (int k = 0; k < n; k++) {
        int special = 0;
        for (int r = 0; r < BT_TOK_N_SPECIAL; r++) special |= ids[k] == bt_tok_special_id(tok, r);
        size_t tl;
        const char *s = bt_tok_id_to_token(tok, ids[k], &tl);
        /* <s> and </s> that encoding put around the text cover no byte; a special token met inside
         * the text (a literal "<|endoftext|>" in code is tokenized as one) covers its bytes */
        const int inserted = special && bt_tok_num_special_tokens(tok, 0) > 0 && (k == 0 || k == n - 1);
        if (inserted || !s) {
            start[k] = end[k] = -1;
            continue;
        }
        start[k] = (int64_t)at;
        for (size_t i = 0; i < tl;) {
            utf8proc_int32_t c;
            const utf8proc_ssize_t m = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(tl - i), &c);
            if (m <= 0 || c < 0 || c >= 512 || byte_of[c] < 0 || at >= len || (unsigned char)text[at] != byte_of[c])
                return bt_error_set(err, BT_EINPUT, "token %d (id %d) does not spell byte %zu of the text", k, ids[k],
                                    at);
            at++;
            i += (size_t)m;
        }
        end[k] = (int64_t)at;
    }
    return BT_OK;
}
