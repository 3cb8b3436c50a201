/* CoNLL-U reader and word alignment (bertology/conllu.h) on hand-made treebanks: what is kept
 * and skipped, label interning, one error per malformed file naming FILE:LINE, and the pieces
 * of each word with the real bert-base-uncased and GPT-2 vocabularies (ids looked up in the
 * vocabulary by token string, the splits worked out by hand). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "bertology/conllu.h"
#include "testutil.h"

/* two sentences: comments, a multiword token (3-4), an empty node (2.1), CRLF on one line,
 * a subtyped relation, no final newline */
static const char TB[] =
    "# sent_id = 1\n"
    "# text = The dog didn't bark\n"
    "1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n"                       /* 3 */
    "2\tdog\tdog\tNOUN\tNN\t_\t5\tnsubj\t_\t_\n"                    /* 4 */
    "2.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t2:ref\t_\n"                 /* 5 */
    "3-4\tdidn't\t_\t_\t_\t_\t_\t_\t_\t_\n"                         /* 6 */
    "3\tdid\tdo\tAUX\tVBD\t_\t5\taux\t_\t_\r\n"                     /* 7 */
    "4\tn't\tnot\tPART\tRB\t_\t5\tadvmod\t_\t_\n"                   /* 8 */
    "5\tbark\tbark\tVERB\tVB\t_\t0\troot\t_\t_\n"                   /* 9 */
    "\n"
    "1\tMy\tmy\tPRON\tPRP$\t_\t2\tnmod:poss\t_\t_\n"               /* 11 */
    "2\tdog\tdog\tNOUN\tNN\t_\t0\troot\t_\t_";                      /* 12 */

START_TEST(reads_words_and_skips_the_rest) {
    bt_conllu c;
    bt_error err = {0};
    ck_assert_msg(bt_conllu_parse("tb.conllu", TB, sizeof TB - 1, 0, &c, &err) == BT_OK, "%s", err.msg);
    ck_assert_int_eq(c.n_sents, 2);
    ck_assert_int_eq(c.n_words, 7);
    ck_assert_int_eq(c.sent_word[1], 5);
    ck_assert_int_eq(c.sent_line[0], 3);
    ck_assert_int_eq(c.sent_line[1], 11);
    const char *forms[7] = {"The", "dog", "did", "n't", "bark", "My", "dog"};
    const int heads[7] = {2, 5, 5, 5, 0, 2, 0};
    for (int i = 0; i < 7; i++) {
        ck_assert_str_eq(c.form[i], forms[i]);
        ck_assert_int_eq(c.head[i], heads[i]);
    }
    ck_assert_int_eq(c.line[2], 7);
    /* names sorted: UPOS AUX DET NOUN PART PRON VERB; relations advmod aux det nmod nsubj root */
    ck_assert_int_eq(c.upos_names.n, 6);
    ck_assert_str_eq(c.upos_names.name[c.upos[0]], "DET");
    ck_assert_str_eq(c.upos_names.name[0], "AUX");
    ck_assert_int_eq(c.rel_names.n, 6);
    ck_assert_str_eq(c.rel_names.name[c.rel[5]], "nmod");
    ck_assert_str_eq(c.deprel_names.name[c.deprel[5]], "nmod:poss");
    ck_assert_int_eq(c.deprel_names.n, 6); /* nmod:poss, not nmod */
    for (int r = 1; r < c.rel_names.n; r++) ck_assert_int_lt(strcmp(c.rel_names.name[r - 1], c.rel_names.name[r]), 0);
    bt_conllu_free(&c);
    /* max_sents */
    ck_assert_int_eq(bt_conllu_parse("tb.conllu", TB, sizeof TB - 1, 1, &c, &err), BT_OK);
    ck_assert_int_eq(c.n_sents, 1);
    ck_assert_int_eq(c.n_words, 5);
    bt_conllu_free(&c);
}
END_TEST

#define W1 "1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n"
#define W2 "2\tdog\tdog\tNOUN\tNN\t_\t0\troot\t_\t_\n"

static const struct {
    const char *text, *want;
} BAD[] = {
    {W1 "2\tdog\tdog\tNOUN\tNN\t_\t0\troot\t_\n", "bad.conllu:2: too few columns"},
    {W1 "2\tdog\tdog\tNOUN\tNN\t_\t0\troot\t_\t_\textra\n", "bad.conllu:2: more than 10 columns"},
    {W1 "2\tdog\tdog\t\tNN\t_\t0\troot\t_\t_\n", "bad.conllu:2: column 4 (UPOS) is empty"},
    {"x\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n" W2, "bad.conllu:1: ID 'x' is not a positive integer"},
    {"0\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n" W2, "bad.conllu:1: ID '0' is not a positive integer"},
    {W1 "3\tdog\tdog\tNOUN\tNN\t_\t0\troot\t_\t_\n", "bad.conllu:2: word ID 3 where 2 was expected"},
    {W1 "2\tdog\tdog\tNOUN\tNN\t_\t_\troot\t_\t_\n", "bad.conllu:2: HEAD '_' is not an integer >= 0"},
    {W1 "2\tdog\tdog\tNOUN\tNN\t_\t-1\troot\t_\t_\n", "bad.conllu:2: HEAD '-1' is not an integer >= 0"},
    {W1 "2\tdog\tdog\tNOUN\tNN\t_\t2\troot\t_\t_\n", "bad.conllu:2: word 2 is its own HEAD"},
    {"1\tThe\tthe\tDET\tDT\t_\t3\tdet\t_\t_\n" W2, "bad.conllu:1: HEAD 3 is outside the sentence of 2 words"},
    {W1 W2 "\n" W1 "2\tdog\tdog\tNOUN\tNN\t_\t1\troot\t_\t_\n", "bad.conllu:4: the sentence has 0 roots"},
    {"# x\n1\tThe\tthe\tDET\tDT\t_\t0\tdet\t_\t_\n" W2, "bad.conllu:2: the sentence has 2 roots"},
    {W1 "2\tdog\tdog\tNOUN\tNN\t_\t0\t:x\t_\t_\n", "bad.conllu:2: DEPREL ':x' has no universal relation"},
    {W1 "2\td\xc3og\tdog\tNOUN\tNN\t_\t0\troot\t_\t_\n", "bad.conllu:2: invalid UTF-8 at byte 4"},
    {"# nothing\n\n\n", "bad.conllu: no sentence"},
};

START_TEST(malformed_files_give_one_clear_error) {
    for (size_t k = 0; k < sizeof BAD / sizeof BAD[0]; k++) {
        bt_conllu c;
        bt_error err = {0};
        const int rc = bt_conllu_parse("bad.conllu", BAD[k].text, strlen(BAD[k].text), 0, &c, &err);
        ck_assert_msg(rc == BT_EINPUT, "case %zu: rc %d (%s)", k, rc, err.msg);
        ck_assert_msg(strstr(err.msg, BAD[k].want) != NULL, "case %zu: '%s' lacks '%s'", k, err.msg, BAD[k].want);
        ck_assert_ptr_null(c.form);
    }
    /* a NUL byte inside a line */
    const char nul[] = W1 "2\tdog\0\tdog\tNOUN\tNN\t_\t0\troot\t_\t_\n";
    bt_conllu c;
    bt_error err = {0};
    ck_assert_int_eq(bt_conllu_parse("bad.conllu", nul, sizeof nul - 1, 0, &c, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "bad.conllu:2: NUL byte") != NULL, "%s", err.msg);
    /* a missing file */
    ck_assert_int_eq(bt_conllu_read("/nonexistent/x.conllu", 0, &c, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "/nonexistent/x.conllu") != NULL, "%s", err.msg);
}
END_TEST

static int id_of(bt_tok *tok, const char *s) {
    const int id = bt_tok_token_to_id(tok, s, strlen(s));
    ck_assert_msg(id >= 0, "'%s' not in the vocabulary", s);
    return id;
}

static bt_tok *load_tok(const char *sub) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/vocab/%s", tu_data_dir(), sub);
    bt_tok *tok = NULL;
    bt_error err = {0};
    ck_assert_msg(bt_tok_load(dir, &tok, &err) == BT_OK, "%s", err.msg);
    return tok;
}

START_TEST(wordpiece_pieces_per_word) {
    bt_tok *tok = load_tok("bert-base-uncased");
    bt_conllu c;
    bt_error err = {0};
    ck_assert_int_eq(bt_conllu_parse("tb.conllu", TB, sizeof TB - 1, 0, &c, &err), BT_OK);
    bt_dataset d;
    bt_conllu_pieces p;
    ck_assert_msg(bt_conllu_encode(&c, tok, 128, &d, &p, &err) == BT_OK, "%s", err.msg);
    ck_assert_int_eq(d.n, 2);
    ck_assert_int_eq(p.n_prefix, 1);
    ck_assert_int_eq(p.n_suffix, 1);
    /* [CLS] the dog did n ' t bark [SEP]: "n't" is three pieces (the basic tokenizer splits at ') */
    const int want[9] = {id_of(tok, "[CLS]"), id_of(tok, "the"), id_of(tok, "dog"), id_of(tok, "did"),
                         id_of(tok, "n"), id_of(tok, "'"), id_of(tok, "t"), id_of(tok, "bark"), id_of(tok, "[SEP]")};
    ck_assert_int_eq(d.len[0], 9);
    for (int t = 0; t < 9; t++) ck_assert_int_eq(d.ids[d.off[0] + t], want[t]);
    const int first[5] = {1, 2, 3, 4, 7}, count[5] = {1, 1, 1, 3, 1};
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(p.first[i], first[i]);
        ck_assert_int_eq(p.count[i], count[i]);
    }
    ck_assert_int_eq(p.word_off[1], 5);
    ck_assert_int_eq(p.head[5], 2);
    ck_assert_int_eq(d.line[1], 11);
    bt_dataset_free(&d);
    bt_conllu_pieces_free(&p);
    /* 8 tokens: the first sentence (9) is skipped and counted, never cut */
    ck_assert_int_eq(bt_conllu_encode(&c, tok, 8, &d, &p, &err), BT_OK);
    ck_assert_int_eq(d.n, 1);
    ck_assert_int_eq(p.sent[0], 1);
    ck_assert_int_eq(p.skipped_long, 1);
    ck_assert_int_eq(p.first[0], 1);
    ck_assert_int_eq(p.rel[0], c.rel[5]);
    bt_dataset_free(&d);
    bt_conllu_pieces_free(&p);
    /* nothing fits */
    ck_assert_int_eq(bt_conllu_encode(&c, tok, 3, &d, &p, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "tb.conllu: no sentence fits in 3 tokens") != NULL, "%s", err.msg);
    bt_conllu_free(&c);
    bt_tok_free(tok);
}
END_TEST

START_TEST(bpe_leading_space_for_every_word_but_the_first) {
    bt_tok *tok = load_tok("gpt2");
    bt_conllu c;
    bt_error err = {0};
    ck_assert_int_eq(bt_conllu_parse("tb.conllu", TB, sizeof TB - 1, 0, &c, &err), BT_OK);
    bt_dataset d;
    bt_conllu_pieces p;
    ck_assert_msg(bt_conllu_encode(&c, tok, 64, &d, &p, &err) == BT_OK, "%s", err.msg);
    ck_assert_int_eq(p.n_prefix + p.n_suffix, 0);
    /* "The" " dog" " did" " n't" " bark": GPT-2 splits " n't" into " n" "'t" (its regex keeps
     * the contraction 't); Ġ is the byte-level space */
    const int want[6] = {id_of(tok, "The"), id_of(tok, "\xc4\xa0" "dog"), id_of(tok, "\xc4\xa0" "did"),
                         id_of(tok, "\xc4\xa0" "n"), id_of(tok, "'t"), id_of(tok, "\xc4\xa0" "bark")};
    ck_assert_int_eq(d.len[0], 6);
    for (int t = 0; t < 6; t++) ck_assert_int_eq(d.ids[d.off[0] + t], want[t]);
    ck_assert_int_eq(p.first[3], 3);
    ck_assert_int_eq(p.count[3], 2);
    ck_assert_int_eq(p.first[4], 5);
    /* the second sentence starts without a space again */
    ck_assert_int_eq(d.ids[d.off[1]], id_of(tok, "My"));
    bt_dataset_free(&d);
    bt_conllu_pieces_free(&p);
    bt_conllu_free(&c);
    bt_tok_free(tok);
}
END_TEST

START_TEST(reads_the_ud_dev_file) {
    char path[1024];
    snprintf(path, sizeof path, "%s/ud/en_ewt/en_ewt-ud-dev.conllu", tu_data_dir());
    bt_conllu c;
    bt_error err = {0};
    ck_assert_msg(bt_conllu_read(path, 0, &c, &err) == BT_OK, "%s", err.msg);
    /* tests/data/SOURCES.md: 2001 sentences; UD's 17 UPOS tags */
    ck_assert_int_eq(c.n_sents, 2001);
    ck_assert_int_eq(c.upos_names.n, 17);
    int roots = 0;
    for (int64_t w = 0; w < c.n_words; w++) roots += c.head[w] == 0;
    ck_assert_int_eq(roots, 2001);
    bt_conllu_free(&c);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("conllu");
    TCase *t = tcase_create("conllu");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, reads_words_and_skips_the_rest);
    tcase_add_test(t, malformed_files_give_one_clear_error);
    tcase_add_test(t, wordpiece_pieces_per_word);
    tcase_add_test(t, bpe_leading_space_for_every_word_but_the_first);
    tcase_add_test(t, reads_the_ud_dev_file);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tu_run_suite(suite()); }
