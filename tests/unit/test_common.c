/* The common floor (issue 11): bounded shape formatting (the head-mask message overflowed a
 * 128-byte buffer for seven dims of 1e18), mkdir -p on empty, nested, repeated and blocked
 * paths, whole-file reads, range-checked parsing and checked allocation. Linked against
 * bt_common alone. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bertology/common.h"
#include "testutil.h"

START_TEST(shape_fits_or_is_cut_inside_the_buffer) {
    const int64_t small[2] = {3, 4};
    char buf[128];
    ck_assert_str_eq(bt_format_shape(buf, sizeof buf, 2, small, ", "), "[3, 4]");
    ck_assert_str_eq(bt_format_shape(buf, sizeof buf, 2, small, ","), "[3,4]");
    ck_assert_str_eq(bt_format_shape(buf, sizeof buf, 0, small, ","), "[]");
    /* seven dims of 1e18: 7 * 19 digits + separators do not fit in 128 bytes */
    int64_t big[8];
    for (int d = 0; d < 7; d++) big[d] = 1000000000000000000LL;
    big[7] = 0;
    char guarded[128 + 16];
    memset(guarded, 'Z', sizeof guarded);
    bt_format_shape(guarded, 128, 8, big, ", ");
    ck_assert_uint_lt(strlen(guarded), 128);
    for (size_t i = 128; i < sizeof guarded; i++) ck_assert_int_eq(guarded[i], 'Z'); /* nothing past the end */
    ck_assert_int_eq(strncmp(guarded, "[1000000000000000000, ", 22), 0);
    ck_assert_str_eq(guarded + strlen(guarded) - 4, "...]");
    char tiny[3];
    bt_format_shape(tiny, sizeof tiny, 2, small, ",");
    ck_assert_uint_lt(strlen(tiny), sizeof tiny);
}
END_TEST

START_TEST(mkdir_p_makes_parents_and_refuses_bad_paths) {
    bt_error err = {0};
    ck_assert_int_eq(bt_mkdir_p("", BT_EINPUT, &err), BT_EINPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "empty"));
    ck_assert_int_eq(bt_mkdir_p(NULL, BT_EINPUT, &err), BT_EINPUT);
    const char *root = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/a//b/c/", root);
    ck_assert_int_eq(bt_mkdir_p(path, BT_EINPUT, &err), BT_OK);
    snprintf(path, sizeof path, "%s/a/b/c", root);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(bt_mkdir_p(path, BT_EINPUT, &err), BT_OK); /* exists: fine */
    const char *file = tu_write_file(root, "plain", "x", 1);
    ck_assert_int_eq(bt_mkdir_p(file, BT_EINTERNAL, &err), BT_EINTERNAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a directory"));
    snprintf(path, sizeof path, "%s/sub", file);
    ck_assert_int_eq(bt_mkdir_p(path, BT_EINPUT, &err), BT_EINPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "plain"));
}
END_TEST

START_TEST(read_file_whole_with_nul_and_limit) {
    const char *root = tu_tmpdir();
    static char big[200000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
    big[5] = '\0'; /* binary content is kept, length counts it */
    const char *p = tu_write_file(root, "big", big, sizeof big);
    char *text;
    size_t len;
    bt_error err = {0};
    ck_assert_int_eq(bt_read_file(p, sizeof big, &text, &len, &err), BT_OK);
    ck_assert_uint_eq(len, sizeof big);
    ck_assert_mem_eq(text, big, sizeof big);
    ck_assert_int_eq(text[len], '\0');
    free(text);
    ck_assert_int_eq(bt_read_file(p, sizeof big - 1, &text, &len, &err), BT_EINPUT);
    ck_assert_ptr_null(text);
    ck_assert_ptr_nonnull(strstr(err.msg, "larger than"));
    const char *empty = tu_write_file(root, "empty", "", 0);
    ck_assert_int_eq(bt_read_file(empty, 10, &text, &len, &err), BT_OK);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(text, "");
    free(text);
    char missing[512];
    snprintf(missing, sizeof missing, "%s/none", root);
    ck_assert_int_eq(bt_read_file(missing, 10, &text, &len, &err), BT_EINPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "none: cannot open"));
}
END_TEST

START_TEST(parsing_checks_the_whole_string_and_the_range) {
    int v = 7;
    ck_assert_int_eq(bt_parse_int("42", 0, 100, &v), 0);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(bt_parse_int("-1", 0, 100, &v), -1);
    ck_assert_int_eq(bt_parse_int("101", 0, 100, &v), -1);
    ck_assert_int_eq(bt_parse_int("12x", 0, 100, &v), -1);
    ck_assert_int_eq(bt_parse_int("", 0, 100, &v), -1);
    ck_assert_int_eq(bt_parse_int("99999999999999999999", 0, 100, &v), -1);
    ck_assert_int_eq(bt_parse_int(NULL, 0, 100, &v), -1);
    ck_assert_int_eq(v, 42); /* untouched by failures */
    int64_t w;
    ck_assert_int_eq(bt_parse_i64("-9000000000", INT64_MIN, 0, &w), 0);
    ck_assert(w == -9000000000LL);
    double d;
    ck_assert_int_eq(bt_parse_double("0.25", &d), 0);
    ck_assert(d == 0.25);
    ck_assert_int_eq(bt_parse_double("inf", &d), -1);
    ck_assert_int_eq(bt_parse_double("nan", &d), -1);
    ck_assert_int_eq(bt_parse_double("1e999", &d), -1);
    ck_assert_int_eq(bt_parse_double("1.5 ", &d), -1);
}
END_TEST

START_TEST(allocation_failures_are_errors) {
    bt_error err = {0};
    ck_assert_ptr_null(bt_malloc(SIZE_MAX / 2, 4, "a test buffer", &err)); /* n * elem overflows */
    ck_assert_int_eq(err.code, BT_EINTERNAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "a test buffer"));
    ck_assert_ptr_null(bt_calloc(SIZE_MAX / 2, 4, "another", &err));
    void *p = bt_malloc(0, 8, "nothing", &err); /* zero bytes is not a failure */
    ck_assert_ptr_nonnull(p);
    free(p);
    int *a = NULL;
    size_t cap = 0;
    ck_assert_int_eq(bt_grow((void **)&a, &cap, 10, sizeof *a, "a", &err), BT_OK);
    ck_assert_uint_ge(cap, 10);
    for (int i = 0; i < 10; i++) a[i] = i;
    int *before = a;
    const size_t cap_before = cap;
    ck_assert_int_eq(bt_grow((void **)&a, &cap, SIZE_MAX / 2, sizeof *a, "a huge array", &err), BT_EINTERNAL);
    ck_assert_ptr_eq(a, before); /* the old block is kept, still owned by the caller */
    ck_assert_uint_eq(cap, cap_before);
    ck_assert_int_eq(a[9], 9);
    ck_assert_int_eq(bt_grow((void **)&a, &cap, 1000, sizeof *a, "a", &err), BT_OK);
    ck_assert_int_eq(a[9], 9); /* contents survive growth */
    free(a);
}
END_TEST

int main(void) {
    Suite *s = suite_create("common");
    TCase *tc = tcase_create("common");
    tcase_add_test(tc, shape_fits_or_is_cut_inside_the_buffer);
    tcase_add_test(tc, mkdir_p_makes_parents_and_refuses_bad_paths);
    tcase_add_test(tc, read_file_whole_with_nul_and_limit);
    tcase_add_test(tc, parsing_checks_the_whole_string_and_the_range);
    tcase_add_test(tc, allocation_failures_are_errors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
