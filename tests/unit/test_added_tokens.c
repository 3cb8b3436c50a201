/* Added tokens of the classic layout (added_tokens.json) and tokenizer.json's post-processor
 * templates, as properties: an added token in a text is its id between the ids of the text
 * around it, tokenized on their own; the template puts the special ids where it says; bad
 * added_tokens.json files are refused naming the file. Vocabularies: tests/data/vocab. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/tokenizer.h"
#include "testutil.h"

static void copy_file(const char *src, const char *dir, const char *name) {
    FILE *f = fopen(src, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", src);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert(fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    tu_write_file(dir, name, buf, (size_t)n);
    free(buf);
}

static const char *vocab_path(const char *rel) {
    static char p[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/tests/data/vocab/%s", tu_source_dir(), rel);
    return p[k];
}

static int tokenize(bt_tok *tok, const char *s, int *ids) {
    bt_error err = {0};
    int n = 0;
    ck_assert_msg(bt_tok_tokenize(tok, s, strlen(s), ids, 256, &n, &err) == BT_OK, "%s", err.msg);
    return n;
}

/* tokenize(left + token + right) == tokenize(left) ++ [id] ++ tokenize(right) */
static void check_cut(bt_tok *tok, const char *left, const char *token, const char *right, int id) {
    char text[512];
    snprintf(text, sizeof text, "%s%s%s", left, token, right);
    int all[256], l[256], r[256];
    const int n = tokenize(tok, text, all), nl = tokenize(tok, left, l), nr = tokenize(tok, right, r);
    ck_assert_int_eq(n, nl + 1 + nr);
    ck_assert_mem_eq(all, l, (size_t)nl * sizeof *l);
    ck_assert_int_eq(all[nl], id);
    ck_assert_mem_eq(all + nl + 1, r, (size_t)nr * sizeof *r);
}

START_TEST(bpe_added_tokens_json) {
    const char *d = tu_tmpdir();
    copy_file(vocab_path("gpt2/vocab.json"), d, "vocab.json");
    copy_file(vocab_path("gpt2/merges.txt"), d, "merges.txt");
    const char *added = "{\"<extra_1>\": 50258, \"<extra_0>\": 50257}";
    tu_write_file(d, "added_tokens.json", added, strlen(added));
    bt_tok *tok;
    bt_error err = {0};
    ck_assert_msg(bt_tok_load(d, &tok, &err) == BT_OK, "%s", err.msg);
    ck_assert_int_eq(bt_tok_vocab_size(tok), 50259);
    ck_assert_int_eq(bt_tok_token_to_id(tok, "<extra_1>", 9), 50258);
    check_cut(tok, "Hello there", "<extra_0>", " world!", 50257);
    check_cut(tok, "", "<extra_1>", "x", 50258);
    size_t len;
    const char *s = bt_tok_id_to_token(tok, 50257, &len);
    ck_assert(s && len == 9 && !memcmp(s, "<extra_0>", 9));
    bt_tok_free(tok);
}
END_TEST

START_TEST(wordpiece_added_tokens_json) {
    const char *d = tu_tmpdir();
    copy_file(vocab_path("bert-base-uncased/vocab.txt"), d, "vocab.txt");
    const char *added = "{\"newword\": 30522, \"[NEW2]\": 30523}";
    tu_write_file(d, "added_tokens.json", added, strlen(added));
    bt_tok *tok;
    bt_error err = {0};
    ck_assert_msg(bt_tok_load(d, &tok, &err) == BT_OK, "%s", err.msg);
    ck_assert_int_eq(bt_tok_vocab_size(tok), 30524);
    check_cut(tok, "a sentence ", "newword", " continues.", 30522);
    check_cut(tok, "x", "[NEW2]", "", 30523);
    bt_tok_free(tok);

    /* ids must continue the vocabulary */
    const char *gap = "{\"newword\": 30600}";
    tu_write_file(d, "added_tokens.json", gap, strlen(gap));
    tok = (bt_tok *)1;
    ck_assert_int_eq(bt_tok_load(d, &tok, &err), BT_EINPUT);
    ck_assert(tok == NULL);
    ck_assert_msg(strstr(err.msg, "added_tokens.json: 'newword' has id 30600") != NULL, "%s", err.msg);
    tu_write_file(d, "added_tokens.json", "{\"x\": \"y\"}", 10);
    ck_assert_int_eq(bt_tok_load(d, &tok, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "added_tokens.json: entry \"x\"") != NULL, "%s", err.msg);
}
END_TEST

/* A tokenizer.json template with a two-id special token and type ids: the inputs are built
 * as the template says, and num_special_tokens counts what it adds. */
START_TEST(template_processing) {
    const char *d = tu_tmpdir();
    const char *j =
        "{\"added_tokens\": [{\"id\": 0, \"content\": \"[UNK]\", \"special\": true},"
        " {\"id\": 1, \"content\": \"[CLS]\", \"special\": true}, {\"id\": 2, \"content\": \"[SEP]\"}],"
        " \"normalizer\": {\"type\": \"BertNormalizer\", \"lowercase\": true},"
        " \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},"
        " \"post_processor\": {\"type\": \"TemplateProcessing\","
        "  \"single\": [{\"SpecialToken\": {\"id\": \"pre\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}],"
        "  \"pair\": [{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"SpecialToken\": {\"id\": \"[SEP]\", \"type_id\": 0}},"
        "            {\"Sequence\": {\"id\": \"B\", \"type_id\": 1}}, {\"SpecialToken\": {\"id\": \"pre\", \"type_id\": 1}}],"
        "  \"special_tokens\": {\"pre\": {\"id\": \"pre\", \"ids\": [1, 2], \"tokens\": [\"[CLS]\", \"[SEP]\"]},"
        "                     \"[SEP]\": {\"id\": \"[SEP]\", \"ids\": [2], \"tokens\": [\"[SEP]\"]}}},"
        " \"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\","
        "  \"vocab\": {\"[UNK]\": 0, \"[CLS]\": 1, \"[SEP]\": 2, \"a\": 3, \"b\": 4, \"##b\": 5}}}";
    tu_write_file(d, "tokenizer.json", j, strlen(j));
    bt_tok *tok;
    bt_error err = {0};
    ck_assert_msg(bt_tok_load(d, &tok, &err) == BT_OK, "%s", err.msg);
    ck_assert_int_eq(bt_tok_kind_of(tok), BT_TOK_WORDPIECE);
    ck_assert_int_eq(bt_tok_num_special_tokens(tok, 0), 2);
    ck_assert_int_eq(bt_tok_num_special_tokens(tok, 1), 3);
    int ids[16], types[16], n;
    ck_assert_msg(bt_tok_encode(tok, "A bb", NULL, 16, ids, types, &n, &err) == BT_OK, "%s", err.msg);
    const int want1[] = {1, 2, 3, 4, 5}, t1[] = {0, 0, 0, 0, 0};
    ck_assert_int_eq(n, 5);
    ck_assert_mem_eq(ids, want1, sizeof want1);
    ck_assert_mem_eq(types, t1, sizeof t1);
    ck_assert_msg(bt_tok_encode(tok, "a", "B x", 16, ids, types, &n, &err) == BT_OK, "%s", err.msg);
    const int want2[] = {3, 2, 4, 0, 1, 2}, t2[] = {0, 0, 1, 1, 1, 1};
    ck_assert_int_eq(n, 6);
    ck_assert_mem_eq(ids, want2, sizeof want2);
    ck_assert_mem_eq(types, t2, sizeof t2);
    ck_assert_int_eq(bt_tok_special_id(tok, BT_TOK_UNK), 0);
    bt_tok_free(tok);
}
END_TEST

int main(void) {
    Suite *s = suite_create("added_tokens");
    TCase *tc = tcase_create("added_tokens");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, bpe_added_tokens_json);
    tcase_add_test(tc, wordpiece_added_tokens_json);
    tcase_add_test(tc, template_processing);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
