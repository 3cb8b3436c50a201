/* OpenAI GPT's tokenizer (model_type "openai-gpt") as transformers' OpenAIGPTTokenizer runs
 * it without ftfy/spacy: the text lowercased, BERT's BasicTokenizer(do_lower_case=True)
 * (clean-up, CJK split, lowercase, strip accents, punctuation split), then on each word a BPE
 * over its characters whose last symbol carries the word end "</w>", with vocab.json and the
 * merge ranks of merges.txt. Public entry: bertology/tokenizer.h (docs/model_files.md). */
#ifndef BT_TOK_OPENAI_BPE_H
#define BT_TOK_OPENAI_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "bertology/error.h"
#include "bpe.h" /* bt_bpe_cand and its heap */
#include "wordpiece.h"

typedef struct {
    uint64_t key; /* ((uint64_t)left << 32 | right) + 1 over symbol ids; 0 = empty */
    int32_t rank, id;
} bt_openai_merge;

typedef bt_bpe_cand bt_openai_cand; /* the same heap entry as the byte-level BPE's */

typedef struct {
    bt_wp_table vocab; /* vocab.json strings in file order */
    int *entry_id;     /* [vocab.n] id of each string */
    int *id_entry;     /* [n_ids] index in vocab of id, -1 when no string has that id */
    int n_ids;         /* 1 + the largest id */
    bt_wp_table sym;   /* every string a merge names or makes */
    bt_openai_merge *merge;
    size_t n_slots;
    int n_merges;
    char vocab_path[1100]; /* for messages */
    char unk_token[64];
    int unk;           /* id of unk_token, -1 when vocab.json lacks it */
    long model_max_length;
    bt_wordpiece basic; /* BasicTokenizer settings; its word_fn is the BPE below */

    /* Scratch, grown to the longest word seen. */
    int32_t *sid, *next, *prev, *beg, *end;
    size_t node_cap;
    bt_openai_cand *heap, *batch;
    size_t heap_cap;
    uint8_t *u8;
    size_t u8_cap;
    int failed; /* 1 = out of memory, 2 = a symbol without an id and no unk */
    char missing[64];
} bt_openai_bpe;

/* 1 when dir's tokenizer is OpenAI GPT's: tokenizer_config.json's tokenizer_class is
 * OpenAIGPTTokenizer(Fast), or it names none and config.json's model_type is openai-gpt. */
int bt_openai_bpe_detect(const char *dir);
int bt_openai_bpe_load(const char *dir, bt_openai_bpe *g, bt_error *err);
void bt_openai_bpe_free(bt_openai_bpe *g);
/* See bt_tok_tokenize. */
int bt_openai_bpe_tokenize(bt_openai_bpe *g, const char *text, size_t len, int *ids, int cap, int *n, bt_error *err);
const char *bt_openai_bpe_id_to_token(const bt_openai_bpe *g, int id, size_t *len);
int bt_openai_bpe_token_to_id(const bt_openai_bpe *g, const char *token, size_t len);

#endif
