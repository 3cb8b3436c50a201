/* WordPiece against llama.cpp's tokenizer test vectors for BAAI/bge-small-en-v1.5
 * (data/vocab/gguf/ggml-vocab-bert-bge.gguf.inp/.out, made with transformers' tokenizer,
 * add_special_tokens=False). The vocabulary is read from the GGUF file itself, which is also
 * shown to equal bert-base-uncased's vocab.txt token for token.
 *
 * llama.cpp's converter stores WordPiece vocabularies in "phantom space" form: "[...]" tokens
 * as they are, a word-initial token t as U+2581 + t, a continuation "##t" as t. The test
 * undoes that to get vocab.txt back. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/tokenizer.h"
#include "gguf_util.h"
#include "testutil.h"

typedef struct {
    const char **tok;
    size_t *len;
    int n;
    char model[16];
    int unk, cls, sep;
} gguf_vocab;

static int key_is(const char *k, size_t kl, const char *want) {
    return kl == strlen(want) && !memcmp(k, want, kl);
}

/* Header: magic "GGUF", version, tensor count, key/value count; then the key/value pairs. */
static void gguf_read_vocab(const uint8_t *data, size_t n, gguf_vocab *v) {
    memset(v, 0, sizeof *v);
    v->unk = v->cls = v->sep = -1;
    cursor c = {data, n, 0};
    ck_assert(n >= 4 && !memcmp(data, "GGUF", 4));
    c.at = 4;
    uint32_t version = (uint32_t)rd(&c, 4);
    ck_assert_msg(version == 2 || version == 3, "GGUF version %u", version);
    rd(&c, 8); /* tensors */
    uint64_t n_kv = rd(&c, 8);
    for (uint64_t i = 0; i < n_kv; i++) {
        size_t kl;
        const char *k = rd_str(&c, &kl);
        uint32_t type = (uint32_t)rd(&c, 4);
        if (key_is(k, kl, "tokenizer.ggml.tokens")) {
            ck_assert_int_eq(type, G_ARR);
            ck_assert_int_eq((int)rd(&c, 4), G_STR);
            uint64_t count = rd(&c, 8);
            ck_assert(count > 0 && count < (1u << 24));
            v->n = (int)count;
            v->tok = malloc(count * sizeof *v->tok);
            v->len = malloc(count * sizeof *v->len);
            for (uint64_t j = 0; j < count; j++) v->tok[j] = rd_str(&c, &v->len[j]);
        } else if (key_is(k, kl, "tokenizer.ggml.model") && type == G_STR) {
            size_t ml;
            const char *m = rd_str(&c, &ml);
            snprintf(v->model, sizeof v->model, "%.*s", (int)ml, m);
        } else if (key_is(k, kl, "tokenizer.ggml.unknown_token_id") && type == G_U32) {
            v->unk = (int)rd(&c, 4);
        } else if (key_is(k, kl, "tokenizer.ggml.cls_token_id") && type == G_U32) {
            v->cls = (int)rd(&c, 4);
        } else if (key_is(k, kl, "tokenizer.ggml.seperator_token_id") && type == G_U32) {
            v->sep = (int)rd(&c, 4);
        } else {
            skip_value(&c, type);
        }
    }
    ck_assert_msg(v->n > 0, "GGUF has no tokenizer.ggml.tokens");
}

/* Undoes llama.cpp's phantom-space form into buf; returns the WordPiece token length. */
static size_t unphantom(const char *t, size_t len, char *buf) {
    if (len >= 2 && t[0] == '[' && t[len - 1] == ']') {
        memcpy(buf, t, len);
        return len;
    }
    if (len >= 3 && !memcmp(t, "\xe2\x96\x81", 3)) {
        memcpy(buf, t + 3, len - 3);
        return len - 3;
    }
    memcpy(buf, "##", 2);
    memcpy(buf + 2, t, len);
    return len + 2;
}

static char g_model[256];
static char *g_gguf, *g_txt;
static gguf_vocab g_vocab;

static void setup(void) {
    char path[1024];
    size_t n;
    snprintf(path, sizeof path, "%s/vocab/gguf/ggml-vocab-bert-bge.gguf", tu_data_dir());
    g_gguf = read_all(path, &n);
    gguf_read_vocab((const uint8_t *)g_gguf, n, &g_vocab);
    /* vocab.txt from the GGUF token list, one WordPiece token per line; the tokens then
     * point into this text */
    size_t total = 0;
    for (int i = 0; i < g_vocab.n; i++) {
        ck_assert_msg(!memchr(g_vocab.tok[i], '\n', g_vocab.len[i]), "token %d has a newline", i);
        total += g_vocab.len[i] + 3;
    }
    g_txt = malloc(total);
    char *p = g_txt;
    for (int i = 0; i < g_vocab.n; i++) {
        size_t len = unphantom(g_vocab.tok[i], g_vocab.len[i], p);
        g_vocab.tok[i] = p;
        g_vocab.len[i] = len;
        p += len;
        *p++ = '\n';
    }
    snprintf(g_model, sizeof g_model, "%s", tu_tmpdir());
    tu_write_file(g_model, "vocab.txt", g_txt, (size_t)(p - g_txt));
}

static void teardown(void) {
    free(g_vocab.tok);
    free(g_vocab.len);
    free(g_gguf);
    free(g_txt);
}

START_TEST(gguf_vocab_is_bert_base_uncased) {
    ck_assert_str_eq(g_vocab.model, "bert");
    char path[1024];
    size_t n;
    snprintf(path, sizeof path, "%s/vocab/bert-base-uncased/vocab.txt", tu_data_dir());
    char *v = read_all(path, &n);
    int line = 0;
    for (char *p = v; p < v + n; line++) {
        char *nl = memchr(p, '\n', (size_t)(v + n - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(v + n - p);
        ck_assert_int_lt(line, g_vocab.n);
        ck_assert_msg(len == g_vocab.len[line] && !memcmp(p, g_vocab.tok[line], len),
                      "token %d differs", line);
        p += len + 1;
    }
    ck_assert_int_eq(line, g_vocab.n);
    ck_assert_int_eq(line, 30522);
    free(v);
}
END_TEST

START_TEST(llama_cpp_vectors) {
    bt_tok *tok;
    bt_error err = {0};
    ck_assert_msg(bt_tok_load(g_model, &tok, &err) == BT_OK, "%s", err.msg);
    ck_assert_int_eq(bt_tok_special_id(tok, BT_TOK_UNK), g_vocab.unk);
    ck_assert_int_eq(bt_tok_special_id(tok, BT_TOK_CLS), g_vocab.cls);
    ck_assert_int_eq(bt_tok_special_id(tok, BT_TOK_SEP), g_vocab.sep);

    char path[1024];
    size_t n_inp, n_out;
    snprintf(path, sizeof path, "%s/vocab/gguf/ggml-vocab-bert-bge.gguf.inp",
             tu_data_dir());
    char *inp = read_all(path, &n_inp);
    snprintf(path, sizeof path, "%s/vocab/gguf/ggml-vocab-bert-bge.gguf.out",
             tu_data_dir());
    char *out = read_all(path, &n_out);

    /* Inputs are separated by "\n__ggml_vocab_test__\n" (which also ends the file); the
     * expected ids are one line each, without [CLS]/[SEP]. */
    const char *marker = "\n__ggml_vocab_test__\n";
    const size_t ml = strlen(marker);
    char *p = inp, *q = out;
    int cases = 0, ids[1024];
    while (p < inp + n_inp) {
        char *m = strstr(p, marker);
        ck_assert_msg(m != NULL, "input %d has no end marker", cases);
        char *nl = strchr(q, '\n');
        ck_assert_msg(nl != NULL, "no expected line for input %d", cases);
        *nl = '\0';
        int n = -1;
        ck_assert_msg(bt_tok_tokenize(tok, p, (size_t)(m - p), ids, 1024, &n, &err) == BT_OK,
                      "input %d: %s", cases, err.msg);
        gguf_check_ids(q, ids, n, cases, p, (int)(m - p));
        cases++;
        p = m + ml;
        q = nl + 1;
    }
    ck_assert_int_eq(cases, 46);
    ck_assert_msg(q == out + n_out, "expected lines left over");
    free(inp);
    free(out);
    bt_tok_free(tok);
}
END_TEST

int main(void) {
    Suite *s = suite_create("wordpiece_gguf");
    TCase *tc = tcase_create("gguf");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, gguf_vocab_is_bert_base_uncased);
    tcase_add_test(tc, llama_cpp_vectors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
