/* GLUE metrics on cases small enough to compute by hand (the random and edge-case comparison
 * against scipy/sklearn is tests/text/metrics_check.py). */
#include <check.h>
#include <math.h>
#include <string.h>

#include "bertology/metrics.h"
#include "testutil.h"

#define EPS 1e-15

static bt_metric_confusion conf(int k, const int *pred, const int *label, size_t n) {
    bt_metric_confusion c;
    bt_error err = {0};
    ck_assert_int_eq(bt_metric_confusion_init(&c, k, &err), 0);
    ck_assert_msg(bt_metric_confusion_add_all(&c, pred, label, n, &err) == 0, "%s", err.msg);
    return c;
}

START_TEST(names) {
    bt_metric_id id;
    bt_error err = {0};
    for (int i = 0; i < BT_METRIC_COUNT; i++) {
        ck_assert_int_eq(bt_metric_find(bt_metric_name((bt_metric_id)i), &id, &err), 0);
        ck_assert_int_eq(id, i);
    }
    ck_assert_str_eq(bt_metric_name(BT_METRIC_SPEARMANR), "spearmanr");
    ck_assert_str_eq(bt_metric_name(BT_METRIC_ACC_AND_F1), "acc_and_f1");
    ck_assert_ptr_null(bt_metric_name(BT_METRIC_COUNT));
    ck_assert_int_eq(bt_metric_find("accuracy", &id, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "accuracy") && strstr(err.msg, "corr"), "%s", err.msg);
    ck_assert(bt_metric_is_regression(BT_METRIC_CORR) && !bt_metric_is_regression(BT_METRIC_MCC));

}
END_TEST

/* tp=6 tn=3 fp=1 fn=2:
 *   acc = 9/12, f1 = 12/(12+1+2) = 0.8,
 *   mcc = (6*3 - 1*2) / sqrt(7*8*4*5) = 16/sqrt(1120) = 0.47809144373375745 */
START_TEST(binary_by_hand) {
    int label[12], pred[12], k = 0;
    for (int i = 0; i < 6; i++) label[k] = 1, pred[k++] = 1;
    for (int i = 0; i < 3; i++) label[k] = 0, pred[k++] = 0;
    label[k] = 0, pred[k++] = 1;
    for (int i = 0; i < 2; i++) label[k] = 1, pred[k++] = 0;
    bt_metric_confusion c = conf(2, pred, label, 12);
    ck_assert_int_eq(bt_metric_confusion_total(&c), 12);
    ck_assert_double_eq_tol(bt_metric_acc(&c), 0.75, EPS);
    ck_assert_double_eq_tol(bt_metric_f1(&c), 0.8, EPS);
    ck_assert_double_eq_tol(bt_metric_mcc(&c), 0.47809144373375745, EPS);
    ck_assert_double_eq_tol(bt_metric_acc_and_f1(&c), 0.775, EPS);

    /* sklearn docs: matthews_corrcoef([+1,+1,+1,-1], [+1,-1,+1,+1]) = -0.333... (here -1 -> 0) */
    int y[] = {1, 1, 1, 0}, p[] = {1, 0, 1, 1};
    c = conf(2, p, y, 4);
    ck_assert_double_eq_tol(bt_metric_mcc(&c), -1.0 / 3.0, EPS);
}
END_TEST

START_TEST(degenerate) {
    /* all one class, predicted right: acc 1, mcc 0 (denominator 0), f1 of an absent class 0 */
    int zeros[5] = {0}, ones[5] = {1, 1, 1, 1, 1};
    bt_metric_confusion c = conf(2, zeros, zeros, 5);
    ck_assert_double_eq(bt_metric_acc(&c), 1.0);
    ck_assert_double_eq(bt_metric_mcc(&c), 0.0);
    ck_assert_double_eq(bt_metric_f1(&c), 0.0);
    /* constant predictions against mixed labels: mcc 0, f1 = 2*2/(2*2+3) */
    int mixed[5] = {1, 0, 1, 0, 0};
    c = conf(2, ones, mixed, 5);
    ck_assert_double_eq(bt_metric_mcc(&c), 0.0);
    ck_assert_double_eq_tol(bt_metric_f1(&c), 4.0 / 7.0, EPS);
    ck_assert_double_eq_tol(bt_metric_acc(&c), 0.4, EPS);
    /* perfectly inverted */
    int inv[5] = {0, 1, 0, 1, 1};
    c = conf(2, inv, mixed, 5);
    ck_assert_double_eq_tol(bt_metric_mcc(&c), -1.0, EPS);
    ck_assert_double_eq(bt_metric_acc(&c), 0.0);
    /* empty: NaN everywhere */
    bt_error err = {0};
    bt_metric_confusion_init(&c, 2, &err);
    ck_assert(isnan(bt_metric_acc(&c)) && isnan(bt_metric_f1(&c)) && isnan(bt_metric_mcc(&c)));
}
END_TEST

/* 3 classes, confusion (rows true, cols pred) [[2,1,0],[0,2,1],[1,0,2]]: t = p = (3,3,3),
 * c = 6, s = 9: R_K = (6*9 - 27) / sqrt((81-27)(81-27)) = 27/54 = 0.5 */
START_TEST(multiclass_by_hand) {
    int label[] = {0, 0, 0, 1, 1, 1, 2, 2, 2}, pred[] = {0, 0, 1, 1, 1, 2, 2, 2, 0};
    bt_metric_confusion c = conf(3, pred, label, 9);
    ck_assert_double_eq_tol(bt_metric_mcc(&c), 0.5, EPS);
    ck_assert_double_eq_tol(bt_metric_acc(&c), 6.0 / 9.0, EPS);
    /* class 1 vs rest: tp 2, fp 1, fn 1 -> 4/6 */
    ck_assert_double_eq_tol(bt_metric_f1(&c), 4.0 / 6.0, EPS);
}
END_TEST

START_TEST(confusion_merge_and_errors) {
    int label[] = {0, 2, 1, 1, 0, 2, 2}, pred[] = {0, 1, 1, 2, 0, 2, 0};
    bt_metric_confusion whole = conf(3, pred, label, 7);
    bt_metric_confusion a = conf(3, pred, label, 3), b = conf(3, pred + 3, label + 3, 4);
    bt_error err = {0};
    ck_assert_int_eq(bt_metric_confusion_merge(&a, &b, &err), 0);
    ck_assert_mem_eq(&a, &whole, sizeof a);
    ck_assert_double_eq(bt_metric_mcc(&a), bt_metric_mcc(&whole));

    bt_metric_confusion two = conf(2, pred, pred, 1);
    ck_assert_int_eq(bt_metric_confusion_merge(&a, &two, &err), BT_EINPUT);
    ck_assert_int_eq(bt_metric_confusion_add(&two, 2, 0, &err), BT_EINPUT);
    ck_assert_int_eq(bt_metric_confusion_add(&two, 0, -1, &err), BT_EINPUT);
    int bad[] = {0, 1, 5};
    ck_assert_int_eq(bt_metric_confusion_add_all(&two, bad, bad, 3, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "example 2") && strstr(err.msg, "5"), "%s", err.msg);
    ck_assert_int_eq(bt_metric_confusion_init(&two, 1, &err), BT_EINPUT);
    ck_assert_int_eq(bt_metric_confusion_init(&two, BT_METRIC_MAX_CLASSES + 1, &err), BT_EINPUT);
}
END_TEST

/* x = (1,2,3,4), y = (2,4,5,9): dx = (-1.5,-.5,.5,1.5), dy = (-3,-1,0,4);
 * Σdxdy = 4.5+.5+0+6 = 11, Σdx² = 5, Σdy² = 26 -> r = 11/sqrt(130) */
START_TEST(pearson_by_hand) {
    double x[] = {1, 2, 3, 4}, y[] = {2, 4, 5, 9};
    const double want = 11.0 / sqrt(130.0);
    ck_assert_double_eq_tol(bt_metric_pearson(x, y, 4), want, EPS);
    bt_metric_moments m, m2;
    bt_metric_moments_init(&m, 0, 0);
    bt_metric_moments_init(&m2, 0, 0);
    for (int i = 0; i < 2; i++) bt_metric_moments_add(&m, x[i], y[i]);
    for (int i = 2; i < 4; i++) bt_metric_moments_add(&m2, x[i], y[i]);
    bt_error err = {0};
    ck_assert_int_eq(bt_metric_moments_merge(&m, &m2, &err), 0);
    ck_assert_double_eq_tol(bt_metric_moments_pearson(&m), want, EPS);
    bt_metric_moments_init(&m2, 2.5, 0);
    ck_assert_int_eq(bt_metric_moments_merge(&m, &m2, &err), BT_EINPUT);

    /* a shift keeps the large-offset case exact where raw sums cancel */
    double xo[4], yo[4];
    for (int i = 0; i < 4; i++) xo[i] = 1e9 + x[i], yo[i] = y[i];
    ck_assert_double_eq_tol(bt_metric_pearson(xo, yo, 4), want, 1e-12);
    bt_metric_moments_init(&m, 1e9, 0);
    for (int i = 0; i < 4; i++) bt_metric_moments_add(&m, xo[i], yo[i]);
    ck_assert_double_eq_tol(bt_metric_moments_pearson(&m), want, 1e-12);

    double c[] = {0.1, 0.1, 0.1, 0.1};
    ck_assert(isnan(bt_metric_pearson(c, y, 4)));
    ck_assert(isnan(bt_metric_pearson(x, y, 1)));
    bt_metric_moments_init(&m, 0, 0);
    for (int i = 0; i < 4; i++) bt_metric_moments_add(&m, c[i], y[i]);
    ck_assert(isnan(bt_metric_moments_pearson(&m)));
}
END_TEST

/* x = (1,2,2,3) ranks (1,2.5,2.5,4); y = (10,20,30,40) ranks (1,2,3,4):
 * r = 4.5 / sqrt(4.5 * 5) = 0.9486832980505138 */
START_TEST(spearman_by_hand) {
    double x[] = {1, 2, 2, 3}, y[] = {10, 20, 30, 40}, rank[4];
    bt_metric_rank_item scratch[4];
    bt_metric_rankdata(x, 4, rank, scratch);
    ck_assert_double_eq(rank[0], 1.0);
    ck_assert_double_eq(rank[1], 2.5);
    ck_assert_double_eq(rank[2], 2.5);
    ck_assert_double_eq(rank[3], 4.0);
    double r;
    bt_error err = {0};
    ck_assert_int_eq(bt_metric_spearmanr(x, y, 4, &r, &err), 0);
    ck_assert_double_eq_tol(r, 4.5 / sqrt(22.5), EPS);
    /* monotone but non-linear: rho 1, pearson below 1 */
    double e[] = {1, 10, 100, 1000};
    ck_assert_int_eq(bt_metric_spearmanr(e, y, 4, &r, &err), 0);
    ck_assert_double_eq_tol(r, 1.0, EPS);
    bt_metric_corr_result cr;
    ck_assert_int_eq(bt_metric_correlations(e, y, 4, &cr, &err), 0);
    ck_assert_double_eq_tol(cr.corr, 0.5 * (cr.pearson + 1.0), EPS);
    ck_assert(cr.pearson < 0.99);
    /* NaN anywhere, constant side, too short: NaN */
    double n1[] = {1, NAN, 2, 3}, c[] = {7, 7, 7, 7};
    ck_assert_int_eq(bt_metric_spearmanr(n1, y, 4, &r, &err), 0);
    ck_assert(isnan(r));
    ck_assert_int_eq(bt_metric_spearmanr(c, y, 4, &r, &err), 0);
    ck_assert(isnan(r));
    ck_assert_int_eq(bt_metric_spearmanr(x, y, 1, &r, &err), 0);
    ck_assert(isnan(r));
    ck_assert_int_eq(bt_metric_spearmanr(x, y, 0, &r, &err), 0);
    ck_assert(isnan(r));
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, names);
    tcase_add_test(tc, binary_by_hand);
    tcase_add_test(tc, degenerate);
    tcase_add_test(tc, multiclass_by_hand);
    tcase_add_test(tc, confusion_merge_and_errors);
    tcase_add_test(tc, pearson_by_hand);
    tcase_add_test(tc, spearman_by_hand);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite()); }
