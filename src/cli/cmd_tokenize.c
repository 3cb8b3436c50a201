/* bertology tokenize: token ids of lines read from stdin, one output line per input line.
 * With --bench FILE it times the tokenizer on a file instead and prints lines/s. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bertology/common.h"
#include "bertology/tokenizer.h"
#include "commands.h"
#include "run_opts.h"

/* Appends the decimal digits of v (v >= 0) to buf at *k. */
static void put_int(char *buf, size_t *k, int v) {
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) buf[(*k)++] = tmp[--n];
}

/* Splits a line into text a and text b at the first tab (pair mode). Returns the number of
 * tab-separated fields found. */
static int split_pair(char *line, size_t len, size_t *a_len, char **b, size_t *b_len) {
    char *tab = memchr(line, '\t', len);
    if (!tab) return 1;
    *a_len = (size_t)(tab - line);
    *b = tab + 1;
    *b_len = len - *a_len - 1;
    int fields = 2;
    for (char *p = *b; (p = memchr(p, '\t', (size_t)(line + len - p))); p++) fields++;
    return fields;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    long lines, tokens, bytes;
} bench_counts;

/* One timed tokenization of every line of data (first field; first two with pair). */
static int bench_pass(bt_tok *tok, const char *path, const char *data, size_t n_data, int pair, int skip_header,
                      int max_len, int *ids, bench_counts *c) {
    memset(c, 0, sizeof *c);
    size_t i = 0;
    long line_no = 0;
    while (i < n_data) {
        const char *nl = memchr(data + i, '\n', n_data - i);
        size_t len = nl ? (size_t)(nl - (data + i)) : n_data - i;
        const char *line = data + i;
        i += len + 1;
        line_no++;
        if (len && line[len - 1] == '\r') len--;
        if (skip_header && line_no == 1) continue;
        const char *tab = memchr(line, '\t', len);
        size_t a_len = tab ? (size_t)(tab - line) : len;
        const char *b = NULL;
        size_t b_len = 0;
        if (pair) {
            if (!tab) {
                fprintf(stderr, "bertology tokenize: %s:%ld: expected 2 tab-separated fields, found 1\n", path, line_no);
                return 2;
            }
            b = tab + 1;
            const char *tab2 = memchr(b, '\t', (size_t)(line + len - b));
            b_len = tab2 ? (size_t)(tab2 - b) : (size_t)(line + len - b);
        }
        bt_error err = {0};
        int n;
        if (bt_tok_encode_n(tok, line, a_len, b, b_len, max_len, ids, NULL, &n, &err)) {
            fprintf(stderr, "bertology tokenize: %s:%ld: %s\n", path, line_no, err.msg);
            return err.code;
        }
        c->lines++;
        c->tokens += n;
        c->bytes += (long)(a_len + b_len);
    }
    return 0;
}

static int bench(bt_tok *tok, const char *path, int pair, int skip_header, int max_len) {
    /* Load the lines first so that only tokenization is timed. */
    char *data = NULL;
    size_t n_data = 0;
    bt_error err = {0};
    if (bt_read_file(path, (size_t)1 << 34, &data, &n_data, &err)) {
        fprintf(stderr, "bertology tokenize: %s\n", err.msg);
        return err.code;
    }
    int *ids = bt_malloc((size_t)max_len, sizeof *ids, "the token ids", &err);
    if (!ids) {
        free(data);
        fprintf(stderr, "bertology tokenize: %s\n", err.msg);
        return 1;
    }
    double best = 1e30;
    bench_counts c = {0};
    int rc = 0;
    for (int rep = 0; rep < 3 && !rc; rep++) {
        const double t0 = now();
        rc = bench_pass(tok, path, data, n_data, pair, skip_header, max_len, ids, &c);
        const double dt = now() - t0;
        if (dt < best) best = dt;
    }
    if (!rc)
        printf("bench tokenize: file=%s lines=%ld tokens=%ld bytes=%ld seconds=%.4f "
               "lines/s=%.0f tokens/s=%.0f MB/s=%.2f\n",
               path, c.lines, c.tokens, c.bytes, best, c.lines / best, c.tokens / best, c.bytes / best / 1e6);
    free(ids);
    free(data);
    return rc;
}

/* The flags tokenize reads (its rows of the flag table, bertology/run.h). */
typedef bt_run_options tokenize_args;

/* "ids\n" or "ids\ttypes\n" into out; returns the length. */
static size_t format_line(char *out, const int *ids, const int *types, int n, int with_types) {
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        if (i) out[k++] = ' ';
        put_int(out, &k, ids[i]);
    }
    if (with_types) {
        out[k++] = '\t';
        for (int i = 0; i < n; i++) {
            if (i) out[k++] = ' ';
            put_int(out, &k, types[i]);
        }
    }
    out[k++] = '\n';
    return k;
}

/* Lines of stdin to token ids on stdout. */
static int tokenize_stdin(bt_tok *tok, const tokenize_args *t) {
    bt_error err = {0};
    int *ids = bt_malloc((size_t)t->max_seq_length, sizeof *ids, "the token ids", &err);
    int *types = bt_malloc((size_t)t->max_seq_length, sizeof *types, "the token types", &err);
    /* one output line: up to 11 digits + a separator per id, twice with --types */
    char *out = bt_malloc((size_t)t->max_seq_length * 24 + 4, 1, "an output line", &err);
    char *line = NULL;
    size_t line_cap = 0;
    int rc = 0;
    if (!ids || !types || !out) {
        fprintf(stderr, "bertology tokenize: %s\n", err.msg);
        rc = 1;
    }
    long line_no = 0;
    ssize_t got;
    while (!rc && (got = getline(&line, &line_cap, stdin)) >= 0) {
        size_t len = (size_t)got;
        line_no++;
        if (len && line[len - 1] == '\n') len--;
        if (len && line[len - 1] == '\r') len--;
        size_t a_len = len, b_len = 0;
        char *b = NULL;
        if (t->pair) {
            int fields = split_pair(line, len, &a_len, &b, &b_len);
            if (fields != 2) {
                fprintf(stderr, "bertology tokenize: <stdin>:%ld: expected 2 tab-separated fields, found %d\n", line_no,
                        fields);
                rc = 2;
                break;
            }
        }
        int n;
        if (bt_tok_encode_n(tok, line, a_len, b, b_len, t->max_seq_length, ids, types, &n, &err)) {
            fprintf(stderr, "bertology tokenize: <stdin>:%ld: %s\n", line_no, err.msg);
            rc = err.code;
            break;
        }
        const size_t k = format_line(out, ids, types, n, t->print_types);
        if (fwrite(out, 1, k, stdout) != k) break;
    }
    if (!rc && ferror(stdin)) {
        fprintf(stderr, "bertology tokenize: <stdin>: read error\n");
        rc = 1;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "bertology tokenize: <stdout>: write error\n");
        if (!rc) rc = 1;
    }
    free(line), free(out), free(ids), free(types);
    return rc;
}

int bt_cmd_tokenize(int argc, char **argv) {
    tokenize_args t;
    int rc = run_opts_parse(&t, BT_CMD_TOKENIZE, "tokenize", argc, argv, 0);
    if (rc) return rc < 0 ? 0 : rc;
    bt_error err = {0};
    bt_tok *tok;
    if (bt_tok_load(t.model, &tok, &err)) {
        run_fail(0, "tokenize", &err);
        return err.code;
    }
    rc = t.bench_file ? bench(tok, t.bench_file, t.pair, t.skip_header, t.max_seq_length) : tokenize_stdin(tok, &t);
    bt_tok_free(tok);
    return rc;
}
