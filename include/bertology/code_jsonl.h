/* code_jsonl: CodeSearchNet / CodeXGLUE code-to-text JSON lines, the input of CAT-probing
 * (--task code). One JSON object per line with "code" (the source text) and "language"; other
 * fields are ignored. */
#ifndef BERTOLOGY_CODE_JSONL_H
#define BERTOLOGY_CODE_JSONL_H

#include <stddef.h>
#include <stdint.h>

#include "bertology/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int skip_bad_lines;       /* skip (and count) bad lines instead of failing on the first */
    size_t max_examples;      /* 0 = all */
    size_t max_code_bytes;    /* a longer "code" is a bad line (0: no limit) */
    int n_languages;          /* the languages accepted (0: any) */
    const char *const *languages;
} bt_code_jsonl_opts;

#define BT_CODE_JSONL_MAX_LINE (1 << 24) /* bytes of one line: a longer one is a bad line */

typedef struct {
    size_t n;
    char **code;        /* [n] NUL-terminated (the code may hold "\u0000": use code_len) */
    size_t *code_len;   /* [n] bytes */
    char **language;    /* [n] as written */
    int64_t *line;      /* [n] 1-based line of the file */
    int64_t lines_read;
    size_t skipped;     /* bad lines skipped under skip_bad_lines (blank lines are not counted) */
    char first_skipped[BT_ERROR_MSG_MAX]; /* the message of the first skipped line, or "" */
} bt_code_jsonl;

/* Reads path. Errors (BT_EINPUT) say "FILE:LINE: what": not a JSON object, no "code" or
 * "language" string, invalid UTF-8 in the code, code longer than max_code_bytes, a language
 * not accepted, a line too long; a file without one example is an error. Blank lines are
 * skipped. out is empty (safe to free) on failure. */
int bt_code_jsonl_read(const char *path, const bt_code_jsonl_opts *opts, bt_code_jsonl *out, bt_error *err);
void bt_code_jsonl_free(bt_code_jsonl *c);

#ifdef __cplusplus
}
#endif
#endif
