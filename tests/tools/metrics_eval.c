/* Reads metric cases from stdin and prints what bertology computes, for metrics_check.py to
 * compare against scipy/sklearn.
 *   class K N  + N lines "pred label"  ->  acc f1 mcc acc_and_f1 (whole), then the same from
 *                                          three partial tables merged (must be identical)
 *   reg N      + N lines "x y"         ->  pearson spearmanr corr, pearson from moments with
 *                                          shift 0, and with shift 2.5 merged from three parts */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/metrics.h"

static void die(const char *what) {
    fprintf(stderr, "metrics_eval: %s\n", what);
    exit(2);
}

static void classification(void) {
    int k;
    size_t n;
    if (scanf("%d %zu", &k, &n) != 2) die("bad class header");
    int *p = malloc((n + 1) * sizeof *p), *l = malloc((n + 1) * sizeof *l);
    if (!p || !l) die("out of memory");
    for (size_t i = 0; i < n; i++)
        if (scanf("%d %d", &p[i], &l[i]) != 2) die("bad class row");
    bt_error err = {0};
    bt_metric_confusion whole, part[3];
    if (bt_metric_confusion_init(&whole, k, &err) ||
        bt_metric_confusion_add_all(&whole, p, l, n, &err))
        die(err.msg);
    size_t cut[4] = {0, n / 3, n / 2, n};
    for (int c = 0; c < 3; c++) {
        bt_metric_confusion_init(&part[c], k, &err);
        if (bt_metric_confusion_add_all(&part[c], p + cut[c], l + cut[c], cut[c + 1] - cut[c], &err))
            die(err.msg);
    }
    /* merge in a different order than the data to show the order does not matter */
    bt_metric_confusion_merge(&part[2], &part[0], &err);
    bt_metric_confusion_merge(&part[2], &part[1], &err);
    printf("%.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g\n", bt_metric_acc(&whole),
           bt_metric_f1(&whole), bt_metric_mcc(&whole), bt_metric_acc_and_f1(&whole),
           bt_metric_acc(&part[2]), bt_metric_f1(&part[2]), bt_metric_mcc(&part[2]),
           bt_metric_acc_and_f1(&part[2]));
    free(p);
    free(l);
}

static void regression(void) {
    size_t n;
    if (scanf("%zu", &n) != 1) die("bad reg header");
    double *x = malloc((n + 1) * sizeof *x), *y = malloc((n + 1) * sizeof *y);
    if (!x || !y) die("out of memory");
    for (size_t i = 0; i < n; i++)
        if (scanf("%lf %lf", &x[i], &y[i]) != 2) die("bad reg row");
    bt_error err = {0};
    bt_metric_corr_result r;
    if (bt_metric_correlations(x, y, n, &r, &err)) die(err.msg);
    bt_metric_moments m0, part[3];
    bt_metric_moments_init(&m0, 0, 0);
    for (size_t i = 0; i < n; i++) bt_metric_moments_add(&m0, x[i], y[i]);
    size_t cut[4] = {0, n / 3, n / 2, n};
    for (int c = 0; c < 3; c++) {
        bt_metric_moments_init(&part[c], 2.5, 2.5);
        for (size_t i = cut[c]; i < cut[c + 1]; i++) bt_metric_moments_add(&part[c], x[i], y[i]);
    }
    bt_metric_moments_merge(&part[0], &part[1], &err);
    bt_metric_moments_merge(&part[0], &part[2], &err);
    printf("%.17g %.17g %.17g %.17g %.17g\n", r.pearson, r.spearmanr, r.corr,
           bt_metric_moments_pearson(&m0), bt_metric_moments_pearson(&part[0]));
    free(x);
    free(y);
}

int main(void) {
    char kind[16];
    while (scanf("%15s", kind) == 1) {
        if (strcmp(kind, "class") == 0) classification();
        else if (strcmp(kind, "reg") == 0) regression();
        else die("unknown case kind");
    }
    return 0;
}
