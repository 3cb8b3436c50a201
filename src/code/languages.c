/* The grammars built in: generated parsers vendored under third_party/ (third_party/SOURCES.md). */
#include <string.h>

#include "bertology/code.h"
#include "code/code_internal.h"

const TSLanguage *tree_sitter_python(void);
const TSLanguage *tree_sitter_java(void);
const TSLanguage *tree_sitter_go(void);
const TSLanguage *tree_sitter_javascript(void);

static const struct {
    const char *name;
    const TSLanguage *(*language)(void);
} LANGS[BT_CODE_N_LANGS] = {
    {"python", tree_sitter_python},
    {"java", tree_sitter_java},
    {"go", tree_sitter_go},
    {"javascript", tree_sitter_javascript},
};

const char *bt_code_lang_name(int lang) {
    return lang >= 0 && lang < BT_CODE_N_LANGS ? LANGS[lang].name : NULL;
}

int bt_code_lang_find(const char *name) {
    for (int i = 0; name && i < BT_CODE_N_LANGS; i++)
        if (!strcmp(name, LANGS[i].name)) return i;
    return -1;
}

const TSLanguage *bt_code_ts_language(int lang) {
    return lang >= 0 && lang < BT_CODE_N_LANGS ? LANGS[lang].language() : NULL;
}
