/* The code floor on snippets small enough to draw by hand: leaves, U-AST and plain-AST
 * distances, sub-token owners, quantiles and CAT-scores (docs/spec.md "Code structure"). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/code.h"
#include "testutil.h"

static bt_code_tree parse(const char *lang, const char *code, bt_code_graph_kind kind) {
    bt_code_tree t;
    bt_error err = {0};
    const int l = bt_code_lang_find(lang);
    ck_assert_int_ge(l, 0);
    ck_assert_msg(bt_code_parse(l, code, strlen(code), kind, &t, &err) == 0, "%s", err.msg);
    return t;
}

static void leaf_text(const bt_code_tree *t, const char *code, int i, char *buf, size_t n) {
    const size_t len = t->leaf_end[i] - t->leaf_start[i];
    ck_assert_uint_lt(len, n);
    memcpy(buf, code + t->leaf_start[i], len);
    buf[len] = '\0';
}

/* distances between all code leaves */
static int32_t *all_distances(const bt_code_tree *t) {
    const int n = t->n_leaves;
    int32_t *leaves = malloc((size_t)n * sizeof *leaves), *d = malloc((size_t)n * n * sizeof *d);
    int32_t *work = malloc(2 * (size_t)t->n_nodes * sizeof *work);
    for (int i = 0; i < n; i++) leaves[i] = i;
    bt_code_distances(t, n, leaves, d, work);
    free(leaves);
    free(work);
    return d;
}

START_TEST(languages) {
    ck_assert_int_eq(bt_code_lang_find("python"), 0);
    ck_assert_int_eq(bt_code_lang_find("javascript"), 3);
    ck_assert_int_eq(bt_code_lang_find("Python"), -1);
    ck_assert_int_eq(bt_code_lang_find("ruby"), -1);
    ck_assert_int_eq(bt_code_lang_find(NULL), -1);
    for (int l = 0; l < BT_CODE_N_LANGS; l++) ck_assert_int_eq(bt_code_lang_find(bt_code_lang_name(l)), l);
    ck_assert_ptr_null(bt_code_lang_name(BT_CODE_N_LANGS));
    bt_code_tree t;
    bt_error err = {0};
    ck_assert_int_eq(bt_code_parse(7, "x", 1, BT_CODE_UAST, &t, &err), BT_EINPUT);
}
END_TEST

/* x = a + b: module > expression_statement > assignment(x, =, binary_operator(a, +, b)) */
START_TEST(python_assignment) {
    const char *code = "x = a + b\n";
    bt_code_tree t = parse("python", code, BT_CODE_PLAIN);
    ck_assert_int_eq(t.n_nodes, 9);
    ck_assert_int_eq(t.n_leaves, 5);
    const char *text[] = {"x", "=", "a", "+", "b"};
    const char *type[] = {"identifier", "=", "identifier", "+", "identifier"};
    char buf[16];
    for (int i = 0; i < 5; i++) {
        leaf_text(&t, code, i, buf, sizeof buf);
        ck_assert_str_eq(buf, text[i]);
        ck_assert_str_eq(t.leaf_type[i], type[i]);
    }
    int32_t *d = all_distances(&t);
    /* through the tree only */
    const int32_t plain[5][5] = {{0, 2, 3, 3, 3}, {2, 0, 3, 3, 3}, {3, 3, 0, 2, 2}, {3, 3, 2, 0, 2}, {3, 3, 2, 2, 0}};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) ck_assert_msg(d[i * 5 + j] == plain[i][j], "plain %d,%d: %d", i, j, d[i * 5 + j]);
    free(d);
    bt_code_tree_free(&t);

    /* U-AST: consecutive leaves are neighbours too (no identifier repeats) */
    t = parse("python", code, BT_CODE_UAST);
    d = all_distances(&t);
    const int32_t uast[5][5] = {{0, 1, 2, 3, 3}, {1, 0, 1, 2, 3}, {2, 1, 0, 1, 2}, {3, 2, 1, 0, 1}, {3, 3, 2, 1, 0}};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) ck_assert_msg(d[i * 5 + j] == uast[i][j], "uast %d,%d: %d", i, j, d[i * 5 + j]);
    free(d);
    bt_code_tree_free(&t);
}
END_TEST

/* a b c d a, one statement each: the two a's are joined by the identifier edge; the comment is
 * no leaf and does not break the chain of consecutive leaves. */
START_TEST(identifier_edges_and_comments) {
    const char *code = "a\nb  # note\nc\nd\na\n";
    bt_code_tree t = parse("python", code, BT_CODE_UAST);
    ck_assert_int_eq(t.n_leaves, 5);
    int32_t *d = all_distances(&t);
    ck_assert_int_eq(d[0 * 5 + 4], 1); /* a .. a */
    ck_assert_int_eq(d[1 * 5 + 4], 2); /* b, a, a */
    ck_assert_int_eq(d[1 * 5 + 2], 1); /* b, c across the comment */
    ck_assert_int_eq(d[2 * 5 + 4], 2); /* c, d, a */
    free(d);
    bt_code_tree_free(&t);
    t = parse("python", code, BT_CODE_PLAIN);
    d = all_distances(&t);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) ck_assert_int_eq(d[i * 5 + j], i == j ? 0 : 4); /* leaf, statement, module */
    free(d);
    bt_code_tree_free(&t);
}
END_TEST

/* In every language the code leaves, in order, are the code's non-space bytes outside comments. */
static void check_cover(const char *lang, const char *code, const char *expect) {
    bt_code_tree t = parse(lang, code, BT_CODE_UAST);
    ck_assert_msg(!t.has_error, "%s: parse error", lang);
    char got[512] = "";
    size_t n = 0;
    for (int i = 0; i < t.n_leaves; i++) {
        ck_assert_msg(i == 0 || t.leaf_start[i] >= t.leaf_end[i - 1], "%s: leaves overlap", lang);
        for (uint32_t b = t.leaf_start[i]; b < t.leaf_end[i]; b++)
            if (!strchr(" \t\n", code[b])) got[n++] = code[b];
    }
    got[n] = '\0';
    ck_assert_msg(!strcmp(got, expect), "%s: leaves give '%s'", lang, got);
    bt_code_tree_free(&t);
}

START_TEST(every_language_covers_its_code) {
    check_cover("python", "def f(x):\n    # c\n    return x + 1\n", "deff(x):returnx+1");
    check_cover("java", "class A { /* c */ int f() { return 2; } }", "classA{intf(){return2;}}");
    check_cover("go", "package main\n// c\nfunc f() int { return 3 }\n", "packagemainfuncf()int{return3}");
    check_cover("javascript", "function f(a) { return a * 2; } // c\n", "functionf(a){returna*2;}");
}
END_TEST

/* Byte-level BPE sub-tokens as GPT-2/RoBERTa cut them: leading spaces, a newline with the
 * indentation, a sub-token over two leaves, a split multi-byte identifier. */
START_TEST(owner_leaf) {
    const char *code = "def f(x):\n    return \xc3\xa9x\n";
    const size_t len = strlen(code);
    bt_code_tree t = parse("python", code, BT_CODE_UAST);
    char buf[16];
    struct {
        int64_t s, e;
        const char *leaf; /* NULL: none */
    } cases[] = {{0, 3, "def"},    {3, 5, "f"},      {5, 6, "("},     {6, 7, "x"},         {7, 9, ")"},
                 {9, 14, NULL},    {13, 20, "return"}, {20, 22, "\xc3\xa9x"}, {22, 23, "\xc3\xa9x"},
                 {24, 25, NULL},   {3, 3, NULL},     {-1, 2, NULL},   {20, 99, NULL}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const int32_t i = bt_code_owner_leaf(&t, code, len, cases[k].s, cases[k].e);
        if (!cases[k].leaf) {
            ck_assert_msg(i == -1, "case %zu: leaf %d", k, i);
            continue;
        }
        ck_assert_msg(i >= 0, "case %zu: no leaf", k);
        leaf_text(&t, code, i, buf, sizeof buf);
        ck_assert_msg(!strcmp(buf, cases[k].leaf), "case %zu: '%s'", k, buf);
    }
    bt_code_tree_free(&t);
}
END_TEST

static int dcmp(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

START_TEST(quantiles) {
    double v[] = {4, 1, 3, 2};
    ck_assert_double_eq_tol(bt_code_quantile(v, 4, 0.75), 3.25, 1e-15);
    double w[] = {4, 1, 3, 2};
    ck_assert_double_eq_tol(bt_code_quantile(w, 4, 0.25), 1.75, 1e-15);
    double one[] = {5};
    ck_assert_double_eq(bt_code_quantile(one, 1, 0.75), 5);
    /* against a sort, with many ties */
    srand(7);
    for (int rep = 0; rep < 200; rep++) {
        const size_t m = 1 + (size_t)(rand() % 300);
        double *a = malloc(m * sizeof *a), *s = malloc(m * sizeof *s);
        for (size_t i = 0; i < m; i++) a[i] = s[i] = (double)(rand() % (rep % 2 ? 5 : 1000)) / 7.0;
        qsort(s, m, sizeof *s, dcmp);
        const double q = rep % 3 ? 0.75 : 0.25, pos = q * (double)(m - 1);
        const size_t lo = (size_t)pos;
        const double g = pos - (double)lo, hi = lo + 1 < m ? s[lo + 1] : s[lo];
        const double want = g >= 0.5 ? hi - (hi - s[lo]) * (1 - g) : s[lo] + (hi - s[lo]) * g;
        ck_assert_msg(bt_code_quantile(a, m, q) == want, "m %zu q %g", m, q);
        free(a);
        free(s);
    }
}
END_TEST

START_TEST(cat_scores) {
    /* 4 leaves; distances: 0 on the diagonal, 1..3 elsewhere, so theta_D = 0.75 and M_D = diagonal */
    const int32_t dist[16] = {0, 1, 2, 3, 1, 0, 1, 2, 2, 1, 0, 1, 3, 2, 1, 0};
    double work[16];
    const double td = bt_code_dist_threshold(4, dist, work);
    ck_assert_double_eq_tol(td, 0.75, 1e-15);
    double att[16];
    for (int i = 0; i < 16; i++) att[i] = i % 5 == 0 ? 1.0 : 0.1;
    /* 12 x 0.1 and 4 x 1: theta_A = 0.325, M_A = the diagonal */
    ck_assert_double_eq_tol(bt_code_cat_score(4, att, dist, td, work), 1.0, 1e-15);
    /* 11 x 0.1, 0.2, 0.9, 3 x 1: theta_A = 0.375, M_A = {(0,0), (0,1), (2,2), (3,3)}: 3 / 5 */
    att[1] = 0.9;
    att[5] = 0.2;
    ck_assert_double_eq_tol(bt_code_cat_score(4, att, dist, td, work), 0.6, 1e-15);
    /* 11 x 0.1, 5 x 1: theta_A = 1, M_A empty, M_D the diagonal: 0 */
    att[5] = 1.0;
    att[1] = 1.0;
    ck_assert_double_eq_tol(bt_code_cat_score(4, att, dist, td, work), 0.0, 1e-15);
    /* two leaves at distance 1 and uniform attention: both masks empty, skipped */
    const int32_t d2[4] = {0, 1, 1, 0};
    const double a2[4] = {0.5, 0.5, 0.5, 0.5};
    ck_assert(isnan(bt_code_cat_score(2, a2, d2, bt_code_dist_threshold(2, d2, work), work)));
}
END_TEST

START_TEST(leaf_attention) {
    /* tokens: special, two of leaf 0, one of leaf 1 */
    const int32_t tok[4] = {-1, 0, 0, 1}, count[2] = {2, 1};
    float att[16];
    for (int i = 0; i < 16; i++) att[i] = (float)(i + 1) / 16.0f;
    double out[4];
    bt_code_leaf_attention(4, att, tok, 2, count, out);
    /* rows 1, 2 are queries of leaf 0; columns 1, 2 keys of leaf 0, column 3 of leaf 1 */
    ck_assert_double_eq_tol(out[0], (6 + 7 + 10 + 11) / 16.0 / 4, 1e-7);
    ck_assert_double_eq_tol(out[1], (8 + 12) / 16.0 / 2, 1e-7);
    ck_assert_double_eq_tol(out[2], (14 + 15) / 16.0 / 2, 1e-7);
    ck_assert_double_eq_tol(out[3], 16 / 16.0, 1e-7);
}
END_TEST

/* Hostile shapes: nesting as deep as the code is long (the walk does not recurse), the longest
 * snippet of unmatched brackets allowed (tree-sitter's own error recovery broke above it), one
 * byte over the limit, invalid UTF-8. */
START_TEST(hostile) {
    const size_t depth = BT_CODE_MAX_BYTES / 2;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '(', depth);
    memset(deep + depth, ')', depth);
    deep[2 * depth] = '\0';
    bt_code_tree t = parse("python", deep, BT_CODE_PLAIN);
    ck_assert_int_eq(t.n_leaves, (int)(2 * depth));
    ck_assert(!t.has_error);
    int32_t *work = malloc(2 * (size_t)t.n_nodes * sizeof *work), leaves[3] = {0, (int32_t)depth - 1, t.n_leaves - 1},
            d[9];
    bt_code_distances(&t, 3, leaves, d, work);
    ck_assert_int_eq(d[2], 2);               /* a bracket and its match share their node */
    ck_assert_int_gt(d[1], (int32_t)depth); /* the innermost is a node per level further down */
    free(work);
    bt_code_tree_free(&t);
    for (int lang = 0; lang < BT_CODE_N_LANGS; lang++) { /* unmatched in every grammar but python's */
        bt_code_tree u = parse(bt_code_lang_name(lang), deep, BT_CODE_UAST);
        ck_assert_int_eq(u.n_leaves, (int)(2 * depth));
        bt_code_tree_free(&u);
    }
    free(deep);

    bt_error err = {0};
    char *big = calloc(BT_CODE_MAX_BYTES + 1, 1);
    memset(big, ' ', BT_CODE_MAX_BYTES + 1);
    ck_assert_int_eq(bt_code_parse(0, big, BT_CODE_MAX_BYTES + 1, BT_CODE_UAST, &t, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "65536 bytes"), "%s", err.msg);
    ck_assert_ptr_null(t.adj);
    free(big);

    t = parse("javascript", "var \xff\xfe = '\xc3';\n", BT_CODE_UAST);
    ck_assert_int_ge(t.n_leaves, 1);
    bt_code_tree_free(&t);
}
END_TEST

Suite *code_suite(void) {
    Suite *s = suite_create("code");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, languages);
    tcase_add_test(tc, python_assignment);
    tcase_add_test(tc, identifier_edges_and_comments);
    tcase_add_test(tc, every_language_covers_its_code);
    tcase_add_test(tc, owner_leaf);
    tcase_add_test(tc, quantiles);
    tcase_add_test(tc, cat_scores);
    tcase_add_test(tc, leaf_attention);
    tcase_add_test(tc, hostile);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(code_suite()); }
