/* Language-model text -> packed token windows (bt_dataset_from_text in bertology/dataset.h).
 *
 * One document per line, as the Python GPT-2 example and HF's "text" datasets read a corpus
 * (no line ending kept). A line longer than the window is cut into consecutive windows rather
 * than truncated, so every token of the corpus is scored; the last window of a line may be
 * short, and one of a single token has no next token to predict, so it is skipped. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/dataset.h"

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    return bt_grow(p, cap, need < 1024 ? 1024 : need, elem, "the windows", NULL) ? -1 : 0;
}

typedef struct {
    bt_dataset *d;
    size_t ex_cap, tok_cap;
} packer;

static int add_window(packer *pk, const int *ids, int n, int64_t line) {
    bt_dataset *d = pk->d;
    const size_t i = (size_t)d->n, at = (size_t)d->n_tokens;
    if (d->n == INT_MAX) return -1;
    if (i == pk->ex_cap) {
        const size_t c = i ? 2 * i : 1024;
        int *len = bt_realloc(d->len, c, sizeof *len, "the windows", NULL);
        if (!len) return -1;
        d->len = len;
        int64_t *off = bt_realloc(d->off, c, sizeof *off, "the windows", NULL);
        if (!off) return -1;
        d->off = off;
        int64_t *ln = bt_realloc(d->line, c, sizeof *ln, "the windows", NULL);
        if (!ln) return -1;
        d->line = ln;
        pk->ex_cap = c;
    }
    if (grow((void **)&d->ids, &pk->tok_cap, at + (size_t)n, sizeof *d->ids)) return -1;
    memcpy(d->ids + at, ids, (size_t)n * sizeof *ids);
    d->len[i] = n;
    d->off[i] = (int64_t)at;
    d->line[i] = line;
    d->n_tokens += n;
    d->n++;
    if (n > d->max_len) d->max_len = n;
    return 0;
}

int bt_dataset_from_text(const char *path, bt_tok *tok, int max_len, bt_dataset *d,
                         bt_lmtext_stats *stats, bt_error *err) {
    memset(d, 0, sizeof *d);
    bt_lmtext_stats st;
    memset(&st, 0, sizeof st);
    if (stats) *stats = st;
    if (max_len < 2)
        return bt_error_set(err, BT_EINPUT, "max length %d: a language-model window needs at "
                            "least 2 tokens", max_len);
    FILE *f = fopen(path, "rb");
    if (!f) return bt_error_set(err, BT_EINPUT, "%s: cannot open: %s", path, strerror(errno));

    packer pk = {d, 0, 0};
    char *line = NULL;
    size_t line_cap = 0, ids_cap = 0;
    int *ids = NULL;
    int rc = BT_OK;
    ssize_t got;
    while ((got = getline(&line, &line_cap, f)) >= 0) {
        size_t len = (size_t)got;
        st.lines++;
        if (len && line[len - 1] == '\n') len--;
        if (len && line[len - 1] == '\r') len--;
        if (len > BT_LMTEXT_MAX_LINE) {
            rc = bt_error_set(err, BT_EINPUT, "%s:%lld: line of %zu bytes, longer than the %d allowed (one "
                              "document per line)", path, (long long)st.lines, len, BT_LMTEXT_MAX_LINE);
            break;
        }
        /* A line of n bytes has at most n + 1 tokens (one per byte, plus a prefix space);
         * the loop only guards against a tokenizer that breaks that bound. */
        size_t cap = len + 2;
        int n = 0;
        for (;;) {
            if (cap > INT_MAX || grow((void **)&ids, &ids_cap, cap, sizeof *ids)) {
                rc = bt_error_set(err, BT_EINTERNAL, "%s:%lld: out of memory", path,
                                  (long long)st.lines);
                break;
            }
            if ((rc = bt_tok_tokenize(tok, line, len, ids, (int)cap, &n, err))) {
                bt_error_prefix(err, "%s:%lld", path, (long long)st.lines);
                break;
            }
            if ((size_t)n < cap) break;
            cap *= 2;
        }
        if (rc) break;
        if (n == 0) {
            st.empty_lines++;
            continue;
        }
        if (n > st.longest_line) st.longest_line = n;
        const int split = n > max_len;
        st.split_lines += split;
        for (int s = 0; s < n; s += max_len) {
            const int w = n - s < max_len ? n - s : max_len;
            if (w < 2) {
                st.short_windows++;
                continue;
            }
            if (add_window(&pk, ids + s, w, st.lines)) {
                rc = bt_error_set(err, BT_EINTERNAL, "%s:%lld: out of memory (or more than "
                                  "%d windows)", path, (long long)st.lines, INT_MAX);
                break;
            }
            st.split_windows += split;
        }
        if (rc) break;
    }
    /* getline's own errno: a directory opens fine and fails here with EISDIR */
    const int read_errno = errno;
    if (!rc && ferror(f))
        rc = bt_error_set(err, BT_EINPUT, "%s: read error after line %lld: %s", path,
                          (long long)st.lines, strerror(read_errno));
    fclose(f);
    free(line);
    free(ids);
    st.windows = d->n;
    st.tokens = d->n_tokens;
    if (!rc && d->n == 0)
        rc = bt_error_set(err, BT_EINPUT, "%s: no window of 2 or more tokens (%lld lines, %lld "
                          "empty, %lld of one token)", path, (long long)st.lines,
                          (long long)st.empty_lines, (long long)st.short_windows);
    /* token types are all 0 for a language model; allocated so that every dataset has them */
    if (!rc && !(d->types = bt_calloc((size_t)d->n_tokens, sizeof *d->types, "token types", err))) rc = BT_EINTERNAL;
    if (rc) {
        bt_dataset_free(d);
        return rc;
    }
    if (stats) *stats = st;
    return BT_OK;
}
