/* Reading the tokenizers' JSON files; their UTF-8 check (textio.c) is public: bt_tok_utf8_error. */
#ifndef BT_TOK_TEXTIO_H
#define BT_TOK_TEXTIO_H

#include <stddef.h>

#include "bertology/common.h" /* bt_read_file */
#include "bertology/error.h"
#include "bertology/tokenizer.h" /* bt_tok_utf8_error */

typedef struct cJSON cJSON;

/* dir/name parsed as a JSON object into *root (the caller cJSON_Deletes it); path (pcap bytes)
 * receives the file's name for later messages. optional: a missing file is BT_OK with *root
 * NULL. Errors name the file, and the byte for invalid JSON. */
int bt_text_read_json(const char *dir, const char *name, int optional, cJSON **root, char *path, size_t pcap,
                      bt_error *err);

#endif
