/* GLUE TSV reader: one pass over the file with getline, fields split on tabs only, the used
 * texts copied into one arena sized from the file (an upper bound, so it never moves and the
 * examples can point into it while reading). Files with many unused columns (MNLI's parse
 * trees) leave most of that bound untouched; the arena is then shrunk to fit. */
#define _GNU_SOURCE /* strtod_l, newlocale: scores parse the same whatever LC_NUMERIC says */
#include "bertology/common.h"
#include "bertology/glue.h"
#include "bertology/tokenizer.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Field starts/ends we remember per row: every GLUE column we use is below 10. */
#define MAX_TRACKED 16

typedef struct {
    const char *s;
    size_t len;
} field;

typedef struct {
    const bt_glue_task *task;
    const bt_glue_layout *lay;
    const char *path;
    int64_t line;
    int ncols; /* expected fields per data row */
    locale_t c_locale;
    char *arena;
    size_t arena_cap, arena_used;
} reader;

/* Byte offset (0-based) of the first invalid UTF-8 sequence, or -1 if s is valid: what the
 * tokenizers would refuse, found here so that the message names the line. */
static ptrdiff_t utf8_invalid_at(const char *s, size_t len) {
    const size_t bad = bt_tok_utf8_error(s, len);
    return bad < len ? (ptrdiff_t)bad : -1;
}

/* Splits line into fields; fills f[0..MAX_TRACKED) and *last; returns the field count. */
static int split_tabs(const char *line, size_t len, field *f, field *last) {
    int n = 0;
    const char *s = line, *end = line + len;
    for (;;) {
        const char *tab = memchr(s, '\t', (size_t)(end - s));
        const char *e = tab ? tab : end;
        if (n < MAX_TRACKED) f[n] = (field){s, (size_t)(e - s)};
        *last = (field){s, (size_t)(e - s)};
        n++;
        if (!tab) return n;
        s = tab + 1;
    }
}

static const char *arena_put(reader *r, field f) {
    char *dst = r->arena + r->arena_used;
    memcpy(dst, f.s, f.len);
    dst[f.len] = '\0';
    r->arena_used += f.len + 1;
    return dst;
}

/* A field as it may appear in a one-line message: at most 40 bytes, control bytes as '?'. */
static const char *shown(field f, char buf[48]) {
    size_t n = f.len < 40 ? f.len : 40;
    while (n < f.len && n > 0 && ((unsigned char)f.s[n] & 0xC0) == 0x80) n--; /* whole chars */
    for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)f.s[i] < 0x20 ? '?' : f.s[i];
    memcpy(buf + n, n < f.len ? "..." : "", n < f.len ? 4 : 1);
    return buf;
}

static field pick(const field *f, field last, int col) {
    return col == BT_GLUE_LAST_COL ? last : f[col];
}

/* Parses one data row into ex; a BT_EINPUT return means "bad row" (skippable). */
static int parse_row(reader *r, const char *line, size_t len, bt_glue_example *ex, bt_error *err) {
    const bt_glue_layout *lay = r->lay;
    ptrdiff_t bad = utf8_invalid_at(line, len);
    if (bad >= 0)
        return bt_error_set(err, BT_EINPUT, "%s:%" PRId64 ": invalid UTF-8 at byte %td of the line",
                            r->path, r->line, bad + 1);
    field f[MAX_TRACKED], last;
    int n = split_tabs(line, len, f, &last);
    if (n != r->ncols)
        return bt_error_set(err, BT_EINPUT,
                            "%s:%" PRId64 ": expected %d tab-separated fields (task %s), found %d%s",
                            r->path, r->line, r->ncols, r->task->name, n,
                            len == 0 ? " (blank line)" : "");

    ex->line = r->line;
    ex->label = -1;
    ex->target = NAN;
    if (lay->col_label != BT_GLUE_NO_COL) {
        field lf = pick(f, last, lay->col_label);
        char show[48];
        if (r->task->is_regression) {
            /* strtod needs a terminated string; scores are short, anything long is bad anyway */
            char buf[64];
            char *end = NULL;
            double v = NAN;
            if (lf.len > 0 && lf.len < sizeof buf) {
                memcpy(buf, lf.s, lf.len);
                buf[lf.len] = '\0';
                v = strtod_l(buf, &end, r->c_locale);
            }
            if (!end || *end != '\0' || !(fabs(v) <= FLT_MAX)) /* targets are float32, as HF's */
                return bt_error_set(err, BT_EINPUT,
                                    "%s:%" PRId64 ": score '%s' (field %d) is not a finite number",
                                    r->path, r->line, shown(lf, show),
                                    lay->col_label == BT_GLUE_LAST_COL ? n : lay->col_label + 1);
            ex->target = (float)v;
        } else {
            int id = -1;
            for (int k = 0; k < r->task->num_labels; k++) {
                const char *name = r->task->labels[k];
                if (strlen(name) == lf.len && memcmp(name, lf.s, lf.len) == 0) {
                    id = k;
                    break;
                }
            }
            if (id < 0) {
                char known[128];
                size_t kk = 0;
                known[0] = '\0';
                for (int k = 0; k < r->task->num_labels && kk < sizeof known; k++)
                    kk += (size_t)snprintf(known + kk, sizeof known - kk, "%s'%s'", k ? ", " : "",
                                           r->task->labels[k]);
                return bt_error_set(err, BT_EINPUT,
                                    "%s:%" PRId64 ": label '%s' (field %d) is not one of %s "
                                    "(task %s)",
                                    r->path, r->line, shown(lf, show),
                                    lay->col_label == BT_GLUE_LAST_COL ? n : lay->col_label + 1,
                                    known, r->task->name);
            }
            ex->label = id;
        }
    }
    /* Copy only after every check so that a skipped row leaves nothing in the arena. The bound
     * holds because each kept field is followed by a tab or newline in the file (or is the
     * file's last byte): the arena has file size + 1 bytes. A file that grew while we read it
     * could break that, hence the check. */
    field a = f[lay->col_a];
    field b = lay->col_b != BT_GLUE_NO_COL ? f[lay->col_b] : (field){NULL, 0};
    size_t need = a.len + 1 + (b.s ? b.len + 1 : 0);
    if (r->arena_used + need > r->arena_cap)
        return bt_error_set(err, BT_EINTERNAL, "%s:%" PRId64 ": file grew while being read",
                            r->path, r->line);
    ex->text_a = arena_put(r, a);
    ex->text_b = b.s ? arena_put(r, b) : NULL;
    return BT_OK;
}

/* The header fixes the row width (MNLI's differs between train and dev). */
static int parse_header(reader *r, const char *line, size_t len, bt_error *err) {
    field f[MAX_TRACKED], last;
    int n = split_tabs(line, len, f, &last);
    const bt_glue_layout *lay = r->lay;
    if (lay->ncols ? n != lay->ncols : n < lay->min_cols) {
        return bt_error_set(err, BT_EINPUT,
                            "%s:%" PRId64 ": header has %d tab-separated fields, task %s expects "
                            "%s%d in a%s file",
                            r->path, r->line, n, r->task->name, lay->ncols ? "" : "at least ",
                            lay->ncols ? lay->ncols : lay->min_cols,
                            lay->col_label == BT_GLUE_NO_COL ? "n unlabelled (test)" : " labelled");
    }
    r->ncols = n;
    return BT_OK;
}

/* Texts sit in the arena in example order (text_a, then text_b), so after a realloc the
 * pointers are rebuilt by walking it; NUL bytes are rejected on input, so strlen is exact. */
static void shrink_arena(reader *r, bt_glue_example *ex, size_t n) {
    char *small = bt_realloc(r->arena, r->arena_used, 1, "the texts", NULL);
    if (!small) return; /* keeping the larger block is fine */
    r->arena = small;
    r->arena_cap = r->arena_used;
    const char *p = small;
    for (size_t i = 0; i < n; i++) {
        ex[i].text_a = p;
        p += strlen(p) + 1;
        if (ex[i].text_b) {
            ex[i].text_b = p;
            p += strlen(p) + 1;
        }
    }
}

void bt_glue_examples_free(bt_glue_examples *ex) {
    if (!ex) return;
    free(ex->ex);
    free(ex->arena);
    memset(ex, 0, sizeof *ex);
}

int bt_glue_read_file(const bt_glue_task *task, const char *path, int labelled,
                      const bt_glue_read_opts *opts, bt_glue_examples *out, bt_error *err) {
    memset(out, 0, sizeof *out);
    if (!task || !path) return bt_error_set(err, BT_EINPUT, "bt_glue_read_file: no task or path");
    const bt_glue_read_opts strict = {0, 0};
    if (!opts) opts = &strict;

    FILE *fp = fopen(path, "rb");
    if (!fp) return bt_error_set(err, BT_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return bt_error_set(err, BT_EINPUT, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        fclose(fp);
        return bt_error_set(err, BT_EINPUT, "%s: empty file", path);
    }

    reader r = {.task = task,
                .lay = labelled ? &task->labelled : &task->test,
                .path = path,
                .ncols = labelled ? task->labelled.ncols : task->test.ncols};
    r.c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    r.arena_cap = (size_t)st.st_size + 1;
    r.arena = bt_malloc(r.arena_cap, 1, "the texts", NULL);
    size_t cap = 1024;
    bt_glue_example *ex = bt_malloc(cap, sizeof *ex, "the examples", NULL);
    char *line = NULL;
    size_t line_cap = 0;
    int rc = BT_OK;
    if (!r.c_locale || !r.arena || !ex) {
        rc = bt_error_set(err, BT_EINTERNAL, "%s: out of memory", path);
        goto done;
    }

    size_t n = 0;
    ssize_t got;
    errno = 0;
    while ((opts->max_examples == 0 || n < opts->max_examples) &&
           (got = getline(&line, &line_cap, fp)) >= 0) {
        size_t len = (size_t)got;
        r.line++;
        if (len && line[len - 1] == '\n') len--;
        if (len && line[len - 1] == '\r') len--;
        char *s = line;
        if (r.line == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3, len -= 3;
        if (r.line == 1 && len == 0 && feof(fp)) {
            rc = bt_error_set(err, BT_EINPUT, "%s: empty file", path);
            goto done;
        }
        if (len > (size_t)BT_GLUE_MAX_LINE) {
            rc = bt_error_set(err, BT_EINPUT, "%s:%" PRId64 ": line of %zu bytes, longer than the %zu allowed", path,
                              r.line, len, (size_t)BT_GLUE_MAX_LINE);
            if (r.line == 1 && r.lay->header) goto done;
            if (opts->skip_bad_lines) {
                if (out->skipped++ == 0) memcpy(out->first_skipped, err->msg, sizeof err->msg);
                rc = BT_OK;
                continue;
            }
            goto done;
        }
        /* A NUL would silently cut the text short for every C consumer downstream. */
        const char *nul = memchr(s, '\0', len);
        if (r.line == 1 && r.lay->header) {
            ptrdiff_t bad = utf8_invalid_at(s, len);
            if (nul || bad >= 0) {
                rc = bt_error_set(err, BT_EINPUT, "%s:1: %s at byte %td of the header", path,
                                  nul ? "NUL byte" : "invalid UTF-8", (nul ? nul - s : bad) + 1);
                goto done;
            }
            if ((rc = parse_header(&r, s, len, err))) goto done;
            continue;
        }
        if (n == cap) {
            bt_glue_example *grown = bt_realloc(ex, 2 * cap, sizeof *ex, "the examples", NULL);
            if (!grown) {
                rc = bt_error_set(err, BT_EINTERNAL, "%s:%" PRId64 ": out of memory", path, r.line);
                goto done;
            }
            ex = grown, cap *= 2;
        }
        rc = nul ? bt_error_set(err, BT_EINPUT, "%s:%" PRId64 ": NUL byte at byte %td of the line",
                                path, r.line, nul - s + 1)
                 : parse_row(&r, s, len, &ex[n], err);
        if (rc == BT_EINPUT && opts->skip_bad_lines) {
            if (out->skipped++ == 0) memcpy(out->first_skipped, err->msg, sizeof err->msg);
            rc = BT_OK;
            continue;
        }
        if (rc) goto done;
        n++;
    }
    if (ferror(fp)) {
        rc = bt_error_set(err, BT_EINPUT, "%s:%" PRId64 ": read error: %s", path, r.line + 1,
                          strerror(errno));
        goto done;
    }
    if (n == 0) {
        if (out->skipped)
            rc = bt_error_set(err, BT_EINPUT, "%s: all %zu data rows are bad; first: %s", path,
                              out->skipped, out->first_skipped);
        else
            rc = bt_error_set(err, BT_EINPUT, "%s: no data rows", path);
        goto done;
    }
    if (r.arena_cap - r.arena_used > (1u << 20) && r.arena_used < r.arena_cap / 4 * 3)
        shrink_arena(&r, ex, n);
    out->task = task;
    out->ex = ex;
    out->n = n;
    out->labelled = labelled;
    snprintf(out->path, sizeof out->path, "%s", path);
    out->lines_read = r.line;
    out->arena = r.arena;
    out->arena_bytes = r.arena_used;
    ex = NULL, r.arena = NULL;

done:
    if (rc) memset(out, 0, sizeof *out);
    free(line);
    free(ex);
    free(r.arena);
    if (r.c_locale) freelocale(r.c_locale);
    fclose(fp);
    return rc;
}

int bt_glue_read(const bt_glue_task *task, const char *data_dir, const char *split,
                 const bt_glue_read_opts *opts, bt_glue_examples *out, bt_error *err) {
    memset(out, 0, sizeof *out);
    if (!task || !data_dir) return bt_error_set(err, BT_EINPUT, "bt_glue_read: no task or data dir");
    const char *file;
    int labelled;
    int rc = bt_glue_split_file(task, split, &file, &labelled, err);
    if (rc) return rc;
    char path[BT_GLUE_PATH_MAX], alt[BT_GLUE_PATH_MAX];
    int k1 = snprintf(path, sizeof path, "%s/%s", data_dir, file);
    int k2 = snprintf(alt, sizeof alt, "%s/%s/%s", data_dir, task->dir_name, file);
    if (k1 < 0 || (size_t)k1 >= sizeof path || k2 < 0 || (size_t)k2 >= sizeof alt)
        return bt_error_set(err, BT_EINPUT, "%.200s...: data path too long", data_dir);
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) {
        if (stat(alt, &st) == 0) return bt_glue_read_file(task, alt, labelled, opts, out, err);
        return bt_error_set(err, BT_EINPUT, "%s: no such file (nor %s) for task %s split %s", path,
                            alt, task->name, split);
    }
    return bt_glue_read_file(task, path, labelled, opts, out, err);
}
