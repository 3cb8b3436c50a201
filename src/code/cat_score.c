/* Leaf attention and the CAT-score of one example (docs/spec.md "Code structure: CAT-probing").
 * The thresholds are order statistics found by selection, not by sorting: an example has n^2
 * values for each of L*H heads, and a sort of each would outweigh the forward pass. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "bertology/code.h"

void bt_code_leaf_attention(int T, const float *att, const int32_t *tok, int n, const int32_t *count, double *out) {
    memset(out, 0, (size_t)n * n * sizeof *out);
    for (int q = 0; q < T; q++) {
        const int32_t i = tok[q];
        if (i < 0) continue;
        double *row = out + (size_t)i * n;
        const float *a = att + (size_t)q * T;
        for (int k = 0; k < T; k++)
            if (tok[k] >= 0) row[tok[k]] += a[k];
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) out[(size_t)i * n + j] /= (double)count[i] * count[j];
}

static void swap(double *a, double *b) {
    const double t = *a;
    *a = *b;
    *b = t;
}

/* Reorders v so that v[k] is the k-th smallest, everything before it <= and after it >=
 * (Hoare partition around a median of three: many equal values, as uniform attention gives,
 * split evenly instead of degrading to quadratic time). */
static void select_kth(double *v, size_t m, size_t k) {
    size_t lo = 0, hi = m - 1;
    while (hi > lo) {
        const size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < v[lo]) swap(&v[mid], &v[lo]);
        if (v[hi] < v[lo]) swap(&v[hi], &v[lo]);
        if (v[hi] < v[mid]) swap(&v[hi], &v[mid]);
        const double pivot = v[mid];
        size_t i = lo, j = hi;
        for (;;) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i >= j) break;
            swap(&v[i], &v[j]);
            i++;
            j--;
        }
        /* v[lo..j] <= pivot <= v[j+1..hi] */
        if (k <= j)
            hi = j;
        else
            lo = j + 1;
    }
}

double bt_code_quantile(double *v, size_t m, double q) {
    const double pos = q * (double)(m - 1);
    const size_t lo = (size_t)floor(pos);
    const double t = pos - (double)lo;
    select_kth(v, m, lo);
    const double a = v[lo];
    if (lo + 1 >= m) return a;
    double b = v[lo + 1]; /* the smallest value above the lo-th: the minimum of the rest */
    for (size_t i = lo + 2; i < m; i++)
        if (v[i] < b) b = v[i];
    /* numpy's _lerp: from the nearer end, so that t = 1 gives b exactly */
    const double diff = b - a;
    return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

double bt_code_dist_threshold(int n, const int32_t *dist, double *work) {
    const size_t m = (size_t)n * n;
    for (size_t i = 0; i < m; i++) work[i] = dist[i];
    return bt_code_quantile(work, m, 0.25);
}

double bt_code_cat_score(int n, const double *att, const int32_t *dist, double theta_d, double *work) {
    const size_t m = (size_t)n * n;
    memcpy(work, att, m * sizeof *work);
    const double theta_a = bt_code_quantile(work, m, 0.75);
    size_t both = 0, either = 0;
    for (size_t i = 0; i < m; i++) {
        const int ma = att[i] > theta_a, md = dist[i] < theta_d;
        both += (size_t)(ma & md);
        either += (size_t)(ma | md);
    }
    return either ? (double)both / (double)either : NAN;
}
