/* Byte-level BPE against llama.cpp's tokenizer test vectors for GPT-2
 * (data/vocab/gguf/ggml-vocab-gpt-2.gguf.inp/.out, made with transformers' GPT-2 tokenizer),
 * read with the real vocab.json + merges.txt of data/vocab/gpt2. The GGUF file's own token list
 * and merges are first shown to be exactly those two files, so that the vectors apply. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/tokenizer.h"
#include "gguf_util.h"
#include "testutil.h"

typedef struct {
    const char **s;
    size_t *len;
    int n;
} str_list;

static void rd_str_array(cursor *c, uint32_t type, str_list *l) {
    ck_assert_int_eq(type, G_ARR);
    ck_assert_int_eq((int)rd(c, 4), G_STR);
    uint64_t count = rd(c, 8);
    ck_assert(count > 0 && count < (1u << 24));
    l->n = (int)count;
    l->s = malloc(count * sizeof *l->s);
    l->len = malloc(count * sizeof *l->len);
    for (uint64_t j = 0; j < count; j++) l->s[j] = rd_str(c, &l->len[j]);
}

typedef struct {
    str_list tokens, merges;
    char model[16];
    int bos, eos;
} gguf_vocab;

static int key_is(const char *k, size_t kl, const char *want) {
    return kl == strlen(want) && !memcmp(k, want, kl);
}

static void gguf_read_vocab(const uint8_t *data, size_t n, gguf_vocab *v) {
    memset(v, 0, sizeof *v);
    v->bos = v->eos = -1;
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
            rd_str_array(&c, type, &v->tokens);
        } else if (key_is(k, kl, "tokenizer.ggml.merges")) {
            rd_str_array(&c, type, &v->merges);
        } else if (key_is(k, kl, "tokenizer.ggml.model") && type == G_STR) {
            size_t ml;
            const char *m = rd_str(&c, &ml);
            snprintf(v->model, sizeof v->model, "%.*s", (int)ml, m);
        } else if (key_is(k, kl, "tokenizer.ggml.bos_token_id") && type == G_U32) {
            v->bos = (int)rd(&c, 4);
        } else if (key_is(k, kl, "tokenizer.ggml.eos_token_id") && type == G_U32) {
            v->eos = (int)rd(&c, 4);
        } else {
            skip_value(&c, type);
        }
    }
    ck_assert_msg(v->tokens.n > 0, "GGUF has no tokenizer.ggml.tokens");
    ck_assert_msg(v->merges.n > 0, "GGUF has no tokenizer.ggml.merges");
}

static char g_vocab_dir[1024];
static char *g_gguf;
static gguf_vocab g_v;

static void setup(void) {
    char path[1024];
    size_t n;
    snprintf(path, sizeof path, "%s/vocab/gguf/ggml-vocab-gpt-2.gguf", tu_data_dir());
    g_gguf = read_all(path, &n);
    gguf_read_vocab((const uint8_t *)g_gguf, n, &g_v);
    snprintf(g_vocab_dir, sizeof g_vocab_dir, "%s/vocab/gpt2", tu_data_dir());
}

static void teardown(void) {
    free(g_v.tokens.s);
    free(g_v.tokens.len);
    free(g_v.merges.s);
    free(g_v.merges.len);
    free(g_gguf);
}

START_TEST(gguf_is_gpt2_vocab_and_merges) {
    ck_assert_str_eq(g_v.model, "gpt2");
    /* merges.txt, line by line after "#version", is the GGUF merge list */
    char path[2048];
    size_t n;
    snprintf(path, sizeof path, "%s/merges.txt", g_vocab_dir);
    char *m = read_all(path, &n);
    ck_assert(!strncmp(m, "#version", 8));
    char *p = strchr(m, '\n') + 1;
    int k = 0;
    while (p < m + n) {
        char *nl = memchr(p, '\n', (size_t)(m + n - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(m + n - p);
        ck_assert_int_lt(k, g_v.merges.n);
        ck_assert_msg(len == g_v.merges.len[k] && !memcmp(p, g_v.merges.s[k], len),
                      "merge %d differs", k);
        k++;
        p += len + 1;
    }
    ck_assert_int_eq(k, g_v.merges.n);
    ck_assert_int_eq(k, 50000);
    free(m);

    /* vocab.json, as our loader reads it, has the GGUF tokens at the same ids */
    bt_tok *tok;
    bt_error err = {0};
    ck_assert_msg(bt_tok_load(g_vocab_dir, &tok, &err) == BT_OK, "%s", err.msg);
    ck_assert_int_eq(bt_tok_kind_of(tok), BT_TOK_BPE);
    ck_assert_int_eq(bt_tok_vocab_size(tok), g_v.tokens.n);
    ck_assert_int_eq(g_v.tokens.n, 50257);
    for (int i = 0; i < g_v.tokens.n; i++) {
        size_t len;
        const char *t = bt_tok_id_to_token(tok, i, &len);
        ck_assert_msg(t && len == g_v.tokens.len[i] && !memcmp(t, g_v.tokens.s[i], len),
                      "token %d differs", i);
        ck_assert_int_eq(bt_tok_token_to_id(tok, t, len), i);
    }
    /* <|endoftext|> is GPT-2's bos, eos and unk */
    ck_assert_int_eq(g_v.bos, 50256);
    ck_assert_int_eq(g_v.eos, 50256);
    ck_assert_int_eq(bt_tok_special_id(tok, BT_TOK_UNK), 50256);
    ck_assert_int_eq(bt_tok_special_id(tok, BT_TOK_CLS), -1);
    ck_assert_int_eq(bt_tok_num_special_tokens(tok, 0), 0);
    bt_tok_free(tok);
}
END_TEST

START_TEST(llama_cpp_vectors) {
    bt_tok *tok;
    bt_error err = {0};
    ck_assert_msg(bt_tok_load(g_vocab_dir, &tok, &err) == BT_OK, "%s", err.msg);

    char path[1024];
    size_t n_inp, n_out;
    snprintf(path, sizeof path, "%s/vocab/gguf/ggml-vocab-gpt-2.gguf.inp", tu_data_dir());
    char *inp = read_all(path, &n_inp);
    snprintf(path, sizeof path, "%s/vocab/gguf/ggml-vocab-gpt-2.gguf.out", tu_data_dir());
    char *out = read_all(path, &n_out);

    /* Inputs are separated by "\n__ggml_vocab_test__\n" (which also ends the file); the
     * expected ids are one line each. */
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
        /* the same through the model-input path: GPT-2 adds nothing */
        if (n > 0 && n < 1024) {
            int ids2[1024], types[1024], n2;
            ck_assert(bt_tok_encode_n(tok, p, (size_t)(m - p), NULL, 0, 1024, ids2, types, &n2,
                                      &err) == BT_OK);
            ck_assert_int_eq(n2, n);
            ck_assert(!memcmp(ids, ids2, (size_t)n * sizeof *ids));
            for (int i = 0; i < n; i++) ck_assert_int_eq(types[i], 0);
        }
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
    Suite *s = suite_create("bpe_gguf");
    TCase *tc = tcase_create("gguf");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, gguf_is_gpt2_vocab_and_merges);
    tcase_add_test(tc, llama_cpp_vectors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
