/* Clark's head-as-parser statistic (bertology/syntax.h) on hand-made attention maps, every
 * expected number worked out by hand in the comments. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "bertology/syntax.h"
#include "testutil.h"

/* [CLS] w1 w2a w2b w3 [SEP]: T = 6, words of the map: CLS w1 w2 w3 SEP (m = 5). */
static const int FIRST[3] = {1, 2, 4}, COUNT[3] = {1, 2, 1};
static const int HEAD[3] = {2, 0, 2}, REL[3] = {0, 1, 1};

static bt_syntax_sentence sent(void) {
    return (bt_syntax_sentence){.n_words = 3, .n_tokens = 6, .n_prefix = 1, .n_suffix = 1,
                                .first = FIRST, .count = COUNT, .head = HEAD, .rel = REL};
}

/* rows = from-token, columns = to-token */
static const float A[36] = {
    /*          CLS   w1    w2a   w2b   w3    SEP */
    /* CLS */ 0.50f, 0.10f, 0.10f, 0.10f, 0.10f, 0.10f,
    /* w1  */ 0.10f, 0.20f, 0.25f, 0.25f, 0.10f, 0.10f, /* to w2: 0.5 */
    /* w2a */ 0.30f, 0.10f, 0.10f, 0.10f, 0.30f, 0.10f,
    /* w2b */ 0.10f, 0.10f, 0.10f, 0.10f, 0.50f, 0.10f, /* w2 -> w3: mean(0.3, 0.5) = 0.4 */
    /* w3  */ 0.40f, 0.30f, 0.00f, 0.10f, 0.10f, 0.10f, /* to w1 0.3, to w2 0.1 */
    /* SEP */ 0.20f, 0.20f, 0.20f, 0.20f, 0.10f, 0.10f,
};

START_TEST(word_attention_sums_columns_and_averages_rows) {
    bt_syntax_sentence s = sent();
    ck_assert_int_eq(bt_syntax_map_words(&s), 5);
    double colsum[6 * 5], W[25];
    bt_syntax_word_attention(A, &s, colsum, W);
    /* row w1 (one piece): CLS 0.1, w1 0.2, w2 0.25+0.25, w3 0.1, SEP 0.1 */
    const double w1[5] = {0.1, 0.2, 0.5, 0.1, 0.1};
    /* row w2 = mean of rows w2a, w2b: CLS (0.3+0.1)/2, w1 (0.1+0.1)/2, w2 (0.2+0.2)/2, w3 (0.3+0.5)/2, SEP 0.1 */
    const double w2[5] = {0.2, 0.1, 0.2, 0.4, 0.1};
    /* row w3: CLS 0.4, w1 0.3, w2 0.0+0.1, w3 0.1, SEP 0.1 */
    const double w3[5] = {0.4, 0.3, 0.1, 0.1, 0.1};
    for (int j = 0; j < 5; j++) {
        ck_assert_double_eq_tol(W[1 * 5 + j], w1[j], 1e-7);
        ck_assert_double_eq_tol(W[2 * 5 + j], w2[j], 1e-7);
        ck_assert_double_eq_tol(W[3 * 5 + j], w3[j], 1e-7);
    }
    /* each row of a softmax map still sums to 1 */
    for (int i = 0; i < 5; i++) {
        double t = 0;
        for (int j = 0; j < 5; j++) t += W[i * 5 + j];
        ck_assert_double_eq_tol(t, 1.0, 1e-6);
    }
}
END_TEST

START_TEST(predicts_both_directions_without_specials) {
    bt_syntax_sentence s = sent();
    double colsum[30], W[25];
    int pred[3];
    bt_syntax_word_attention(A, &s, colsum, W);
    /* dep->head, words only, diagonal 0:
     *   w1: (0, 0.5, 0.1) -> w2;  w2: (0.1, 0, 0.4) -> w3;  w3: (0.3, 0.1, 0) -> w1
     * (w3's 0.4 to [CLS] does not count) */
    bt_syntax_predict(W, &s, BT_SYNTAX_DEP_TO_HEAD, pred);
    ck_assert_int_eq(pred[0], 2);
    ck_assert_int_eq(pred[1], 3);
    ck_assert_int_eq(pred[2], 1);
    /* head->dep: column i of the words-only map:
     *   w1: (0, 0.1, 0.3) -> w3;  w2: (0.5, 0, 0.1) -> w1;  w3: (0.1, 0.4, 0) -> w2 */
    bt_syntax_predict(W, &s, BT_SYNTAX_HEAD_TO_DEP, pred);
    ck_assert_int_eq(pred[0], 3);
    ck_assert_int_eq(pred[1], 1);
    ck_assert_int_eq(pred[2], 2);
}
END_TEST

START_TEST(ties_go_to_the_first_word_diagonal_included) {
    /* a causal map: word 1 sees only itself, so its row is all 0 once the diagonal is zeroed and
     * numpy's argmax picks index 0, i.e. word 1 itself */
    static const int first[2] = {0, 1}, count[2] = {1, 1}, head[2] = {2, 0}, rel[2] = {0, 0};
    const bt_syntax_sentence s = {.n_words = 2, .n_tokens = 2, .first = first, .count = count, .head = head, .rel = rel};
    const float a[4] = {1.0f, 0.0f, 0.5f, 0.5f};
    double colsum[4], W[4];
    int pred[2];
    bt_syntax_word_attention(a, &s, colsum, W);
    bt_syntax_predict(W, &s, BT_SYNTAX_DEP_TO_HEAD, pred);
    ck_assert_int_eq(pred[0], 1);
    ck_assert_int_eq(pred[1], 1);
    /* equal values: the first */
    const float b[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    bt_syntax_word_attention(b, &s, colsum, W);
    bt_syntax_predict(W, &s, BT_SYNTAX_HEAD_TO_DEP, pred);
    ck_assert_int_eq(pred[0], 1);
    ck_assert_int_eq(pred[1], 1);
}
END_TEST

START_TEST(counts_non_root_arcs_per_relation_and_all) {
    bt_syntax_sentence s = sent();
    /* R = 3: relations 0, 1 and "all" = 2; stride 2 to check it is honoured */
    int64_t correct[6] = {0};
    const int right[3] = {2, 1, 2};  /* w1 right (rel 0), w2 root (never counted), w3 right (rel 1) */
    bt_syntax_count(right, &s, 3, correct, 2);
    ck_assert_int_eq(correct[0], 1);
    ck_assert_int_eq(correct[2], 1);
    ck_assert_int_eq(correct[4], 2);
    ck_assert_int_eq(correct[1] + correct[3] + correct[5], 0);
    const int wrong[3] = {3, 2, 1};
    memset(correct, 0, sizeof correct);
    bt_syntax_count(wrong, &s, 3, correct, 1);
    for (int k = 0; k < 6; k++) ck_assert_int_eq(correct[k], 0);
}
END_TEST

START_TEST(offset_baselines_clip_to_the_sentence) {
    bt_syntax_sentence s = sent();
    int64_t arcs[3] = {0}, base[3 * 6] = {0};
    bt_syntax_count_arcs(&s, 3, arcs, base);
    ck_assert_int_eq(arcs[0], 1);
    ck_assert_int_eq(arcs[1], 1);
    ck_assert_int_eq(arcs[2], 2);
    /* w1 (head 2, rel 0): i+k clipped to 1..3 for k = -3 -2 -1 1 2 3 -> 1 1 1 2 3 3: only +1
     * w3 (head 2, rel 1): 3+k -> 1 1 2 3 3 3: only -1 */
    const int64_t want0[6] = {0, 0, 0, 1, 0, 0}, want1[6] = {0, 0, 1, 0, 0, 0};
    for (int k = 0; k < 6; k++) {
        ck_assert_int_eq(base[0 * 6 + k], want0[k]);
        ck_assert_int_eq(base[1 * 6 + k], want1[k]);
        ck_assert_int_eq(base[2 * 6 + k], want0[k] + want1[k]);
    }
    ck_assert_int_eq(bt_syntax_offsets[3], 1);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("syntax");
    TCase *t = tcase_create("statistic");
    tcase_add_test(t, word_attention_sums_columns_and_averages_rows);
    tcase_add_test(t, predicts_both_directions_without_specials);
    tcase_add_test(t, ties_go_to_the_first_word_diagonal_included);
    tcase_add_test(t, counts_non_root_arcs_per_relation_and_all);
    tcase_add_test(t, offset_baselines_clip_to_the_sentence);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tu_run_suite(suite()); }
