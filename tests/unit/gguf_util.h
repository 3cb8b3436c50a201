/* Reading llama.cpp's GGUF tokenizer fixtures in tests: a bounds-checked little-endian cursor
 * whose failures are Check assertions. Header-only: each GGUF test includes it. */
#ifndef BT_TEST_GGUF_H
#define BT_TEST_GGUF_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert(fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* A bounds-checked little-endian reader over the GGUF bytes. */
typedef struct {
    const uint8_t *p;
    size_t n, at;
} cursor;

static uint64_t rd(cursor *c, int bytes) {
    ck_assert_msg(c->at + (size_t)bytes <= c->n, "GGUF truncated at byte %zu", c->at);
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)c->p[c->at + (size_t)i] << (8 * i);
    c->at += (size_t)bytes;
    return v;
}

static const char *rd_str(cursor *c, size_t *len) {
    uint64_t n = rd(c, 8);
    ck_assert_msg(n <= c->n - c->at, "GGUF string runs past the end at byte %zu", c->at);
    const char *s = (const char *)c->p + c->at;
    c->at += (size_t)n;
    *len = (size_t)n;
    return s;
}

enum { G_U8, G_I8, G_U16, G_I16, G_U32, G_I32, G_F32, G_BOOL, G_STR, G_ARR, G_U64, G_I64, G_F64 };

static void skip_value(cursor *c, uint32_t type) {
    static const int size[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    ck_assert_msg(type <= G_F64, "GGUF value type %u", type);
    size_t len;
    if (type == G_STR) {
        rd_str(c, &len);
    } else if (type == G_ARR) {
        uint32_t et = (uint32_t)rd(c, 4);
        uint64_t n = rd(c, 8);
        for (uint64_t i = 0; i < n; i++) skip_value(c, et);
    } else {
        rd(c, size[type]);
    }
}

/* Compares ids[0..n) with the space-separated expected ids of one .out line. */
static void gguf_check_ids(const char *line, const int *ids, int n, int case_no, const char *text, int text_len) {
    int k = 0;
    for (const char *s = line; *s;) {
        char *e;
        const long want = strtol(s, &e, 10);
        if (e == s) break;
        ck_assert_msg(k < n, "input %d ('%.*s'): %d ids, want more", case_no, text_len, text, n);
        ck_assert_msg(ids[k] == want, "input %d ('%.*s'): id %d is %d, want %ld", case_no, text_len, text, k,
                      ids[k], want);
        k++;
        s = e;
    }
    ck_assert_msg(k == n, "input %d ('%.*s'): %d ids, want %d", case_no, text_len, text, n, k);
}

#endif
