/* Reading text files and checking UTF-8, shared by the tokenizers' loaders and hot paths. */
#ifndef BT_DATA_TEXTIO_H
#define BT_DATA_TEXTIO_H

#include <stddef.h>

#include "bertology/common.h" /* bt_read_file */
#include "bertology/error.h"

/* Byte offset of the first invalid UTF-8 sequence in s, or len when it is all valid. */
size_t bt_text_utf8_error(const char *s, size_t len);

#endif
