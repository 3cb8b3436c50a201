/* tokenizer.json (the Hugging Face `tokenizers` library's format) for the WordPiece and
 * byte-level BPE models of bertology's families, read into the same bt_wordpiece / bt_bpe the
 * classic vocabulary files fill, plus what the format adds: its added tokens (cut out of the
 * raw text, with lstrip/rstrip), the ByteLevel pre-tokenizer's prefix space (given to every
 * split that lacks one, as the library does) and the post-processor's template.
 *
 * Accepted components (anything else is refused by name; docs/model_files.md):
 *   model          WordPiece (continuing_subword_prefix "##"), BPE (no dropout, no
 *                  word prefix/suffix, no byte_fallback, no ignore_merges)
 *   normalizer     WordPiece: BertNormalizer (clean_text true), or NFD / Lowercase /
 *                  StripAccents (after NFD) alone or in a Sequence; BPE: none
 *   pre_tokenizer  WordPiece: BertPreTokenizer; BPE: ByteLevel (use_regex true)
 *   post_processor BertProcessing, RobertaProcessing, TemplateProcessing, ByteLevel, a
 *                  Sequence of these, or none */
#ifndef BT_TOK_TOKJSON_H
#define BT_TOK_TOKJSON_H

#include <stddef.h>
#include <stdint.h>

#include "bertology/error.h"
#include "bpe.h"
#include "wordpiece.h"

#define BT_TJ_MAX_PIECES 16

/* One side of a template: special tokens (seq -1, with their id) and the sequences A (0) / B (1). */
typedef struct {
    int n;
    int seq[BT_TJ_MAX_PIECES];
    int id[BT_TJ_MAX_PIECES];
    int type[BT_TJ_MAX_PIECES];
} bt_tj_side;

typedef struct {
    int has_template;
    bt_tj_side single, pair;
    int prefix_space;   /* ByteLevel add_prefix_space */
    bt_wp_table added;  /* added tokens, cut out of the raw text (leftmost, longest) */
    int *added_id;
    uint8_t *added_flags; /* BT_BPE_LSTRIP | BT_BPE_RSTRIP */
    char *buf;            /* " " + a split, for the prefix space */
    size_t buf_cap;
} bt_tj;

/* Reads dir/tokenizer.json into *kind (BT_TOK_WORDPIECE or BT_TOK_BPE) and wp or bpe; special
 * roles and model_max_length also come from tokenizer_config.json / special_tokens_map.json. */
int bt_tj_load(const char *dir, int *kind, bt_wordpiece *wp, bt_bpe *bpe, bt_tj *tj, bt_error *err);
void bt_tj_free(bt_tj *tj);
int bt_tj_tokenize(bt_tj *tj, int kind, bt_wordpiece *wp, bt_bpe *bpe, const char *text, size_t len, int *ids,
                   int cap, int *n, bt_error *err);
/* Special tokens the template adds. */
int bt_tj_num_special(const bt_tj *tj, int pair);
/* ids/types of the template filled with a and b (b NULL: single); returns the length. */
int bt_tj_build(const bt_tj *tj, const int *a, int na, const int *b, int nb, int *ids, int *types);
/* The content of an added token of that id, NULL if none. */
const char *bt_tj_added_token(const bt_tj *tj, int id, size_t *len);

#endif
