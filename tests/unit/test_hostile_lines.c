/* Line-length limits of the text readers (docs/hostile_inputs.md): a GLUE row or an LM text
 * line one byte past the limit is refused with a message naming file and line; at the limit
 * it is read. A GLUE row past the limit is a bad row, so skip_bad_lines skips it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bertology/dataset.h"
#include "bertology/glue.h"
#include "testutil.h"

/* "prefix" + n - len(prefix) - len(suffix) bytes of 'a' + "suffix": a line of exactly n bytes. */
static char *line_of(size_t n, const char *prefix, const char *suffix) {
    char *s = malloc(n + 1);
    const size_t p = strlen(prefix), q = strlen(suffix);
    memcpy(s, prefix, p);
    memset(s + p, 'a', n - p - q);
    memcpy(s + n - q, suffix, q);
    s[n] = '\0';
    return s;
}

static const char *write_lines(const char *dir, const char *name, const char *a, const char *b) {
    const size_t n = strlen(a) + strlen(b) + 3;
    char *text = malloc(n);
    snprintf(text, n, "%s\n%s\n", a, b);
    const char *path = tu_write_file(dir, name, text, strlen(text));
    free(text);
    return path;
}

START_TEST(glue_row_longer_than_limit) {
    const bt_glue_task *sst = bt_glue_task_find("sst-2", NULL);
    const char *dir = tu_tmpdir();
    char *at = line_of(BT_GLUE_MAX_LINE, "", "\t1"), *over = line_of(BT_GLUE_MAX_LINE + 1, "", "\t1");
    bt_glue_examples ex;
    bt_error err;
    const char *ok = write_lines(dir, "ok.tsv", "sentence\tlabel", at);
    ck_assert_int_eq(bt_glue_read_file(sst, ok, 1, NULL, &ex, &err), BT_OK);
    ck_assert_uint_eq(strlen(ex.ex[0].text_a), BT_GLUE_MAX_LINE - 2);
    bt_glue_examples_free(&ex);

    const char *bad = write_lines(dir, "bad.tsv", "sentence\tlabel", over);
    ck_assert_int_eq(bt_glue_read_file(sst, bad, 1, NULL, &ex, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "bad.tsv:2: line of 1048577 bytes, longer than the 1048576 allowed"), "%s", err.msg);
    /* as a bad row it is skipped, and then the file has no data rows */
    const bt_glue_read_opts skip = {.skip_bad_lines = 1};
    ck_assert_int_eq(bt_glue_read_file(sst, bad, 1, &skip, &ex, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "all 1 data rows are bad; first:") && strstr(err.msg, "longer than"), "%s", err.msg);
    /* a header past the limit is not skippable */
    const char *head = write_lines(dir, "head.tsv", over, "x\t1");
    ck_assert_int_eq(bt_glue_read_file(sst, head, 1, &skip, &ex, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "head.tsv:1: line of"), "%s", err.msg);
    free(at);
    free(over);
}
END_TEST

START_TEST(lm_text_line_longer_than_limit) {
    char vdir[1024];
    snprintf(vdir, sizeof vdir, "%s/tests/data/vocab/gpt2", tu_source_dir());
    bt_tok *tok;
    bt_error err;
    ck_assert_int_eq(bt_tok_load(vdir, &tok, &err), BT_OK);
    const char *dir = tu_tmpdir();
    char *over = line_of(BT_LMTEXT_MAX_LINE + 1, "", "");
    const char *path = write_lines(dir, "long.txt", "a short first line", over);
    free(over);
    bt_dataset d;
    ck_assert_int_eq(bt_dataset_from_text(path, tok, 16, &d, NULL, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "long.txt:2: line of 67108865 bytes, longer than the 67108864 allowed"), "%s",
                  err.msg);
    ck_assert_ptr_null(d.ids);
    unlink(path); /* 64 MiB */
    bt_tok_free(tok);
}
END_TEST

int main(void) {
    Suite *s = suite_create("hostile_lines");
    TCase *tc = tcase_create("lines");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, glue_row_longer_than_limit);
    tcase_add_test(tc, lm_text_line_longer_than_limit);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
