/* Classification metrics from confusion counts. Counts are integers, so merging ranks' tables
 * is exact; every metric is a closed form of the counts. */
#include "bertology/metrics.h"

#include <math.h>
#include <string.h>

#define K BT_METRIC_MAX_CLASSES

int bt_metric_confusion_init(bt_metric_confusion *c, int num_classes, bt_error *err) {
    memset(c, 0, sizeof *c);
    if (num_classes < 2 || num_classes > K)
        return bt_error_set(err, BT_EINPUT, "confusion table: %d classes (supported: 2..%d)",
                            num_classes, K);
    c->num_classes = num_classes;
    return BT_OK;
}

int bt_metric_confusion_add(bt_metric_confusion *c, int pred, int label, bt_error *err) {
    if (pred < 0 || pred >= c->num_classes || label < 0 || label >= c->num_classes)
        return bt_error_set(err, BT_EINPUT,
                            "confusion table: prediction %d / label %d outside 0..%d", pred, label,
                            c->num_classes - 1);
    c->count[label * K + pred]++;
    return BT_OK;
}

int bt_metric_confusion_add_all(bt_metric_confusion *c, const int *pred, const int *label,
                                size_t n, bt_error *err) {
    for (size_t i = 0; i < n; i++) {
        if (bt_metric_confusion_add(c, pred[i], label[i], err)) {
            bt_error_prefix(err, "example %zu", i);
            return BT_EINPUT;
        }
    }
    return BT_OK;
}

int bt_metric_confusion_merge(bt_metric_confusion *dst, const bt_metric_confusion *src,
                              bt_error *err) {
    if (dst->num_classes != src->num_classes)
        return bt_error_set(err, BT_EINPUT, "confusion merge: %d classes vs %d", dst->num_classes,
                            src->num_classes);
    for (int i = 0; i < K * K; i++) dst->count[i] += src->count[i];
    return BT_OK;
}

int64_t bt_metric_confusion_total(const bt_metric_confusion *c) {
    int64_t s = 0;
    for (int i = 0; i < K * K; i++) s += c->count[i];
    return s;
}

double bt_metric_acc(const bt_metric_confusion *c) {
    int64_t n = bt_metric_confusion_total(c), hit = 0;
    for (int k = 0; k < c->num_classes; k++) hit += c->count[k * K + k];
    return n ? (double)hit / (double)n : NAN;
}

/* F1 of class 1 against the rest: 2tp / (2tp + fp + fn), which is sklearn's 2PR/(P+R) without
 * its two intermediate divisions; 0 when the class is neither predicted nor present. */
double bt_metric_f1(const bt_metric_confusion *c) {
    int64_t n = bt_metric_confusion_total(c);
    if (n == 0) return NAN;
    int64_t tp = c->count[1 * K + 1], pred1 = 0, true1 = 0;
    for (int k = 0; k < c->num_classes; k++) {
        pred1 += c->count[k * K + 1];
        true1 += c->count[1 * K + k];
    }
    int64_t den = pred1 + true1; /* = 2tp + fp + fn */
    return den ? 2.0 * (double)tp / (double)den : 0.0;
}

/* Gorodkin's R_K (binary MCC for K = 2), as sklearn: with t_k true and p_k predicted counts,
 * c correct of s examples, (c s - Σ t_k p_k) / sqrt((s² - Σ p_k²)(s² - Σ t_k²)). The three
 * terms are exact in int64 for s < 3e9; only the final product goes through double. */
double bt_metric_mcc(const bt_metric_confusion *c) {
    int64_t t[K] = {0}, p[K] = {0}, s = 0, correct = 0;
    for (int i = 0; i < c->num_classes; i++) {
        for (int j = 0; j < c->num_classes; j++) {
            int64_t v = c->count[i * K + j];
            t[i] += v;
            p[j] += v;
            s += v;
        }
        correct += c->count[i * K + i];
    }
    if (s == 0) return NAN;
    int64_t tp = 0, pp = 0, tt = 0;
    for (int k = 0; k < c->num_classes; k++) {
        tp += t[k] * p[k];
        pp += p[k] * p[k];
        tt += t[k] * t[k];
    }
    int64_t cov_tp = correct * s - tp, cov_pp = s * s - pp, cov_tt = s * s - tt;
    if (cov_pp == 0 || cov_tt == 0) return 0.0;
    return (double)cov_tp / sqrt((double)cov_tt * (double)cov_pp);
}

double bt_metric_acc_and_f1(const bt_metric_confusion *c) {
    return 0.5 * (bt_metric_acc(c) + bt_metric_f1(c));
}
