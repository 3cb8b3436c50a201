/* Shared inside the code floor only. */
#ifndef BT_CODE_INTERNAL_H
#define BT_CODE_INTERNAL_H

#include <tree_sitter/api.h>

/* The tree-sitter language of a bt_code_lang_find index, NULL when out of range. */
const TSLanguage *bt_code_ts_language(int lang);

#endif
