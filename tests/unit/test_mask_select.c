/* Head choice of the masking search (bt_sweep_mask_select / _candidates) and the option checks
 * (bt_sweep_mask_check), against hand-worked cases. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "bertology/sweep.h"
#include "testutil.h"

/* 2 layers x 3 heads */
static const float IMP[6] = {0.50f, 0.10f, 0.90f, 0.10f, 0.00f, 0.70f};

START_TEST(lowest_first_ties_by_index) {
    float mask[6] = {1, 1, 1, 1, 1, 1};
    /* ascending: 4 (0.0), then 1 and 3 tie at 0.1 -> 1 before 3 */
    ck_assert_int_eq(bt_sweep_mask_select(IMP, 2, 3, 2, 0, mask), 2);
    const float want[6] = {1, 0, 1, 1, 0, 1};
    ck_assert_mem_eq(mask, want, sizeof want);
    ck_assert_int_eq(bt_sweep_mask_select(IMP, 2, 3, 1, 0, mask), 1);
    const float want2[6] = {1, 0, 1, 0, 0, 1};
    ck_assert_mem_eq(mask, want2, sizeof want2);
}
END_TEST

START_TEST(masked_heads_are_never_chosen_again) {
    float mask[6] = {1, 0, 1, 1, 0, 1}; /* the two lowest are off already */
    ck_assert_int_eq(bt_sweep_mask_select(IMP, 2, 3, 2, 0, mask), 2);
    const float want[6] = {0, 0, 1, 0, 0, 1}; /* 3 (0.1) then 0 (0.5) */
    ck_assert_mem_eq(mask, want, sizeof want);
}
END_TEST

START_TEST(min_per_layer_protects_the_most_important) {
    float mask[6] = {1, 1, 1, 1, 1, 1};
    /* K = 2: layer 0 keeps 2 (0.9) and 0 (0.5), layer 1 keeps 5 (0.7) and 3 (0.1, beats 4's 0.0):
     * only heads 1 and 4 can go */
    ck_assert_int_eq(bt_sweep_mask_candidates(mask, 2, 3, 2), 2);
    ck_assert_int_eq(bt_sweep_mask_select(IMP, 2, 3, 3, 2, mask), 2); /* too many asked: unchanged */
    const float ones[6] = {1, 1, 1, 1, 1, 1};
    ck_assert_mem_eq(mask, ones, sizeof ones);
    ck_assert_int_eq(bt_sweep_mask_select(IMP, 2, 3, 2, 2, mask), 2);
    const float want[6] = {1, 0, 1, 1, 0, 1};
    ck_assert_mem_eq(mask, want, sizeof want);
    ck_assert_int_eq(bt_sweep_mask_candidates(mask, 2, 3, 2), 0);
    ck_assert_int_eq(bt_sweep_mask_candidates(mask, 2, 3, 1), 2);
}
END_TEST

START_TEST(protection_ties_keep_the_lower_head) {
    const float flat[4] = {0.3f, 0.3f, 0.3f, 0.3f};
    float mask[4] = {1, 1, 1, 1};
    ck_assert_int_eq(bt_sweep_mask_select(flat, 1, 4, 3, 1, mask), 3);
    const float want[4] = {1, 0, 0, 0};
    ck_assert_mem_eq(mask, want, sizeof want);
}
END_TEST

START_TEST(nan_counts_as_most_important) {
    const float imp[3] = {NAN, 0.2f, 0.1f};
    float mask[3] = {1, 1, 1};
    ck_assert_int_eq(bt_sweep_mask_select(imp, 1, 3, 2, 0, mask), 2);
    const float want[3] = {1, 0, 0};
    ck_assert_mem_eq(mask, want, sizeof want);
    float m2[3] = {1, 1, 1};
    ck_assert_int_eq(bt_sweep_mask_select(imp, 1, 3, 1, 1, m2), 1); /* NaN head protected */
    const float want2[3] = {1, 1, 0};
    ck_assert_mem_eq(m2, want2, sizeof want2);
}
END_TEST

static bt_metric_set SET = {BT_METRIC_ACC, 1, {BT_METRIC_ACC}};

static bt_sweep_mask_options opts(void) {
    bt_sweep_mask_options o;
    memset(&o, 0, sizeof o);
    o.threshold = 0.9, o.amount = 0.1;
    o.pass = bt_sweep_options_default();
    o.pass.metrics = &SET;
    return o;
}

static void bad(const bt_sweep_mask_options *o, int L, int H, const char *words) {
    bt_error err = {0};
    ck_assert_int_eq(bt_sweep_mask_check(o, L, H, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, words), "'%s' lacks '%s'", err.msg, words);
}

START_TEST(option_checks) {
    bt_error err = {0};
    bt_sweep_mask_options o = opts();
    ck_assert_int_eq(bt_sweep_mask_check(&o, 12, 12, &err), BT_OK);
    o.threshold = 1.0;
    bad(&o, 12, 12, "(0, 1)");
    o = opts(), o.threshold = NAN;
    bad(&o, 12, 12, "threshold");
    o = opts(), o.amount = 0.0;
    bad(&o, 12, 12, "amount");
    o = opts(), o.min_heads_per_layer = 13;
    bad(&o, 12, 12, "12 heads");
    o = opts(), o.pass.metrics = NULL;
    bad(&o, 12, 12, "metric");
    o = opts(), o.exact = 1;
    bad(&o, 12, 12, "percents");
    const double up[3] = {10, 50, 90}, down[2] = {50, 40}, over[1] = {100.5};
    o = opts(), o.percents = up, o.n_percents = 3, o.amount = 0; /* amount unused by a schedule */
    ck_assert_int_eq(bt_sweep_mask_check(&o, 12, 12, &err), BT_OK);
    o.min_heads_per_layer = 2; /* 90% = 129 heads > 144 - 24 */
    bad(&o, 12, 12, "`percents` 90 masks 129 of 144 heads");
    o.min_heads_per_layer = 1; /* 129 <= 132 */
    ck_assert_int_eq(bt_sweep_mask_check(&o, 12, 12, &err), BT_OK);
    o = opts(), o.percents = down, o.n_percents = 2;
    bad(&o, 12, 12, "must increase");
    o = opts(), o.percents = over, o.n_percents = 1;
    bad(&o, 12, 12, "(0, 100]");
    float start[6] = {1, 1, 1, 0, 0, 1};
    o = opts(), o.pass.head_mask = start, o.min_heads_per_layer = 2;
    bad(&o, 2, 3, "layer 1 with 1 heads");
    o.min_heads_per_layer = 1;
    ck_assert_int_eq(bt_sweep_mask_check(&o, 2, 3, &err), BT_OK);
}
END_TEST

int main(void) {
    Suite *s = suite_create("mask_select");
    TCase *t = tcase_create("select");
    tcase_add_test(t, lowest_first_ties_by_index);
    tcase_add_test(t, masked_heads_are_never_chosen_again);
    tcase_add_test(t, min_per_layer_protects_the_most_important);
    tcase_add_test(t, protection_ties_keep_the_lower_head);
    tcase_add_test(t, nan_counts_as_most_important);
    tcase_add_test(t, option_checks);
    suite_add_tcase(s, t);
    return tu_run_suite(s);
}
