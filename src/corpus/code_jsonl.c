/* CodeSearchNet JSON lines: one getline per line, cJSON for the object. */
#define _GNU_SOURCE /* memmem */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/code_jsonl.h"
#include "bertology/common.h"
#include "bertology/tokenizer.h" /* bt_tok_utf8_error */

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}

/* One line into (code, language); BT_EINPUT with the reason (no file/line: the caller adds). */
static int parse_line(const char *s, size_t n, const bt_code_jsonl_opts *o, char **code, size_t *code_len,
                      char **lang, bt_error *err) {
    if (n > BT_CODE_JSONL_MAX_LINE) return bt_error_set(err, BT_EINPUT, "line of %zu bytes, more than %d", n, BT_CODE_JSONL_MAX_LINE);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return bt_error_set(err, BT_EINPUT, "not a JSON object");
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "code");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(root, "language");
    int rc = BT_OK;
    if (!cJSON_IsString(c))
        rc = bt_error_set(err, BT_EINPUT, "no \"code\" string");
    else if (!cJSON_IsString(l))
        rc = bt_error_set(err, BT_EINPUT, "no \"language\" string");
    if (rc) {
        cJSON_Delete(root);
        return rc;
    }
    /* cJSON ends a string at an escaped NUL: refuse it rather than score the code cut there */
    const size_t cl = strlen(c->valuestring);
    size_t bad;
    if (memmem(s, n, "\\u0000", 6))
        rc = bt_error_set(err, BT_EINPUT, "a NUL character (\\u0000) in the line");
    else if (o->max_code_bytes && cl > o->max_code_bytes)
        rc = bt_error_set(err, BT_EINPUT, "code of %zu bytes, more than the limit of %zu", cl, o->max_code_bytes);
    else if ((bad = bt_tok_utf8_error(c->valuestring, cl)) != cl)
        rc = bt_error_set(err, BT_EINPUT, "invalid UTF-8 at byte %zu of the code", bad);
    if (!rc && o->n_languages) {
        int ok = 0;
        for (int k = 0; k < o->n_languages; k++) ok |= !strcmp(o->languages[k], l->valuestring);
        if (!ok) {
            char known[256] = "";
            for (int k = 0; k < o->n_languages; k++) {
                strncat(known, k ? ", " : "", sizeof known - strlen(known) - 1);
                strncat(known, o->languages[k], sizeof known - strlen(known) - 1);
            }
            rc = bt_error_set(err, BT_EINPUT, "language \"%.64s\" has no grammar (known: %s)", l->valuestring, known);
        }
    }
    if (!rc) {
        *code = bt_malloc(cl + 1, 1, "the code", err);
        *lang = *code ? bt_malloc(strlen(l->valuestring) + 1, 1, "the language", err) : NULL;
        if (!*lang) {
            free(*code);
            *code = NULL;
            rc = BT_EINTERNAL;
        } else {
            memcpy(*code, c->valuestring, cl + 1);
            strcpy(*lang, l->valuestring);
            *code_len = cl;
        }
    }
    cJSON_Delete(root);
    return rc;
}

static int push(bt_code_jsonl *out, size_t *cap, char *code, size_t len, char *lang, int64_t line, bt_error *err) {
    if (out->n == *cap) {
        size_t c1 = *cap, c2 = *cap, c3 = *cap, c4 = *cap;
        if (bt_grow((void **)&out->code, &c1, out->n + 1, sizeof *out->code, "the examples", err) ||
            bt_grow((void **)&out->code_len, &c2, out->n + 1, sizeof *out->code_len, "the examples", err) ||
            bt_grow((void **)&out->language, &c3, out->n + 1, sizeof *out->language, "the examples", err) ||
            bt_grow((void **)&out->line, &c4, out->n + 1, sizeof *out->line, "the examples", err))
            return BT_EINTERNAL;
        *cap = c1;
    }
    out->code[out->n] = code, out->code_len[out->n] = len, out->language[out->n] = lang, out->line[out->n] = line;
    out->n++;
    return BT_OK;
}

int bt_code_jsonl_read(const char *path, const bt_code_jsonl_opts *opts, bt_code_jsonl *out, bt_error *err) {
    static const bt_code_jsonl_opts strict = {0};
    const bt_code_jsonl_opts *o = opts ? opts : &strict;
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp) return bt_error_set(err, BT_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t buf_cap = 0, cap = 0;
    ssize_t got;
    int rc = BT_OK;
    while (!rc && (!o->max_examples || out->n < o->max_examples) && (got = getline(&buf, &buf_cap, fp)) >= 0) {
        out->lines_read++;
        if (blank(buf, (size_t)got)) continue;
        char *code = NULL, *lang = NULL;
        size_t len = 0;
        bt_error line_err = {0};
        rc = parse_line(buf, (size_t)got, o, &code, &len, &lang, &line_err);
        if (rc == BT_EINPUT && o->skip_bad_lines) {
            if (!out->skipped)
                snprintf(out->first_skipped, sizeof out->first_skipped, "%.200s:%lld: %.700s", path,
                         (long long)out->lines_read, line_err.msg);
            out->skipped++;
            rc = BT_OK;
            continue;
        }
        if (rc) {
            bt_error_set(err, rc, "%s:%lld: %s", path, (long long)out->lines_read, line_err.msg);
            break;
        }
        if ((rc = push(out, &cap, code, len, lang, out->lines_read, err))) {
            free(code), free(lang);
            break;
        }
    }
    if (!rc && ferror(fp)) rc = bt_error_set(err, BT_EINPUT, "%s: read error: %s", path, strerror(errno));
    free(buf);
    fclose(fp);
    if (!rc && out->n == 0) rc = bt_error_set(err, BT_EINPUT, "%s: no example (%lld lines, %zu skipped)", path,
                                              (long long)out->lines_read, out->skipped);
    if (rc) bt_code_jsonl_free(out);
    return rc;
}

void bt_code_jsonl_free(bt_code_jsonl *c) {
    for (size_t i = 0; i < c->n; i++) free(c->code[i]), free(c->language[i]);
    free(c->code), free(c->code_len), free(c->language), free(c->line);
    memset(c, 0, sizeof *c);
}
