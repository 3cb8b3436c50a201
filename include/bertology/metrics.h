/* metrics: the GLUE evaluation metrics of SPEC.md "Metrics (GLUE)", computed in double.
 *
 * Classification metrics come from a confusion count table that ranks fill locally and merge by
 * plain summation (int64 counts, so an MPI_Reduce(MPI_SUM) of .count is exact and does not depend
 * on the number of ranks). Pearson comes from shifted moment sums, mergeable the same way.
 * Spearman ranks the whole prediction set, so it needs the full arrays (gather them first).
 *
 * Conventions, chosen to match the references researchers compare against:
 *   acc        sklearn accuracy_score
 *   f1         sklearn f1_score, positive class 1 (one-vs-rest for class 1 when K > 2);
 *              0 when there are neither predicted nor true positives
 *   mcc        sklearn matthews_corrcoef (Gorodkin's R_K for K > 2); 0 when its denominator is 0
 *   pearson    scipy.stats.pearsonr; NaN when either side is constant or n < 2
 *   spearmanr  scipy.stats.spearmanr with average ranks for ties; NaN as for pearson and when
 *              any input is NaN
 *   acc_and_f1 (acc + f1) / 2;  corr (pearson + spearmanr) / 2   (HF glue_compute_metrics)
 * Every metric of an empty set is NaN. */
#ifndef BERTOLOGY_METRICS_H
#define BERTOLOGY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "bertology/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    BT_METRIC_ACC = 0,
    BT_METRIC_F1,
    BT_METRIC_ACC_AND_F1,
    BT_METRIC_MCC,
    BT_METRIC_PEARSON,
    BT_METRIC_SPEARMANR,
    BT_METRIC_CORR,
    BT_METRIC_COUNT
} bt_metric_id;

/* "acc", "f1", "acc_and_f1", "mcc", "pearson", "spearmanr", "corr" (HF's dictionary keys);
 * NULL for an id out of range. */
const char *bt_metric_name(bt_metric_id id);
/* The id for a name above; BT_EINPUT with the list of known names otherwise. */
int bt_metric_find(const char *name, bt_metric_id *id, bt_error *err);
/* 1 for pearson, spearmanr, corr (they need real-valued predictions), 0 otherwise. */
int bt_metric_is_regression(bt_metric_id id);

/* What a task reports and which of those the masking search uses (SPEC table; each GLUE task
 * has its set: bertology/glue.h). */
#define BT_METRIC_SET_MAX 3
typedef struct {
    bt_metric_id default_metric;
    int n;
    bt_metric_id ids[BT_METRIC_SET_MAX];
} bt_metric_set;

/* ---- classification: confusion counts ---- */

#define BT_METRIC_MAX_CLASSES 8
typedef struct {
    int num_classes;
    /* count[t * BT_METRIC_MAX_CLASSES + p]: examples of true class t predicted as p. Only the
     * num_classes x num_classes corner is used; the fixed size keeps the struct flat so that
     * ranks can reduce .count as one MPI_INT64_T array of BT_METRIC_MAX_CLASSES^2 entries. */
    int64_t count[BT_METRIC_MAX_CLASSES * BT_METRIC_MAX_CLASSES];
} bt_metric_confusion;

/* Zeroes c for num_classes in 2..BT_METRIC_MAX_CLASSES. */
int bt_metric_confusion_init(bt_metric_confusion *c, int num_classes, bt_error *err);
/* Counts one example; BT_EINPUT if pred or label is outside 0..num_classes-1. */
int bt_metric_confusion_add(bt_metric_confusion *c, int pred, int label, bt_error *err);
/* Counts n examples (pred[i], label[i]); stops at the first bad index, naming it. */
int bt_metric_confusion_add_all(bt_metric_confusion *c, const int *pred, const int *label,
                                size_t n, bt_error *err);
/* dst += src; BT_EINPUT if the class counts differ. */
int bt_metric_confusion_merge(bt_metric_confusion *dst, const bt_metric_confusion *src,
                              bt_error *err);
int64_t bt_metric_confusion_total(const bt_metric_confusion *c);

double bt_metric_acc(const bt_metric_confusion *c);
double bt_metric_f1(const bt_metric_confusion *c);
double bt_metric_mcc(const bt_metric_confusion *c);
double bt_metric_acc_and_f1(const bt_metric_confusion *c);

/* ---- regression: moment sums and full-array correlations ---- */

/* Sums of (x - shift_x), (y - shift_y) and their products. Merge only sums taken with the same
 * shifts. The shift is there because Σx² - (Σx)²/n cancels catastrophically when |mean| is large
 * against the spread: the relative error of r grows like n·eps·(1 + (mean - shift)²/variance).
 * A shift near the means (STS-B: 2.5, the middle of the 0..5 scale) keeps it at a few ulps;
 * when the sums cannot resolve the variance at all the result is NaN, not noise. */
typedef struct {
    double shift_x, shift_y;
    double n, sx, sy, sxx, syy, sxy;
} bt_metric_moments;

void bt_metric_moments_init(bt_metric_moments *m, double shift_x, double shift_y);
void bt_metric_moments_add(bt_metric_moments *m, double x, double y);
/* dst += src; BT_EINPUT if the shifts differ. */
int bt_metric_moments_merge(bt_metric_moments *dst, const bt_metric_moments *src, bt_error *err);
double bt_metric_moments_pearson(const bt_metric_moments *m);

/* Two-pass Pearson over full arrays (exact means as shifts). */
double bt_metric_pearson(const double *x, const double *y, size_t n);
/* Spearman's rho with average ranks for ties. Allocates 32n bytes of scratch (BT_EINTERNAL if
 * that fails); *out is NaN as described above. */
int bt_metric_spearmanr(const double *x, const double *y, size_t n, double *out, bt_error *err);
/* Average ranks (1-based, ties share the mean of their positions) of x into rank; scratch holds
 * n entries. NaN inputs are ranked last in input order. */
typedef struct {
    double v;
    size_t i;
} bt_metric_rank_item;
void bt_metric_rankdata(const double *x, size_t n, double *rank, bt_metric_rank_item *scratch);

/* pearson, spearmanr and corr of full arrays in one go. */
typedef struct {
    double pearson, spearmanr, corr;
} bt_metric_corr_result;
int bt_metric_correlations(const double *pred, const double *target, size_t n,
                           bt_metric_corr_result *out, bt_error *err);

#ifdef __cplusplus
}
#endif
#endif
