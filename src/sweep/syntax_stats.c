/* The per-sentence statistic of bertology/syntax.h: Clark et al.'s get_word_word_attention
 * (mode "mean") and attn_head_predictor, as docs/spec.md states them. */
#include <string.h>

#include "bertology/syntax.h"

const int bt_syntax_offsets[BT_SYNTAX_N_OFFSETS] = {-3, -2, -1, 1, 2, 3};

/* Tokens of map word w: the specials are one word per token. */
static void word_span(const bt_syntax_sentence *s, int w, int *first, int *count) {
    const int P = s->n_prefix, n = s->n_words;
    if (w < P) *first = w, *count = 1;
    else if (w < P + n) *first = s->first[w - P], *count = s->count[w - P];
    else *first = s->n_tokens - s->n_suffix + (w - P - n), *count = 1;
}

void bt_syntax_word_attention(const float *A, const bt_syntax_sentence *s, double *colsum, double *W) {
    const int T = s->n_tokens, m = bt_syntax_map_words(s);
    /* attention to a word: sum over its pieces (columns), for every token row */
    for (int j = 0; j < m; j++) {
        int f, c;
        word_span(s, j, &f, &c);
        for (int t = 0; t < T; t++) {
            double acc = 0.0;
            for (int p = f; p < f + c; p++) acc += (double)A[(size_t)t * T + p];
            colsum[(size_t)t * m + j] = acc;
        }
    }
    /* attention from a word: mean over its pieces (rows) */
    for (int i = 0; i < m; i++) {
        int f, c;
        word_span(s, i, &f, &c);
        double *row = W + (size_t)i * m;
        for (int j = 0; j < m; j++) row[j] = 0.0;
        for (int t = f; t < f + c; t++)
            for (int j = 0; j < m; j++) row[j] += colsum[(size_t)t * m + j];
        for (int j = 0; j < m; j++) row[j] /= (double)c;
    }
}

void bt_syntax_predict(const double *W, const bt_syntax_sentence *s, int direction, int *pred) {
    const int P = s->n_prefix, n = s->n_words, m = bt_syntax_map_words(s);
    for (int i = 0; i < n; i++) {
        int best = 0;
        double bv = 0.0;
        for (int j = 0; j < n; j++) {
            /* the diagonal counts as 0, as in Clark's code (not excluded) */
            const double v = i == j ? 0.0
                             : direction == BT_SYNTAX_DEP_TO_HEAD ? W[(size_t)(P + i) * m + P + j]
                                                                  : W[(size_t)(P + j) * m + P + i];
            if (j == 0 || v > bv) best = j, bv = v;
        }
        pred[i] = best + 1;
    }
}

void bt_syntax_count(const int *pred, const bt_syntax_sentence *s, int R, int64_t *correct, ptrdiff_t stride) {
    for (int i = 0; i < s->n_words; i++) {
        if (s->head[i] == 0 || pred[i] != s->head[i]) continue;
        correct[(ptrdiff_t)s->rel[i] * stride]++;
        correct[(ptrdiff_t)(R - 1) * stride]++;
    }
}

void bt_syntax_count_arcs(const bt_syntax_sentence *s, int R, int64_t *arcs, int64_t *base) {
    const int n = s->n_words;
    for (int i = 0; i < n; i++) {
        if (s->head[i] == 0) continue;
        arcs[s->rel[i]]++;
        arcs[R - 1]++;
        for (int k = 0; k < BT_SYNTAX_N_OFFSETS; k++) {
            int h = i + 1 + bt_syntax_offsets[k];
            h = h < 1 ? 1 : h > n ? n : h;
            if (h != s->head[i]) continue;
            base[(size_t)s->rel[i] * BT_SYNTAX_N_OFFSETS + k]++;
            base[(size_t)(R - 1) * BT_SYNTAX_N_OFFSETS + k]++;
        }
    }
}
