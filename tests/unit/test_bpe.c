/* Byte-level BPE: the byte map and the pre-tokenisation pattern against hand-derived pieces,
 * GPT-2 ids of hand-picked texts (expected ids from tests/text/bpe_ref.py, an independent
 * Python model that also reproduces llama.cpp's vectors; the token strings next to them can be
 * checked by eye), RoBERTa's conventions on a tiny vocabulary built here, and the messages for
 * bad model directories. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#include "bertology/tokenizer.h"
#include "tok/bpe.h"
#include "testutil.h"

static char g_gpt2[1024];

static void setup(void) {
    snprintf(g_gpt2, sizeof g_gpt2, "%s/vocab/gpt2", tu_data_dir());
}

/* --- bytes_to_unicode --- */

START_TEST(byte_map) {
    /* encoder.py: printable Latin-1 stands for itself; the 68 others are U+0100.. in order */
    ck_assert_int_eq(bt_bpe_byte_char('!'), '!');
    ck_assert_int_eq(bt_bpe_byte_char('~'), '~');
    ck_assert_int_eq(bt_bpe_byte_char(0xA1), 0xA1);
    ck_assert_int_eq(bt_bpe_byte_char(0xAC), 0xAC);
    ck_assert_int_eq(bt_bpe_byte_char(0xAE), 0xAE);
    ck_assert_int_eq(bt_bpe_byte_char(0xFF), 0xFF);
    ck_assert_int_eq(bt_bpe_byte_char(0x00), 0x100);
    ck_assert_int_eq(bt_bpe_byte_char('\t'), 0x109); /* 'ĉ' */
    ck_assert_int_eq(bt_bpe_byte_char('\n'), 0x10A); /* 'Ċ' */
    ck_assert_int_eq(bt_bpe_byte_char(' '), 0x120);  /* 'Ġ' */
    ck_assert_int_eq(bt_bpe_byte_char(0x7F), 0x121);
    ck_assert_int_eq(bt_bpe_byte_char(0x80), 0x122);
    ck_assert_int_eq(bt_bpe_byte_char(0xA0), 0x142);
    ck_assert_int_eq(bt_bpe_byte_char(0xAD), 0x143); /* the last one */
    int seen[0x200] = {0};
    for (int b = 0; b < 256; b++) {
        int32_t c = bt_bpe_byte_char((uint8_t)b);
        ck_assert(c > 0x20 && c < 0x144);
        ck_assert_msg(!seen[c]++, "byte %d maps to a code point already used", b);
    }
}
END_TEST

/* --- the pre-tokenisation pattern --- */

/* Splits text into pieces and compares them with want (NULL-terminated). */
static void check_pieces(const char *text, const char *const *want) {
    const uint8_t *s = (const uint8_t *)text;
    const size_t len = strlen(text);
    size_t i = 0;
    int k = 0;
    while (i < len) {
        size_t j = bt_bpe_piece_end(s, len, i);
        ck_assert_msg(j > i && j <= len, "'%s': piece %d is empty or runs past the end", text, k);
        ck_assert_msg(want[k] != NULL, "'%s': more than %d pieces ('%.*s')", text, k,
                      (int)(j - i), text + i);
        ck_assert_msg(strlen(want[k]) == j - i && !memcmp(want[k], text + i, j - i),
                      "'%s': piece %d is '%.*s', want '%s'", text, k, (int)(j - i), text + i,
                      want[k]);
        i = j;
        k++;
    }
    ck_assert_msg(want[k] == NULL, "'%s': %d pieces, want more", text, k);
}

#define PIECES(text, ...) check_pieces(text, (const char *const[]){__VA_ARGS__, NULL})

START_TEST(pretokenize_contractions) {
    PIECES("I'm here", "I", "'m", " here");
    PIECES("they're we've you'll he'd it's don't", "they", "'re", " we", "'ve", " you", "'ll",
           " he", "'d", " it", "'s", " don", "'t");
    /* case-sensitive, and whatever follows: "'sa" still gives "'s" */
    PIECES("DON'T 'sa", "DON", "'", "T", " '", "sa");
    PIECES("'sa", "'s", "a");
    /* inside a run of other characters the apostrophe is just another one */
    PIECES("x!'s", "x", "!'", "s");
    PIECES("''s", "''", "s");
    PIECES("'", "'");
    PIECES("'l", "'", "l");
}
END_TEST

START_TEST(pretokenize_classes) {
    PIECES("abc123 4567", "abc", "123", " 4567");
    PIECES("3.14", "3", ".", "14");
    PIECES("Hello, world!", "Hello", ",", " world", "!");
    PIECES("a ... b", "a", " ...", " b");
    PIECES("caf\xc3\xa9 na\xc3\xafve", "caf\xc3\xa9", " na\xc3\xafve"); /* é ï are letters */
    PIECES("e\xcc\x81", "e", "\xcc\x81");            /* a combining accent (Mn) is 'other' */
    PIECES("\xe6\x88\x91\xe6\x83\xb3" "apple\xe5\xb7\xa5", /* 我想apple工: CJK are letters too */
           "\xe6\x88\x91\xe6\x83\xb3" "apple\xe5\xb7\xa5");
    PIECES("1314151\xe5\xa4\xa9\xef\xbd\x9e", "1314151", "\xe5\xa4\xa9", "\xef\xbd\x9e"); /* 天～ */
    PIECES(" \xf0\x9f\x98\x80\xf0\x9f\x98\x81!", " \xf0\x9f\x98\x80\xf0\x9f\x98\x81!"); /* emoji */
    PIECES("\xd9\xa3\xd9\xa4 \xc2\xbd", "\xd9\xa3\xd9\xa4", " \xc2\xbd"); /* ٣٤ (Nd), ½ (No) */
    PIECES("x\xc2\xb2", "x", "\xc2\xb2");                                   /* ² is a number */
}
END_TEST

START_TEST(pretokenize_whitespace) {
    /* a run before a word leaves its last space to the word (\s+(?!\S)) */
    PIECES("a  b", "a", " ", " b");
    PIECES("a   b", "a", "  ", " b");
    PIECES("a \t b", "a", " \t", " b");
    PIECES("  \tX", "  ", "\t", "X");
    /* only U+0020 joins the next run; a lone tab or newline stands alone */
    PIECES("\tHello", "\t", "Hello");
    PIECES("a\n\nb", "a", "\n", "\n", "b");
    PIECES("\n =", "\n", " =");
    /* a run that ends the text is taken whole */
    PIECES("hi  ", "hi", "  ");
    PIECES("   ", "   ");
    PIECES(" ", " ");
    PIECES("\t\n", "\t\n");
    PIECES("end\n\n\n", "end", "\n\n\n");
    /* \s is Unicode White_Space: NBSP and U+3000 are, U+001F is not */
    PIECES("Hello\xc2\xa0world", "Hello", "\xc2\xa0", "world");
    PIECES("x\xe3\x80\x80\xe3\x80\x80y", "x", "\xe3\x80\x80", "\xe3\x80\x80", "y");
    PIECES("a\x1f b", "a", "\x1f", " b");
    PIECES("a \x1f", "a", " \x1f");
}
END_TEST

/* --- GPT-2 ids --- */

static void check_ids(bt_tok *tok, const char *text, const int *want, int n_want) {
    int ids[256], n;
    bt_error err = {0};
    ck_assert_msg(bt_tok_tokenize(tok, text, strlen(text), ids, 256, &n, &err) == BT_OK, "%s",
                  err.msg);
    ck_assert_msg(n == n_want, "'%s': %d ids, want %d", text, n, n_want);
    for (int i = 0; i < n; i++)
        ck_assert_msg(ids[i] == want[i], "'%s': id %d is %d, want %d", text, i, ids[i], want[i]);
}

#define IDS(tok, text, ...)                                                                    \
    check_ids(tok, text, (const int[]){__VA_ARGS__},                                           \
              (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)))

START_TEST(gpt2_hand_cases) {
    bt_tok *tok;
    bt_error err = {0};
    ck_assert_msg(bt_tok_load(g_gpt2, &tok, &err) == BT_OK, "%s", err.msg);
    ck_assert_str_eq(bt_tok_name(tok), "byte-level BPE (GPT-2)");
    /* I 'm Ġsure Ġthey 're Ġright ; Ġwe 've Ġseen Ġit , Ġyou 'll Ġsee , Ġshe 'd Ġgo , Ġit 's
     * Ġdone , Ġdon 't */
    IDS(tok, "I'm sure they're right; we've seen it, you'll see, she'd go, it's done, don't", 40,
        1101, 1654, 484, 821, 826, 26, 356, 1053, 1775, 340, 11, 345, 1183, 766, 11, 673, 1549,
        467, 11, 340, 338, 1760, 11, 836, 470);
    IDS(tok, "DON'T STOP", 41173, 6, 51, 44934); /* DON ' T ĠSTOP */
    /* In Ġ2019 , Ġ1 , 234 , 5 67 Ġpeople Ġpaid Ġ$ 3 . 50 Ġeach . */
    IDS(tok, "In 2019, 1,234,567 people paid $3.50 each.", 818, 13130, 11, 352, 11, 24409, 11, 20,
        3134, 661, 3432, 720, 18, 13, 1120, 1123, 13);
    /* a Ġ Ġb Ġ Ġ Ġc Ġ Ġ Ġ Ġd: GPT-2 has no multi-space tokens */
    IDS(tok, "a  b   c    d", 64, 220, 275, 220, 220, 269, 220, 220, 220, 288);
    /* line Ġone Ċ line Ġtwo ĊĊ Ċ end Ċ */
    IDS(tok, "line one\nline two\n\n\nend\n", 1370, 530, 198, 1370, 734, 628, 198, 437, 198);
    IDS(tok, "tabs\tand\r\nCRLF", 8658, 82, 197, 392, 201, 198, 34, 7836, 37);
    /* I Ġlove ĠðŁ ¤ Ĺ Ġand ĠðŁĳ į ðŁ ı ½ ! */
    IDS(tok, "I love \xf0\x9f\xa4\x97 and \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd!", 40, 1842, 12520, 97,
        245, 290, 50169, 235, 8582, 237, 121, 0);
    /* Z Ã¼ rich ĠcafÃ© ĠnaÃ¯ve Ġcr Ã¨ me Ġbr Ã» l Ã©e */
    IDS(tok, "Z\xc3\xbcrich caf\xc3\xa9 na\xc3\xafve cr\xc3\xa8me br\xc3\xbbl\xc3\xa9\x65", 57,
        9116, 7527, 40304, 41492, 1067, 14064, 1326, 865, 42324, 75, 22161);
    IDS(tok, "e\xcc\x81", 68, 136, 223);
    /* 日本語のテキストと中文 */
    IDS(tok,
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9"
        "\xe3\x83\x88\xe3\x81\xa8\xe4\xb8\xad\xe6\x96\x87",
        33768, 98, 17312, 105, 45739, 252, 5641, 24336, 25084, 43302, 30201, 40792, 23877, 229);
    /* <|endoftext|> in the text is the special token, as in HF's GPT2Tokenizer */
    IDS(tok, "a<|endoftext|>b", 64, 50256, 65);
    IDS(tok, "<|endoftext", 27, 91, 437, 1659, 5239);
    bt_tok_free(tok);
}
END_TEST

/* Every text comes back from its tokens: their byte-level strings concatenate to the text's. */
START_TEST(gpt2_round_trip_and_cap) {
    bt_tok *tok;
    bt_error err = {0};
    ck_assert_msg(bt_tok_load(g_gpt2, &tok, &err) == BT_OK, "%s", err.msg);
    /* a run of one letter of 200000 bytes is one piece: the heap keeps BPE O(n log n) */
    const size_t big = 200000;
    char *text = malloc(big + 1);
    for (size_t i = 0; i < big; i++) text[i] = i % 1000 == 999 ? 'b' : 'a';
    text[big] = '\0';
    int *ids = malloc((big + 1) * sizeof *ids), n;
    clock_t t0 = clock();
    ck_assert(bt_tok_tokenize(tok, text, big, ids, (int)big + 1, &n, &err) == BT_OK);
    const double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    ck_assert_msg(secs < 5, "200 kB piece took %.2f s", secs);
    ck_assert(n > 0 && n < (int)big / 2);
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *t = bt_tok_id_to_token(tok, ids[i], &len);
        ck_assert(t != NULL);
        /* byte-level string -> bytes: each code point is one byte of the text */
        for (size_t k = 0; k < len;) {
            int32_t cp;
            utf8proc_ssize_t w = utf8proc_iterate((const uint8_t *)t + k, (utf8proc_ssize_t)(len - k), &cp);
            ck_assert(w > 0);
            ck_assert_msg(at < big && bt_bpe_byte_char((uint8_t)text[at]) == cp,
                          "token %d does not spell byte %zu", i, at);
            k += (size_t)w;
            at++;
        }
    }
    ck_assert_int_eq(at, big);

    /* cap: tokenization stops there, and what is kept is the start of the full result */
    int part[10], m;
    ck_assert(bt_tok_tokenize(tok, text, big, part, 10, &m, &err) == BT_OK);
    ck_assert_int_eq(m, 10);
    ck_assert(!memcmp(part, ids, sizeof part));
    ck_assert(bt_tok_tokenize(tok, "Hello world", 11, part, 0, &m, &err) == BT_OK);
    ck_assert_int_eq(m, 0);

    /* invalid UTF-8 names the byte, even past cap */
    ck_assert_int_eq(bt_tok_tokenize(tok, "ab\xff", 3, part, 1, &m, &err), BT_EINPUT);
    ck_assert_str_eq(err.msg, "invalid UTF-8 at byte 2");
    /* NUL bytes are text like any other ('Ā' = byte 0) */
    ck_assert(bt_tok_tokenize(tok, "a\0b", 3, part, 10, &m, &err) == BT_OK);
    ck_assert_int_eq(m, 3);
    ck_assert_int_eq(part[1], bt_tok_token_to_id(tok, "\xc4\x80", 2));
    free(ids);
    free(text);
    bt_tok_free(tok);
}
END_TEST

/* --- RoBERTa on a tiny vocabulary --- */

/* h i Ġ -> merges "h i" then "Ġ hi"; no other bytes, so they become <unk>. */
static const char *TINY_VOCAB =
    "{\"<s>\": 0, \"<pad>\": 1, \"</s>\": 2, \"<unk>\": 3, \"h\": 4, \"i\": 5, \"\\u0120\": 6, "
    "\"hi\": 7, \"\\u0120hi\": 8, \"<mask>\": 9, \"!\": 10}";
static const char *TINY_MERGES = "#version: 0.2\nh i\n\xc4\xa0 hi\n";

static const char *tiny_dir(const char *config, const char *tok_config) {
    const char *d = tu_tmpdir();
    tu_write_file(d, "vocab.json", TINY_VOCAB, strlen(TINY_VOCAB));
    tu_write_file(d, "merges.txt", TINY_MERGES, strlen(TINY_MERGES));
    if (config) tu_write_file(d, "config.json", config, strlen(config));
    if (tok_config) tu_write_file(d, "tokenizer_config.json", tok_config, strlen(tok_config));
    return d;
}

static void check_encode(bt_tok *tok, const char *a, const char *b, int max_len,
                         const int *want, int n_want) {
    int ids[64], types[64], n;
    bt_error err = {0};
    ck_assert_msg(bt_tok_encode(tok, a, b, max_len, ids, types, &n, &err) == BT_OK, "%s",
                  err.msg);
    ck_assert_msg(n == n_want, "'%s' / '%s': %d ids, want %d", a, b ? b : "-", n, n_want);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(ids[i] == want[i], "'%s' / '%s': id %d is %d, want %d", a, b ? b : "-", i,
                      ids[i], want[i]);
        ck_assert_int_eq(types[i], 0);
    }
}

#define ENC(tok, a, b, max_len, ...)                                                           \
    check_encode(tok, a, b, max_len, (const int[]){__VA_ARGS__},                               \
                 (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)))

START_TEST(roberta_conventions) {
    bt_tok *tok;
    bt_error err = {0};
    const char *d = tiny_dir("{\"model_type\": \"roberta\"}", NULL);
    ck_assert_msg(bt_tok_load(d, &tok, &err) == BT_OK, "%s", err.msg);
    ck_assert_str_eq(bt_tok_name(tok), "byte-level BPE (RoBERTa)");
    ck_assert_int_eq(bt_tok_special_id(tok, BT_TOK_CLS), 0);
    ck_assert_int_eq(bt_tok_special_id(tok, BT_TOK_PAD), 1);
    ck_assert_int_eq(bt_tok_special_id(tok, BT_TOK_SEP), 2);
    ck_assert_int_eq(bt_tok_special_id(tok, BT_TOK_UNK), 3);
    ck_assert_int_eq(bt_tok_special_id(tok, BT_TOK_MASK), 9);
    ck_assert_int_eq(bt_tok_num_special_tokens(tok, 0), 2);
    ck_assert_int_eq(bt_tok_num_special_tokens(tok, 1), 4);
    ck_assert_int_eq(bt_tok_vocab_size(tok), 11);

    ENC(tok, "hi hi!", NULL, 64, 0, 7, 8, 10, 2);      /* <s> hi Ġhi ! </s> */
    ENC(tok, "hi", "hi", 64, 0, 7, 2, 2, 7, 2);        /* <s> a </s></s> b </s> */
    ENC(tok, "hix", NULL, 64, 0, 7, 3, 2);             /* a byte it lacks: <unk> */
    ENC(tok, "hi <mask>", NULL, 64, 0, 7, 9, 2);       /* <mask> swallows the space before */
    ENC(tok, "hi <mask> hi", NULL, 64, 0, 7, 9, 8, 2); /* ... but not the one after */
    ENC(tok, "<s>hi</s>", NULL, 64, 0, 0, 7, 2, 2);    /* specials in the text stay whole */
    /* longest_first: a has 4 tokens, b 1; 7 - 4 specials leaves 3 */
    ENC(tok, "hi hi hi hi", "hi", 7, 0, 7, 8, 2, 2, 7, 2);
    ENC(tok, "hi hi", "hi hi", 6, 0, 7, 2, 2, 7, 2);   /* a tie: b loses first, then a */
    ENC(tok, "hi hi hi", NULL, 4, 0, 7, 8, 2);
    int ids[8], n;
    ck_assert_int_eq(bt_tok_encode(tok, "hi", "hi", 3, ids, NULL, &n, &err), BT_EINPUT);
    bt_tok_free(tok);

    /* tokenizer_class alone says RoBERTa; add_prefix_space puts a space before the text */
    d = tiny_dir(NULL, "{\"tokenizer_class\": \"RobertaTokenizerFast\", "
                       "\"add_prefix_space\": true, \"model_max_length\": 512}");
    ck_assert_msg(bt_tok_load(d, &tok, &err) == BT_OK, "%s", err.msg);
    ck_assert_int_eq(bt_tok_model_max_length(tok), 512);
    ENC(tok, "hi", NULL, 64, 0, 8, 2);
    ENC(tok, "hi", "hi", 64, 0, 8, 2, 2, 8, 2);
    bt_tok_free(tok);

    /* added_tokens_decoder's flags win: here <mask> swallows the space after, not before */
    d = tiny_dir("{\"model_type\": \"roberta\"}",
                 "{\"added_tokens_decoder\": {\"9\": {\"content\": \"<mask>\", \"lstrip\": false, "
                 "\"rstrip\": true, \"special\": true}}}");
    ck_assert_msg(bt_tok_load(d, &tok, &err) == BT_OK, "%s", err.msg);
    ENC(tok, "hi <mask> hi", NULL, 64, 0, 7, 6, 9, 7, 2);
    bt_tok_free(tok);

    /* GPT-2 conventions on the same files: nothing added, a pair is a + b */
    d = tiny_dir("{\"model_type\": \"gpt2\"}", "{\"unk_token\": \"<unk>\"}");
    ck_assert_msg(bt_tok_load(d, &tok, &err) == BT_OK, "%s", err.msg);
    ck_assert_int_eq(bt_tok_num_special_tokens(tok, 1), 0);
    ENC(tok, "hi", "hi hi", 64, 7, 7, 8);
    ENC(tok, "hi hi hi", "hi", 3, 7, 8, 7);
    bt_tok_free(tok);
}
END_TEST

/* --- bad model directories --- */

static void expect_load_error(const char *dir, const char *needle) {
    bt_tok *tok = (bt_tok *)1;
    bt_error err = {0};
    ck_assert_int_eq(bt_tok_load(dir, &tok, &err), BT_EINPUT);
    ck_assert(tok == NULL);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
    ck_assert_msg(!strchr(err.msg, '\n'), "message '%s' is not one line", err.msg);
}

START_TEST(load_errors) {
    const char *d = tu_tmpdir();
    tu_write_file(d, "vocab.json", TINY_VOCAB, strlen(TINY_VOCAB));
    tu_write_file(d, "merges.txt", "#version: 0.2\nh i\nh i x\n", 23);
    expect_load_error(d, "merges.txt:3: expected two symbols separated by one space");
    tu_write_file(d, "merges.txt", "h i\nz i\n", 8);
    expect_load_error(d, "merges.txt:2: 'z' is not in vocab.json");
    tu_write_file(d, "merges.txt", "h i\ni h\n", 8);
    expect_load_error(d, "merges.txt:2: 'ih' is not in vocab.json");
    tu_write_file(d, "merges.txt", TINY_MERGES, strlen(TINY_MERGES));

    tu_write_file(d, "vocab.json", "{\"a\": 0,", 8);
    expect_load_error(d, "vocab.json: invalid JSON near byte");
    tu_write_file(d, "vocab.json", "{}", 2);
    expect_load_error(d, "vocab.json: no tokens");
    tu_write_file(d, "vocab.json", "[1, 2]", 6);
    expect_load_error(d, "vocab.json: top level is not a JSON object");
    tu_write_file(d, "vocab.json", "{\"a\": 0, \"b\": -1}", 17);
    expect_load_error(d, "vocab.json: the id of \"b\" is not an integer in [0, 16777215]");
    tu_write_file(d, "vocab.json", "{\"a\": 0, \"b\": \"1\"}", 18);
    expect_load_error(d, "the id of \"b\" is not an integer");
    tu_write_file(d, "vocab.json", "{\"a\": 0.5}", 10);
    expect_load_error(d, "the id of \"a\" is not an integer");
    tu_write_file(d, "vocab.json", "{\"\xff\": 0}", 8);
    expect_load_error(d, "vocab.json: token 0 is not valid UTF-8");
    /* without <unk>, every byte must have a token */
    const char *no_unk = "{\"h\": 0, \"i\": 1, \"hi\": 2, \"\\u0120\": 3, \"\\u0120hi\": 4}";
    tu_write_file(d, "vocab.json", no_unk, strlen(no_unk));
    expect_load_error(d, "vocab.json: no token for byte 0x00 ('\xc4\x80') and no unk_token");

    tu_write_file(d, "vocab.json", TINY_VOCAB, strlen(TINY_VOCAB));
    tu_write_file(d, "config.json", "{\"model_type\": \"openai-gpt\"}", 28);
    { /* openai-gpt has its own tokenizer (openai_bpe.c, tests/text/gpt_compare.py) */
        bt_tok *gpt = NULL;
        bt_error gerr = {0};
        ck_assert_msg(bt_tok_load(d, &gpt, &gerr) == BT_OK, "%s", gerr.msg);
        ck_assert_int_eq(bt_tok_kind_of(gpt), BT_TOK_OPENAI_BPE);
        bt_tok_free(gpt);
    }
    tu_write_file(d, "config.json", "{\"model_type\": \"bert\"}", 22);
    expect_load_error(d, "model_type 'bert' has no known byte-level BPE conventions");
    tu_write_file(d, "config.json", "{\"model_type\": 3}", 17);
    expect_load_error(d, "config.json: field 'model_type' must be a string");
    tu_write_file(d, "config.json", "{\"model_type\": \"roberta\"}", 25);
    tu_write_file(d, "tokenizer_config.json", "{\"tokenizer_class\": \"BertTokenizer\"}", 36);
    expect_load_error(d, "tokenizer_config.json: tokenizer_class 'BertTokenizer' is not a "
                         "byte-level BPE tokenizer");
    tu_write_file(d, "tokenizer_config.json", "{\"add_prefix_space\": 1}", 23);
    expect_load_error(d, "field 'add_prefix_space' must be true or false");
    tu_write_file(d, "tokenizer_config.json", "{\"cls_token\": \"<cls>\"}", 22);
    expect_load_error(d, "vocab.json: no token '<cls>' (the cls_token)");
    tu_write_file(d, "tokenizer_config.json", "{\"sep_token\": null}", 19);
    expect_load_error(d, "the sep_token is null in the tokenizer config, RoBERTa needs one");
    tu_write_file(d, "tokenizer_config.json", "{\"added_tokens_decoder\": {\"x\": {}}}", 35);
    expect_load_error(d, "added_tokens_decoder key 'x' is not an id");
    tu_write_file(d, "tokenizer_config.json", "{\"mask_token\": {\"content\": \"<mask>\", "
                  "\"lstrip\": \"yes\"}}", 55);
    expect_load_error(d, "field 'mask_token.lstrip' must be true or false");

    const char *e = tu_tmpdir();
    tu_write_file(e, "vocab.json", TINY_VOCAB, strlen(TINY_VOCAB));
    expect_load_error(e, "no tokenizer files");
}
END_TEST

int main(void) {
    Suite *s = suite_create("bpe");
    TCase *tc = tcase_create("bpe");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, byte_map);
    tcase_add_test(tc, pretokenize_contractions);
    tcase_add_test(tc, pretokenize_classes);
    tcase_add_test(tc, pretokenize_whitespace);
    tcase_add_test(tc, gpt2_hand_cases);
    tcase_add_test(tc, gpt2_round_trip_and_cap);
    tcase_add_test(tc, roberta_conventions);
    tcase_add_test(tc, load_errors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
