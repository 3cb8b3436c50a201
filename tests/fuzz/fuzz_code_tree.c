/* Parse, leaves, U-AST distances, sub-token owners and the CAT-score (src/code/) on arbitrary
 * code: the first input byte picks the language (low 2 bits) and the graph (bit 2); the rest is
 * the code, of any bytes (invalid UTF-8, NULs, deep nesting). Checked: leaves ascend without
 * overlap inside the code; distances are symmetric, 0 only on the diagonal, 1 between
 * consecutive leaves on the U-AST; an owner leaf holds the sub-token's first non-space byte; a
 * CAT-score is NaN or within [0, 1]. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/code.h"
#include "fuzz_util.h"

#define MAX_N 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const int lang = data[0] & 3;
    const bt_code_graph_kind kind = data[0] & 4 ? BT_CODE_PLAIN : BT_CODE_UAST;
    const char *code = (const char *)data + 1;
    const size_t len = size - 1;
    bt_code_tree t;
    bt_error err = {0};
    int rc = bt_code_parse(lang, code, len, kind, &t, &err);
    fz_check_failure(rc, &err);
    if (rc) return 0;
    for (int32_t i = 0; i < t.n_leaves; i++) {
        if (t.leaf_end[i] <= t.leaf_start[i] || t.leaf_end[i] > len) abort();
        if (i && t.leaf_start[i] < t.leaf_end[i - 1]) abort();
        if (t.leaf_node[i] <= 0 || t.leaf_node[i] >= t.n_nodes || strstr(t.leaf_type[i], "comment")) abort();
    }
    const int n = t.n_leaves < MAX_N ? t.n_leaves : MAX_N;
    int32_t leaves[MAX_N], dist[MAX_N * MAX_N];
    for (int i = 0; i < n; i++) leaves[i] = i;
    int32_t *work = malloc(2 * (size_t)t.n_nodes * sizeof *work);
    if (!work) abort();
    bt_code_distances(&t, n, leaves, dist, work);
    free(work);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            const int32_t d = dist[i * n + j];
            if (d != dist[j * n + i] || (d == 0) != (i == j) || d < 0) abort();
            if (kind == BT_CODE_UAST && j == i + 1 && d != 1) abort();
        }
    /* every byte as the start of a two-byte sub-token */
    for (size_t b = 0; b + 1 < len && b < 256; b++) {
        const int32_t o = bt_code_owner_leaf(&t, code, len, (int64_t)b, (int64_t)b + 2);
        if (o < -1 || o >= t.n_leaves) abort();
        if (o >= 0) {
            size_t f = b;
            while (f < b + 2 && strchr(" \t\n\r\v\f", code[f]) && code[f]) f++;
            if (f >= b + 2 || f < t.leaf_start[o] || f >= t.leaf_end[o]) abort();
        }
    }
    if (n >= 2) {
        double att[MAX_N * MAX_N], w[MAX_N * MAX_N];
        for (int k = 0; k < n * n; k++) att[k] = (double)data[k % size] / 255.0;
        const double s = bt_code_cat_score(n, att, dist, bt_code_dist_threshold(n, dist, w), w);
        if (!isnan(s) && (s < 0 || s > 1)) abort();
    }
    bt_code_tree_free(&t);
    return 0;
}
