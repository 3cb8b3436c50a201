/* The tokenizer kinds behind bt_tok (bertology/tokenizer.h), as the model families are behind
 * bt_arch_ops (src/model/config.c): each kind says whether a model directory holds its files,
 * loads its own state from them and implements the same operations on that state. tokenizer.c
 * keeps the table, in the order the kinds are tried, and what every kind shares (truncation,
 * the scratch buffers). A new kind is one bt_tok_ops and one row of that table. */
#ifndef BT_TOK_OPS_H
#define BT_TOK_OPS_H

#include <stddef.h>

#include "bertology/error.h"
#include "bertology/tokenizer.h"

typedef struct {
    size_t state_size; /* bytes of the kind's state (zeroed before load) */
    /* 1 when dir holds this kind's files (the first kind of the table that claims it loads). */
    int (*claims)(const char *dir);
    int (*load)(void *state, const char *dir, bt_error *err); /* frees what it made on failure */
    void (*free)(void *state);
    int (*kind)(const void *state);                            /* bt_tok_kind */
    const char *(*name)(const void *state);                    /* bt_tok_name */
    int (*vocab_size)(const void *state);
    long (*model_max_length)(const void *state);               /* 0 = not given */
    int (*special_id)(const void *state, int role);            /* role checked by the caller */
    int (*num_special)(const void *state, int pair);
    const char *(*id_to_token)(const void *state, int id, size_t *len);
    int (*token_to_id)(const void *state, const char *token, size_t len);
    /* bt_tok_tokenize: at most cap ids, no special tokens */
    int (*tokenize)(void *state, const char *text, size_t len, int *ids, int cap, int *n, bt_error *err);
    /* The model input of a (truncated) a and b (b NULL: one text) with the kind's special tokens
     * and token types (types may be NULL); returns its length. */
    int (*build)(const void *state, const int *a, int na, const int *b, int nb, int *ids, int *types);
} bt_tok_ops;

/* The kinds, in the order bt_tok_load tries them. */
extern const bt_tok_ops bt_tok_wordpiece_ops;  /* vocab.txt (wordpiece_load.c) */
extern const bt_tok_ops bt_tok_openai_bpe_ops; /* vocab.json + merges.txt of openai-gpt (openai_bpe.c) */
extern const bt_tok_ops bt_tok_byte_bpe_ops;   /* vocab.json + merges.txt (bpe_load.c) */
extern const bt_tok_ops bt_tok_json_ops;       /* tokenizer.json alone (tokjson.c) */

/* 1 when dir/name is a regular file. */
int bt_tok_has_file(const char *dir, const char *name);

/* The inputs of a model that adds nothing (GPT-2, OpenAI GPT): a then b, token types 0. */
int bt_tok_build_plain(const int *a, int na, const int *b, int nb, int *ids, int *types);

#endif
