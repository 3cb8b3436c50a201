/* added_tokens.json of the classic tokenizer layout: {"token": id, ...}, the tokens
 * tokenizer.add_tokens() gave ids after the vocabulary's. Shared by both classic loaders. */
#ifndef BT_TOK_ADDED_TOKENS_H
#define BT_TOK_ADDED_TOKENS_H

#include "bertology/error.h"

/* Called once per token, in id order; path names the file for messages. */
typedef int (*bt_added_fn)(void *ctx, const char *token, int id, const char *path, bt_error *err);

/* Reads dir/added_tokens.json if it exists (absent: BT_OK, fn never called). */
int bt_added_tokens_read(const char *dir, bt_added_fn fn, void *ctx, bt_error *err);

#endif
