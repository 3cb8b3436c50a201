/* Language-model text windows (bt_dataset_from_text) on a hand-made file. The ids of each line
 * come from llama.cpp's GPT-2 vectors (data/vocab/gguf/ggml-vocab-gpt-2.gguf.out):
 *   "Hello world" 15496 995            " Hello World!" 18435 2159 0
 *   "Hello, world!" 15496 11 995 0     " Hello, world!" 18435 11 995 0
 *   "3" 18    " " 220                  "!!!!!!" 13896 3228
 * and the windows are cut by hand from those. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/dataset.h"
#include "testutil.h"

static bt_tok *g_tok;

static void setup(void) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/vocab/gpt2", tu_data_dir());
    bt_error err = {0};
    ck_assert_msg(bt_tok_load(dir, &g_tok, &err) == BT_OK, "%s", err.msg);
}

static void teardown(void) { bt_tok_free(g_tok); }

static const char TEXT[] = "Hello world\n"                     /* 1: 2 tokens */
                           " Hello World!\n"                   /* 2: 3 tokens, fits exactly */
                           "\n"                                /* 3: empty */
                           "3\n"                               /* 4: one token */
                           "Hello, world!\n"                   /* 5: 4 -> 3 + 1 */
                           "Hello world\r\n"                   /* 6: CRLF */
                           " Hello World! Hello, world!\n"     /* 7: 7 -> 3 + 3 + 1 */
                           " \n"                               /* 8: one token (220) */
                           "!!!!!!";                           /* 9: no final newline */

static void check_window(const bt_dataset *d, int i, long line, const int *want, int n) {
    ck_assert_int_lt(i, d->n);
    ck_assert_msg(d->len[i] == n, "window %d: %d tokens, want %d", i, d->len[i], n);
    ck_assert_int_eq(d->line[i], line);
    for (int k = 0; k < n; k++) {
        ck_assert_msg(d->ids[d->off[i] + k] == want[k], "window %d token %d: %d, want %d", i, k,
                      d->ids[d->off[i] + k], want[k]);
        ck_assert_int_eq(d->types[d->off[i] + k], 0);
    }
}

#define WIN(d, i, line, ...)                                                                   \
    check_window(d, i, line, (const int[]){__VA_ARGS__},                                       \
                 (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)))

START_TEST(windows_of_three) {
    const char *path = tu_write_file(tu_tmpdir(), "corpus.txt", TEXT, sizeof TEXT - 1);
    bt_dataset d;
    bt_lmtext_stats st;
    bt_error err = {0};
    ck_assert_msg(bt_dataset_from_text(path, g_tok, 3, &d, &st, &err) == BT_OK, "%s", err.msg);
    ck_assert_int_eq(d.n, 7);
    WIN(&d, 0, 1, 15496, 995);
    WIN(&d, 1, 2, 18435, 2159, 0);
    WIN(&d, 2, 5, 15496, 11, 995);
    WIN(&d, 3, 6, 15496, 995);
    WIN(&d, 4, 7, 18435, 2159, 0);
    WIN(&d, 5, 7, 18435, 11, 995);
    WIN(&d, 6, 9, 13896, 3228);
    ck_assert_int_eq(d.n_tokens, 18);
    ck_assert_int_eq(d.max_len, 3);
    for (int i = 1; i < d.n; i++) ck_assert_int_eq(d.off[i], d.off[i - 1] + d.len[i - 1]);
    ck_assert(d.labels == NULL && d.targets == NULL);

    ck_assert_int_eq(st.lines, 9);
    ck_assert_int_eq(st.empty_lines, 1);
    ck_assert_int_eq(st.split_lines, 2);    /* lines 5 and 7 */
    ck_assert_int_eq(st.split_windows, 3);  /* windows 2, 4, 5 */
    ck_assert_int_eq(st.short_windows, 4);  /* lines 4 and 8, the tails of 5 and 7 */
    ck_assert_int_eq(st.windows, 7);
    ck_assert_int_eq(st.tokens, 18);
    ck_assert_int_eq(st.longest_line, 7);
    bt_dataset_free(&d);

    /* a window as long as the longest line: nothing is split */
    ck_assert(bt_dataset_from_text(path, g_tok, 7, &d, &st, &err) == BT_OK);
    ck_assert_int_eq(d.n, 6);
    WIN(&d, 4, 7, 18435, 2159, 0, 18435, 11, 995, 0);
    ck_assert_int_eq(st.split_lines, 0);
    ck_assert_int_eq(st.split_windows, 0);
    ck_assert_int_eq(st.short_windows, 2);
    ck_assert_int_eq(d.n_tokens, 2 + 3 + 4 + 2 + 7 + 2);
    bt_dataset_free(&d);

    /* windows of two: line 7 gives 18435 2159 | 0 18435 | 11 995 | 0 (skipped) */
    ck_assert(bt_dataset_from_text(path, g_tok, 2, &d, NULL, &err) == BT_OK);
    ck_assert_int_eq(d.n, 9); /* 1 + 1 + 2 + 1 + 3 + 1 */
    WIN(&d, 5, 7, 18435, 2159);
    WIN(&d, 6, 7, 0, 18435);
    WIN(&d, 7, 7, 11, 995);
    bt_dataset_free(&d);
}
END_TEST

START_TEST(bad_input) {
    bt_dataset d;
    bt_lmtext_stats st;
    bt_error err = {0};
    const char *dir = tu_tmpdir();
    const char *path = tu_write_file(dir, "bad.txt", "Hello world\nok\nx\xc3(\n", 19);
    ck_assert_int_eq(bt_dataset_from_text(path, g_tok, 8, &d, &st, &err), BT_EINPUT);
    char want[1200];
    snprintf(want, sizeof want, "%s:3: invalid UTF-8 at byte 1", path);
    ck_assert_str_eq(err.msg, want);
    ck_assert(d.n == 0 && d.ids == NULL);

    path = tu_write_file(dir, "short.txt", "3\n\n \n", 5);
    ck_assert_int_eq(bt_dataset_from_text(path, g_tok, 8, &d, &st, &err), BT_EINPUT);
    snprintf(want, sizeof want, "%s: no window of 2 or more tokens (3 lines, 1 empty, 2 of one "
             "token)", path);
    ck_assert_str_eq(err.msg, want);

    ck_assert_int_eq(bt_dataset_from_text(path, g_tok, 1, &d, &st, &err), BT_EINPUT);
    ck_assert_str_eq(err.msg, "max length 1: a language-model window needs at least 2 tokens");

    snprintf(want, sizeof want, "%s/missing.txt", dir);
    ck_assert_int_eq(bt_dataset_from_text(want, g_tok, 8, &d, &st, &err), BT_EINPUT);
    ck_assert(strstr(err.msg, "missing.txt: cannot open") != NULL);

    path = tu_write_file(dir, "empty.txt", "", 0);
    ck_assert_int_eq(bt_dataset_from_text(path, g_tok, 8, &d, &st, &err), BT_EINPUT);
    ck_assert(strstr(err.msg, "no window of 2 or more tokens (0 lines") != NULL);
}
END_TEST

int main(void) {
    Suite *s = suite_create("lmtext");
    TCase *tc = tcase_create("lmtext");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, windows_of_three);
    tcase_add_test(tc, bad_input);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
