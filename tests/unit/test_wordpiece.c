/* WordPiece on hand-checked cases. Every expected id was looked up by hand in the shared
 * vocab.txt files (id = line number - 1, `grep -n -x -F TOKEN vocab.txt`), with the greedy
 * longest-match worked out on paper from which prefixes the vocabulary holds; the comments name
 * the tokens. Truncation cases follow transformers' truncate_sequences('longest_first'). */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/tokenizer.h"
#include "testutil.h"

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

/* A model directory holding a copy of a shared vocabulary and an optional config. */
static const char *model_dir(const char *vocab_name, const char *config_json) {
    static char dirs[8][256];
    static int k;
    char *d = dirs[k++ % 8];
    snprintf(d, 256, "%s", tu_tmpdir());
    char path[1024];
    snprintf(path, sizeof path, "%s/vocab/%s/vocab.txt", tu_data_dir(), vocab_name);
    size_t len;
    char *v = read_all(path, &len);
    tu_write_file(d, "vocab.txt", v, len);
    free(v);
    if (config_json) tu_write_file(d, "tokenizer_config.json", config_json, strlen(config_json));
    return d;
}

static bt_tok *load(const char *dir) {
    bt_tok *tok = NULL;
    bt_error err = {0};
    int rc = bt_tok_load(dir, &tok, &err);
    ck_assert_msg(rc == BT_OK, "load %s: %s", dir, err.msg);
    ck_assert_ptr_nonnull(tok);
    return tok;
}

static bt_tok *g_uncased, *g_cased;

static void setup(void) {
    g_uncased = load(model_dir("bert-base-uncased", NULL));
    g_cased = load(model_dir("bert-base-cased", "{\"do_lower_case\": false}"));
}

static void teardown(void) {
    bt_tok_free(g_uncased);
    bt_tok_free(g_cased);
}

/* Tokenizes len bytes of text (no special tokens) and compares with want[0..n). */
static void check_ids(bt_tok *tok, const char *text, size_t len, const int *want, int n_want) {
    int ids[256], n = -1;
    bt_error err = {0};
    int rc = bt_tok_tokenize(tok, text, len, ids, 256, &n, &err);
    ck_assert_msg(rc == BT_OK, "'%s': %s", text, err.msg);
    ck_assert_msg(n == n_want, "'%s': %d ids, want %d", text, n, n_want);
    for (int i = 0; i < n; i++)
        ck_assert_msg(ids[i] == want[i], "'%s': id %d is %d, want %d", text, i, ids[i], want[i]);
}
#define IDS(tok, lit, ...)                                                        \
    do {                                                                          \
        const int w_[] = {__VA_ARGS__};                                           \
        check_ids(tok, lit, sizeof(lit) - 1, w_, (int)(sizeof w_ / sizeof *w_)); \
    } while (0)
#define NO_IDS(tok, lit) check_ids(tok, lit, sizeof(lit) - 1, NULL, 0)

START_TEST(uncased_basics) {
    bt_tok *t = g_uncased;
    IDS(t, "Hello, world!", 7592, 1010, 2088, 999);   /* hello , world ! */
    IDS(t, "Héllo", 7592);                             /* accent stripped: hello */
    IDS(t, "HÉLLO", 7592);                             /* É lowercased then stripped */
    IDS(t, "He\xcc\x81llo", 7592);                     /* e + combining acute (Mn) */
    IDS(t, "don't", 2123, 1005, 1056);                 /* don ' t */
    IDS(t, "!!?..,", 999, 999, 1029, 1012, 1012, 1010); /* every punctuation char alone */
    IDS(t, "ied 4 \xc2\xbd months", 29464, 2094, 1018, 1092, 2706); /* ie ##d 4 ½ months */
    /* CJK ideographs are split one by one: 我 is in the vocabulary, 想 在 工 作 are not */
    IDS(t, "我想在apple工作", 1855, 100, 100, 6207, 100, 100);
    /* emoji are symbols (So), not punctuation: whole words with no vocabulary entry */
    IDS(t, "\xf0\x9f\x98\x80 ok \xe2\x9c\x85", 100, 7929, 100);
    /* lowercasing is per character (transformers lowercases one character at a time), so
     * the final capital sigma becomes σ, not ς: ο ##δ ##ο ##σ */
    IDS(t, "ΟΔΟΣ", 1169, 29722, 29730, 29733);
}
END_TEST

START_TEST(cleaning_and_whitespace) {
    bt_tok *t = g_uncased;
    IDS(t, "he\x01llo", 7592);                          /* control chars vanish, no split */
    IDS(t, "hel\0lo", 7592);                            /* NUL as well */
    IDS(t, "hello\x7f\tworld\xe2\x80\x8b", 7592, 2088); /* DEL, tab, zero-width space (Cf) */
    IDS(t, "\xef\xbb\xbfhello", 7592);                  /* byte order mark (Cf) */
    IDS(t, "hel\xef\xbf\xbdlo", 7592);                  /* U+FFFD dropped */
    IDS(t, "hello\xc2\xa0world\xe3\x80\x80!", 7592, 2088, 999); /* NBSP, ideographic space */
    IDS(t, "hello\xe2\x80\xa8world", 7592, 2088);       /* U+2028 splits (str.split) */
    IDS(t, "hello\r\nworld\n", 7592, 2088);
    NO_IDS(t, "");
    NO_IDS(t, "  \t \n ");
    NO_IDS(t, "\x01\x02\xe2\x80\x8b");
}
END_TEST

START_TEST(long_words) {
    char word[160];
    int want[64], n = 0;
    /* 100 a's: aaa, then ##aa while two are left (no ##aaa / aaaa), then ##a */
    memset(word, 'a', 100);
    want[n++] = 13360; /* aaa */
    for (int i = 0; i < 48; i++) want[n++] = 11057; /* ##aa */
    want[n++] = 2050; /* ##a */
    check_ids(g_uncased, word, 100, want, n);
    /* 101 characters: more than max_input_chars_per_word */
    memset(word, 'a', 101);
    const int unk[] = {100};
    check_ids(g_uncased, word, 101, unk, 1);
    /* The limit counts code points, not bytes: 100 two-byte é stay under it ... */
    char e[2 * 101 + 1];
    for (int i = 0; i < 101; i++) memcpy(e + 2 * i, "\xc3\xa9", 2);
    int n_ids;
    int ids[128];
    bt_error err = {0};
    ck_assert_int_eq(bt_tok_tokenize(g_uncased, e, 200, ids, 128, &n_ids, &err), BT_OK);
    ck_assert_int_gt(n_ids, 1);
    /* ... and 101 of them are one [UNK] */
    check_ids(g_uncased, e, 202, unk, 1);
    /* a word with no cover at all is one [UNK] even when a prefix matches: "ok" then "☃" */
    IDS(g_uncased, "ok\xe2\x98\x83", 100);
}
END_TEST

START_TEST(cased_vocab) {
    bt_tok *t = g_cased;
    IDS(t, "Hello World", 8667, 1291);
    IDS(t, "hello", 19082);
    IDS(t, "Héllo", 145, 2744, 6643);           /* H ##é ##llo: accents kept */
    IDS(t, "naïve", 9468, 28203, 2707);        /* na ##ï ##ve */
    IDS(t, "ΟΔΟΣ", 406, 28318, 28327, 28329);   /* Ο ##Δ ##Ο ##Σ */
    IDS(t, "[CLS]", 101);
    ck_assert_int_eq(bt_tok_vocab_size(t), 28996);
}
END_TEST

START_TEST(special_tokens_in_text) {
    bt_tok *t = g_uncased;
    IDS(t, "[CLS] hello [SEP]", 101, 7592, 102);
    IDS(t, "x[MASK]y", 1060, 103, 1061);         /* cut out of the raw text */
    IDS(t, "[cls]", 1031, 18856, 2015, 1033);    /* case matters: [ cl ##s ] */
    /* uncased: lowercased before cleaning rejoins it, so no longer special: [ cl ##s ] */
    IDS(t, "[CL\x01S]", 1031, 18856, 2015, 1033);
    /* cased: rejoined as "[CLS]" after cleaning, kept whole (never_split) */
    IDS(g_cased, "[CL\x01S]", 101);
    ck_assert_int_eq(bt_tok_special_id(t, BT_TOK_UNK), 100);
    ck_assert_int_eq(bt_tok_special_id(t, BT_TOK_CLS), 101);
    ck_assert_int_eq(bt_tok_special_id(t, BT_TOK_SEP), 102);
    ck_assert_int_eq(bt_tok_special_id(t, BT_TOK_MASK), 103);
    ck_assert_int_eq(bt_tok_special_id(t, BT_TOK_PAD), 0);
    ck_assert_int_eq(bt_tok_special_id(t, 99), -1);
    size_t len;
    const char *s = bt_tok_id_to_token(t, 7592, &len);
    ck_assert_int_eq(len, 5);
    ck_assert(!memcmp(s, "hello", 5));
    ck_assert_ptr_null(bt_tok_id_to_token(t, 30522, &len));
    ck_assert_ptr_null(bt_tok_id_to_token(t, -1, &len));
    ck_assert_int_eq(bt_tok_token_to_id(t, "##ly", 4), 2135);
    ck_assert_int_eq(bt_tok_token_to_id(t, "nosuchtoken", 11), -1);
    ck_assert_int_eq(bt_tok_kind_of(t), BT_TOK_WORDPIECE);
}
END_TEST

/* encode() against an expected sequence; types are checked when want_types is not NULL. */
static void check_enc(const char *a, const char *b, int max_len, const int *want, int n_want,
                      const int *want_types) {
    int ids[64], types[64], n = -1;
    bt_error err = {0};
    ck_assert_int_le(max_len, 64);
    int rc = bt_tok_encode(g_uncased, a, b, max_len, ids, types, &n, &err);
    ck_assert_msg(rc == BT_OK, "%s", err.msg);
    ck_assert_msg(n == n_want, "'%s' / '%s' max %d: %d ids, want %d", a, b ? b : "-", max_len,
                  n, n_want);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(ids[i] == want[i], "max %d: id %d is %d, want %d", max_len, i, ids[i],
                      want[i]);
        if (want_types) ck_assert_int_eq(types[i], want_types[i]);
    }
}
#define ENC(a, b, m, ...)                                                 \
    do {                                                                  \
        const int w_[] = {__VA_ARGS__};                                   \
        check_enc(a, b, m, w_, (int)(sizeof w_ / sizeof *w_), NULL);      \
    } while (0)

/* one two three four five = 2028 2048 2093 2176 2274; six seven eight nine ten = 2416 2698
 * 2809 3157 2702; [CLS] = 101, [SEP] = 102 */
START_TEST(pairs_and_truncation) {
    const char *five = "one two three four five", *three_a = "one two three",
               *three_b = "six seven eight";
    /* no truncation: types 0 for [CLS] a [SEP], 1 for b [SEP] */
    const int ids0[] = {101, 2028, 2048, 2093, 102, 2416, 2698, 2809, 102};
    const int types0[] = {0, 0, 0, 0, 0, 1, 1, 1, 1};
    check_enc(three_a, three_b, 64, ids0, 9, types0);
    /* single */
    const int types1[] = {0, 0, 0};
    const int ids1[] = {101, 7592, 102};
    check_enc("hello", NULL, 64, ids1, 3, types1);
    ENC("", NULL, 64, 101, 102);
    ENC("", "", 64, 101, 102, 102);
    ENC("one two three four five", NULL, 4, 101, 2028, 2048, 102);
    /* 5 + 3 into 5: a 5>3 -> 4, 4>3 -> 3, tie 3=3 -> b loses one */
    const int ids2[] = {101, 2028, 2048, 2093, 102, 2416, 2698, 102};
    const int types2[] = {0, 0, 0, 0, 0, 1, 1, 1};
    check_enc(five, three_b, 8, ids2, 8, types2);
    /* 5 + 3 into 6: only a loses (two tokens) */
    ENC(five, three_b, 9, 101, 2028, 2048, 2093, 102, 2416, 2698, 2809, 102);
    /* tie rule alone: 3 + 3 into 5 removes from the second text */
    ENC(three_a, three_b, 8, 101, 2028, 2048, 2093, 102, 2416, 2698, 102);
    /* 1 + 5 into 3: the longer b loses three */
    ENC("one", "six seven eight nine ten", 6, 101, 2028, 102, 2416, 2698, 102);
    /* nothing left of either */
    const int ids3[] = {101, 102, 102};
    const int types3[] = {0, 0, 1};
    check_enc(five, three_b, 3, ids3, 3, types3);
    /* 5 + 5 into 1: alternate from b first, a keeps the odd one */
    ENC(five, "six seven eight nine ten", 4, 101, 2028, 102, 102);
}
END_TEST

START_TEST(caps_and_limits) {
    int ids[8], n = -1;
    bt_error err = {0};
    ck_assert_int_eq(bt_tok_tokenize(g_uncased, "one two three", 13, ids, 2, &n, &err), BT_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(ids[0], 2028);
    ck_assert_int_eq(ids[1], 2048);
    ck_assert_int_eq(bt_tok_tokenize(g_uncased, "one", 3, ids, 0, &n, &err), BT_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(bt_tok_encode(g_uncased, "a", "b", 2, ids, NULL, &n, &err), BT_EINPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "max length 2"));
    ck_assert_int_eq(bt_tok_encode(g_uncased, "a", NULL, 1, ids, NULL, &n, &err), BT_EINPUT);
    ck_assert_int_eq(bt_tok_encode(g_uncased, "a", NULL, 2, ids, NULL, &n, &err), BT_OK);
    ck_assert_int_eq(n, 2);
}
END_TEST

/* Invalid UTF-8 is refused with the byte offset, whatever the cap. */
static void bad_utf8(const char *s, size_t len, const char *at) {
    int ids[8], n = -1;
    bt_error err = {0};
    ck_assert_int_eq(bt_tok_tokenize(g_uncased, s, len, ids, 1, &n, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "invalid UTF-8") && strstr(err.msg, at), "'%s'", err.msg);
    ck_assert_int_eq(n, 0);
}

START_TEST(invalid_utf8) {
    bad_utf8("ok \xff", 4, "byte 3");
    bad_utf8("\xc0\x80", 2, "byte 0");          /* overlong NUL */
    bad_utf8("ab\xed\xa0\x80", 5, "byte 2");    /* UTF-16 surrogate */
    bad_utf8("x\xe2\x82", 3, "byte 1");         /* truncated */
    bad_utf8("\xf4\x90\x80\x80", 4, "byte 0");  /* beyond U+10FFFF */
    bad_utf8("one two three \x80", 15, "byte 14"); /* after the cap is reached */
    int ids[8], n;
    bt_error err = {0};
    ck_assert_int_eq(bt_tok_encode(g_uncased, "fine", "bad \xfe", 8, ids, NULL, &n, &err),
                     BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "second text") && strstr(err.msg, "byte 4"), "%s", err.msg);
}
END_TEST

/* A tiny hand-written vocabulary: CRLF and CR line ends, a duplicate, no [MASK]. */
START_TEST(vocab_file_format) {
    const char *d = tu_tmpdir();
    const char vocab[] = "[PAD]\r\n[UNK]\r\n[CLS]\r[SEP]\nhello\r\nworld\r\nhello\r\n##s\n";
    tu_write_file(d, "vocab.txt", vocab, sizeof vocab - 1);
    bt_tok *t = load(d);
    ck_assert_int_eq(bt_tok_vocab_size(t), 8);
    /* the later hello; world ##s; [MASK] is still a special string, cut out whole, and with no
     * vocabulary entry it is [UNK] (transformers >= 4.34 would append it as id 8 instead,
     * an id outside the model's embedding) */
    IDS(t, "hello worlds [MASK]", 6, 5, 7, 1);
    ck_assert_int_eq(bt_tok_special_id(t, BT_TOK_MASK), -1);
    size_t len;
    const char *s = bt_tok_id_to_token(t, 4, &len);
    ck_assert(len == 5 && !memcmp(s, "hello", 5));
    s = bt_tok_id_to_token(t, 3, &len);
    ck_assert(len == 5 && !memcmp(s, "[SEP]", 5));
    bt_tok_free(t);
}
END_TEST

START_TEST(config_options) {
    const char vocab[] = "[PAD]\n<unk>\n<s>\n</s>\nhello\n!\nhello!\nhé\n##llo\nhe\n";
    /* AddedToken objects, never_split, model_max_length; special_tokens_map.json wins */
    const char *d = tu_tmpdir();
    tu_write_file(d, "vocab.txt", vocab, sizeof vocab - 1);
    const char cfg[] = "{\"unk_token\": {\"content\": \"<unk>\", \"lstrip\": false},"
                       " \"cls_token\": \"[CLS]\", \"sep_token\": \"</s>\","
                       " \"never_split\": [\"hello!\"], \"model_max_length\": 512,"
                       " \"strip_accents\": false}";
    tu_write_file(d, "tokenizer_config.json", cfg, sizeof cfg - 1);
    const char map[] = "{\"cls_token\": \"<s>\", \"mask_token\": null}";
    tu_write_file(d, "special_tokens_map.json", map, sizeof map - 1);
    bt_tok *t = load(d);
    ck_assert_int_eq(bt_tok_special_id(t, BT_TOK_CLS), 2);
    ck_assert_int_eq(bt_tok_special_id(t, BT_TOK_SEP), 3);
    ck_assert_int_eq(bt_tok_special_id(t, BT_TOK_UNK), 1);
    ck_assert_int_eq(bt_tok_special_id(t, BT_TOK_MASK), -1);
    ck_assert_int_eq(bt_tok_model_max_length(t), 512);
    IDS(t, "HELLO! hello", 6, 4);   /* lowercased, then never split: hello! hello */
    IDS(t, "Héllo", 7, 8);          /* strip_accents false: hé ##llo */
    IDS(t, "<s>hello</s>", 2, 4, 3); /* the configured special strings are cut out */
    int ids[8], n;
    bt_error err = {0};
    ck_assert_int_eq(bt_tok_encode(t, "hello", "!", 8, ids, NULL, &n, &err), BT_OK);
    ck_assert_int_eq(n, 5);
    ck_assert(ids[0] == 2 && ids[1] == 4 && ids[2] == 3 && ids[3] == 5 && ids[4] == 3);
    bt_tok_free(t);

    /* model_max_length 1e30 (transformers' "no limit") clamps */
    d = tu_tmpdir();
    tu_write_file(d, "vocab.txt", vocab, sizeof vocab - 1);
    const char cfg2[] = "{\"unk_token\": \"<unk>\", \"cls_token\": \"<s>\", \"sep_token\": "
                        "\"</s>\", \"model_max_length\": 1e30, \"do_lower_case\": false, "
                        "\"tokenize_chinese_chars\": false}";
    tu_write_file(d, "tokenizer_config.json", cfg2, sizeof cfg2 - 1);
    t = load(d);
    ck_assert_int_eq(bt_tok_model_max_length(t), INT_MAX);
    IDS(t, "HELLO hello", 1, 4);
    bt_tok_free(t);
}
END_TEST

static void bad_dir(const char *vocab, size_t vlen, const char *cfg, const char *frag1,
                    const char *frag2) {
    const char *d = tu_tmpdir();
    if (vocab) tu_write_file(d, "vocab.txt", vocab, vlen);
    if (cfg) tu_write_file(d, "tokenizer_config.json", cfg, strlen(cfg));
    bt_tok *t = (bt_tok *)1;
    bt_error err = {0};
    ck_assert_int_eq(bt_tok_load(d, &t, &err), BT_EINPUT);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err.msg, frag1), "message '%s' lacks '%s'", err.msg, frag1);
    if (frag2) ck_assert_msg(strstr(err.msg, frag2), "message '%s' lacks '%s'", err.msg, frag2);
    ck_assert_msg(!strchr(err.msg, '\n'), "multi-line message");
}
#define BAD(v, cfg, f1, f2) bad_dir(v, sizeof(v) - 1, cfg, f1, f2)

START_TEST(bad_model_dirs) {
    const char ok[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n";
    bt_tok *t = (bt_tok *)1;
    bt_error err = {0};
    ck_assert_int_eq(bt_tok_load("/nonexistent/model", &t, &err), BT_EINPUT);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/model"));
    bad_dir(NULL, 0, NULL, "no tokenizer files", NULL);
    BAD("", NULL, "vocab.txt", "no tokens");
    BAD("[PAD]\n[UNK]\n\xff\xfe\n[SEP]\n", NULL, "vocab.txt:3", "invalid UTF-8");
    BAD("[PAD]\n[UNK]\n[CLS]\n", NULL, "vocab.txt", "[SEP]");
    BAD(ok, "{\"do_lower_case\": tru", "tokenizer_config.json", "invalid JSON");
    BAD(ok, "[1, 2]", "tokenizer_config.json", "not a JSON object");
    BAD(ok, "{\"do_lower_case\": \"yes\"}", "tokenizer_config.json", "do_lower_case");
    BAD(ok, "{\"strip_accents\": 1}", "tokenizer_config.json", "strip_accents");
    BAD(ok, "{\"never_split\": [\"a\", 3]}", "tokenizer_config.json", "never_split[1]");
    BAD(ok, "{\"unk_token\": 7}", "tokenizer_config.json", "unk_token");
    BAD(ok, "{\"sep_token\": null}", "sep_token", "null");
    BAD(ok, "{\"model_max_length\": -5}", "tokenizer_config.json", "model_max_length");
    BAD(ok, "{\"mask_token\": \"\xff\"}", "mask_token", "UTF-8");
    /* a GPT-2 style directory is recognised but not handled by WordPiece */
    const char *d = tu_tmpdir();
    tu_write_file(d, "vocab.json", "{}", 2);
    tu_write_file(d, "merges.txt", "#version: 0.2\n", 14);
    ck_assert_int_eq(bt_tok_load(d, &t, &err), BT_EINPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "BPE"));
}
END_TEST

int main(void) {
    Suite *s = suite_create("wordpiece");
    TCase *tc = tcase_create("wordpiece");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, uncased_basics);
    tcase_add_test(tc, cleaning_and_whitespace);
    tcase_add_test(tc, long_words);
    tcase_add_test(tc, cased_vocab);
    tcase_add_test(tc, special_tokens_in_text);
    tcase_add_test(tc, pairs_and_truncation);
    tcase_add_test(tc, caps_and_limits);
    tcase_add_test(tc, invalid_utf8);
    tcase_add_test(tc, vocab_file_format);
    tcase_add_test(tc, config_options);
    tcase_add_test(tc, bad_model_dirs);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
