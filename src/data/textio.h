/* Reading text files and checking UTF-8, shared by the tokenizers' loaders and hot paths. */
#ifndef BT_DATA_TEXTIO_H
#define BT_DATA_TEXTIO_H

#include <stddef.h>

#include "bertology/common.h" /* bt_read_file */
#include "bertology/error.h"

typedef struct cJSON cJSON;

/* dir/name parsed as a JSON object into *root (the caller cJSON_Deletes it); path (pcap bytes)
 * receives the file's name for later messages. optional: a missing file is BT_OK with *root
 * NULL. Errors name the file, and the byte for invalid JSON. */
int bt_text_read_json(const char *dir, const char *name, int optional, cJSON **root, char *path, size_t pcap,
                      bt_error *err);

/* Byte offset of the first invalid UTF-8 sequence in s, or len when it is all valid. */
size_t bt_text_utf8_error(const char *s, size_t len);

#endif
