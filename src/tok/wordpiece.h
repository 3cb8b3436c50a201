/* WordPiece internals: the vocabulary hash table, the configuration read from the model
 * directory, and the tokenizer with its scratch buffers. Public entry: bertology/tokenizer.h. */
#ifndef BT_TOK_WORDPIECE_H
#define BT_TOK_WORDPIECE_H

#include <stddef.h>
#include <stdint.h>

#include "bertology/error.h"
#include "bertology/tokenizer.h"

/* A string -> id table: strings live in one byte arena, ids are insertion order, lookups go
 * through an open-addressing hash. A string added twice keeps both ids; lookups return the
 * later one (as Python's dict assignment in transformers' load_vocab). */
typedef struct {
    char *bytes;          /* every string, NUL-terminated, in id order */
    size_t n_bytes, bytes_cap;
    size_t *off;          /* [n] offset of string id in bytes */
    int *len;             /* [n] byte length */
    int n, cap;
    int *slot;            /* [n_slots] id or -1 */
    uint32_t *slot_hash;  /* [n_slots] hash of the string in slot */
    size_t n_slots;       /* power of two, kept at least twice n */
    int max_len;          /* longest string in bytes */
    unsigned char first[256]; /* first[b] != 0: some string starts with byte b */
} bt_wp_table;

/* Returns the new id, or -1 when out of memory. */
int bt_wp_table_add(bt_wp_table *t, const char *s, size_t len);
/* Id of s, or -1. */
int bt_wp_table_find(const bt_wp_table *t, const char *s, size_t len);
/* Id of "##" followed by s (a WordPiece continuation), or -1. */
int bt_wp_table_find_cont(const bt_wp_table *t, const char *s, size_t len);
void bt_wp_table_free(bt_wp_table *t);

/* tokenizer_config.json / special_tokens_map.json settings, with transformers' defaults. */
typedef struct {
    int do_lower_case;          /* default 1 */
    int do_basic_tokenize;      /* default 1 */
    int tokenize_chinese_chars; /* default 1 */
    int strip_accents;          /* -1 = null (follow do_lower_case), 0, 1 */
    long model_max_length;      /* 0 = not given */
    char *special[BT_TOK_N_SPECIAL]; /* token strings by bt_tok_special role, NULL = none */
    char **never_split;         /* extra never-split strings */
    int n_never_split;
} bt_wp_config;

/* Fills cfg with the defaults, then applies dir/tokenizer_config.json and
 * dir/special_tokens_map.json when present. */
int bt_wp_config_read(const char *dir, bt_wp_config *cfg, bt_error *err);
void bt_wp_config_free(bt_wp_config *cfg);

/* Reads a vocab.txt (one token per line, id = line number) into an empty table. */
int bt_wp_vocab_read(const char *path, bt_wp_table *vocab, bt_error *err);

#define BT_WP_MAX_WORD_CHARS 100 /* longer words become [UNK] (max_input_chars_per_word) */

/* Replaces WordPiece on each word BasicTokenizer yields (OpenAI GPT's BPE, openai_bpe.c): writes
 * at most cap ids for the n code points of the word and returns how many it wrote (it records
 * its own failures in ctx). */
typedef int (*bt_wp_word_fn)(void *ctx, const int32_t *cp, size_t n, int *ids, int cap);

typedef struct {
    bt_wp_table vocab;
    bt_wp_table never;    /* config never_split: kept whole, looked up as is */
    bt_wp_table special;  /* special token strings: cut out of the raw text, kept whole */
    int do_lower, strip, chinese, basic;
    int special_id[BT_TOK_N_SPECIAL]; /* -1 when the model has none */
    long model_max_length;
    bt_wp_word_fn word_fn; /* NULL = WordPiece */
    /* tokenizer.json normalizers other than BertNormalizer (tokjson.c); 0 for the classic files:
     * no_clean keeps control characters and splits on Unicode White_Space only; nfd decomposes
     * each token (strip then also drops the Mn marks) */
    int no_clean, nfd;
    void *word_ctx;

    /* Scratch, grown to the longest whitespace-delimited token seen. */
    int32_t *cp;  size_t cp_cap;   /* code points of the current token */
    int32_t *cp2; size_t cp2_cap;  /* lowercased / decomposed code points */
    uint8_t *u8;  size_t u8_cap;   /* UTF-8 of a token, for utf8proc and lookups */
} bt_wordpiece;

int bt_wp_load(const char *dir, bt_wordpiece *wp, bt_error *err);
void bt_wp_free(bt_wordpiece *wp);
/* See bt_tok_tokenize. */
int bt_wp_tokenize(bt_wordpiece *wp, const char *text, size_t len, int *ids, int cap, int *n,
                   bt_error *err);

#endif
