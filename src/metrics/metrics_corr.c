/* Pearson and Spearman correlations (regression tasks: STS-B). */
#include "bertology/common.h"
#include "bertology/metrics.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

void bt_metric_moments_init(bt_metric_moments *m, double shift_x, double shift_y) {
    *m = (bt_metric_moments){.shift_x = shift_x, .shift_y = shift_y};
}

void bt_metric_moments_add(bt_metric_moments *m, double x, double y) {
    double dx = x - m->shift_x, dy = y - m->shift_y;
    m->n += 1.0;
    m->sx += dx;
    m->sy += dy;
    m->sxx += dx * dx;
    m->syy += dy * dy;
    m->sxy += dx * dy;
}

int bt_metric_moments_merge(bt_metric_moments *dst, const bt_metric_moments *src, bt_error *err) {
    if (dst->shift_x != src->shift_x || dst->shift_y != src->shift_y)
        return bt_error_set(err, BT_EINPUT, "moment merge: shifts (%g, %g) vs (%g, %g)",
                            dst->shift_x, dst->shift_y, src->shift_x, src->shift_y);
    dst->n += src->n;
    dst->sx += src->sx;
    dst->sy += src->sy;
    dst->sxx += src->sxx;
    dst->syy += src->syy;
    dst->sxy += src->sxy;
    return BT_OK;
}

/* r from shifted sums; a variance at or below tol times its raw second moment counts as zero. */
static double pearson_from_sums(const bt_metric_moments *m, double tol) {
    const double n = m->n;
    if (n < 2) return NAN;
    double vx = m->sxx - m->sx * m->sx / n;
    double vy = m->syy - m->sy * m->sy / n;
    double cov = m->sxy - m->sx * m->sy / n;
    if (!(vx > tol * m->sxx) || !(vy > tol * m->syy)) return NAN;
    double r = cov / sqrt(vx * vy);
    return r > 1.0 ? 1.0 : r < -1.0 ? -1.0 : r; /* as scipy: rounding may step past ±1 */
}

/* Summing n squares carries a relative error up to n·eps; a variance below that is rounding
 * noise (constant data, or a shift far from the data) and the ratio would be garbage. */
double bt_metric_moments_pearson(const bt_metric_moments *m) {
    return pearson_from_sums(m, m->n * DBL_EPSILON);
}

static int is_constant(const double *x, size_t n) {
    for (size_t i = 1; i < n; i++)
        if (!(x[i] == x[0])) return 0;
    return 1;
}

/* Two passes: the means become the shifts, so Σdx ≈ 0 and nothing cancels. Constant input is
 * caught exactly (as scipy does) because a computed mean need not equal the constant. */
double bt_metric_pearson(const double *x, const double *y, size_t n) {
    if (n < 2 || is_constant(x, n) || is_constant(y, n)) return NAN;
    double sx = 0, sy = 0;
    for (size_t i = 0; i < n; i++) {
        sx += x[i];
        sy += y[i];
    }
    bt_metric_moments m;
    bt_metric_moments_init(&m, sx / (double)n, sy / (double)n);
    for (size_t i = 0; i < n; i++) bt_metric_moments_add(&m, x[i], y[i]);
    return pearson_from_sums(&m, 0.0);
}

/* Total order: numbers ascending, NaN last, ties by input position (qsort is not stable). */
static int cmp_item(const void *pa, const void *pb) {
    const bt_metric_rank_item *a = pa, *b = pb;
    int an = isnan(a->v), bn = isnan(b->v);
    if (an != bn) return an - bn;
    if (!an && a->v != b->v) return a->v < b->v ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

void bt_metric_rankdata(const double *x, size_t n, double *rank, bt_metric_rank_item *scratch) {
    for (size_t i = 0; i < n; i++) scratch[i] = (bt_metric_rank_item){x[i], i};
    qsort(scratch, n, sizeof *scratch, cmp_item);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && (scratch[j].v == scratch[i].v ||
                         (isnan(scratch[j].v) && isnan(scratch[i].v))))
            j++;
        /* positions i..j-1 hold ranks i+1..j; ties share their mean */
        double r = 0.5 * (double)(i + 1 + j);
        for (size_t k = i; k < j; k++) rank[scratch[k].i] = r;
        i = j;
    }
}

int bt_metric_spearmanr(const double *x, const double *y, size_t n, double *out, bt_error *err) {
    *out = NAN;
    for (size_t i = 0; i < n; i++)
        if (isnan(x[i]) || isnan(y[i])) return BT_OK; /* scipy's nan_policy='propagate' */
    if (n < 2) return BT_OK;
    double *ranks = bt_malloc(2 * n, sizeof *ranks, "spearmanr", NULL);
    bt_metric_rank_item *items = bt_malloc(n, sizeof *items, "spearmanr", NULL);
    if (!ranks || !items) {
        free(ranks);
        free(items);
        return bt_error_set(err, BT_EINTERNAL, "spearmanr: out of memory for %zu values", n);
    }
    bt_metric_rankdata(x, n, ranks, items);
    bt_metric_rankdata(y, n, ranks + n, items);
    *out = bt_metric_pearson(ranks, ranks + n, n);
    free(ranks);
    free(items);
    return BT_OK;
}

int bt_metric_correlations(const double *pred, const double *target, size_t n,
                           bt_metric_corr_result *out, bt_error *err) {
    out->pearson = bt_metric_pearson(pred, target, n);
    int rc = bt_metric_spearmanr(pred, target, n, &out->spearmanr, err);
    out->corr = 0.5 * (out->pearson + out->spearmanr);
    return rc;
}
