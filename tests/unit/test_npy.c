/* .npy writer and reader: exact header bytes (from the format spec, numpy/lib/format.py),
 * round trips, and every kind of bad file rejected with the file named in the message. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bertology/npy.h"
#include "testutil.h"

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) ? -1 : (long)st.st_size;
}

static char *slurp(const char *path, long *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    *n = file_size(path);
    char *b = malloc(*n + 1);
    ck_assert_int_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

/* A v1.0 file from a header dict (padded by hand here) and raw data. */
static const char *npy_file(const char *dir, const char *name, int major, const char *dict,
                            const void *data, size_t nbytes) {
    char buf[4096];
    size_t pre = major == 1 ? 10 : 12, hl = strlen(dict) + 1;
    size_t total = (pre + hl + 63) / 64 * 64;
    hl = total - pre;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (char)major;
    buf[7] = 0;
    buf[8] = (char)(hl & 0xff);
    buf[9] = (char)(hl >> 8);
    if (major > 1) buf[10] = buf[11] = 0;
    memset(buf + pre, ' ', hl);
    memcpy(buf + pre, dict, strlen(dict));
    buf[total - 1] = '\n';
    if (nbytes) memcpy(buf + total, data, nbytes);
    return tu_write_file(dir, name, buf, total + nbytes);
}

START_TEST(header_bytes_match_the_spec) {
    const char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/a.npy", dir);
    float v[6] = {0, 1, 2, 3, 4, 5};
    int64_t shape[2] = {2, 3};
    bt_error err;
    ck_assert_int_eq(bt_npy_write(path, BT_NPY_F32, 2, shape, v, &err), BT_OK);
    long n;
    char *b = slurp(path, &n);
    /* magic, v1.0, header length 118 = 128 - 10, dict, spaces, '\n', then 24 data bytes */
    const char dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    ck_assert_int_eq(n, 128 + 24);
    ck_assert_int_eq(memcmp(b, "\x93NUMPY\x01\x00\x76\x00", 10), 0);
    ck_assert_int_eq(memcmp(b + 10, dict, sizeof dict - 1), 0);
    for (long i = 10 + sizeof dict - 1; i < 127; i++) ck_assert_int_eq(b[i], ' ');
    ck_assert_int_eq(b[127], '\n');
    ck_assert_int_eq(memcmp(b + 128, v, 24), 0);
    free(b);
}
END_TEST

START_TEST(one_dim_and_scalar_shapes) {
    const char *dir = tu_tmpdir();
    char p1[512], p0[512];
    snprintf(p1, sizeof p1, "%s/v.npy", dir);
    snprintf(p0, sizeof p0, "%s/s.npy", dir);
    int64_t v[5] = {1, -2, 3, 1LL << 40, 5}, shape[1] = {5};
    double x = 2.5;
    bt_error err;
    ck_assert_int_eq(bt_npy_write(p1, BT_NPY_I64, 1, shape, v, &err), BT_OK);
    ck_assert_int_eq(bt_npy_write(p0, BT_NPY_F64, 0, NULL, &x, &err), BT_OK);
    long n;
    char *b = slurp(p1, &n);
    ck_assert_ptr_nonnull(strstr(b + 10, "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }"));
    ck_assert_int_eq(n, 128 + 40);
    free(b);
    b = slurp(p0, &n);
    ck_assert_ptr_nonnull(strstr(b + 10, "'shape': (), }"));
    ck_assert_int_eq(n, 128 + 8); /* 10 + 55-byte dict + newline > 64: two blocks */
    free(b);
    bt_npy_info info;
    float *d;
    ck_assert_int_eq(bt_npy_read_f32(p0, &info, &d, &err), BT_OK);
    ck_assert_int_eq(info.ndim, 0);
    ck_assert_int_eq(info.count, 1);
    ck_assert(d[0] == 2.5f);
    free(d);
}
END_TEST

START_TEST(round_trip_f32_and_f64) {
    const char *dir = tu_tmpdir();
    char p[512];
    snprintf(p, sizeof p, "%s/m.npy", dir);
    double v[24];
    for (int i = 0; i < 24; i++) v[i] = (i - 7) * 0.375;
    int64_t shape[3] = {2, 3, 4};
    bt_error err;
    ck_assert_int_eq(bt_npy_write(p, BT_NPY_F64, 3, shape, v, &err), BT_OK);
    bt_npy_info info;
    float *d;
    ck_assert_int_eq(bt_npy_read_f32(p, &info, &d, &err), BT_OK);
    ck_assert_int_eq(info.dtype, BT_NPY_F64);
    ck_assert_int_eq(info.ndim, 3);
    ck_assert(info.shape[0] == 2 && info.shape[1] == 3 && info.shape[2] == 4);
    for (int i = 0; i < 24; i++) ck_assert(d[i] == (float)((i - 7) * 0.375));
    free(d);
}
END_TEST

START_TEST(accepts_variants_numpy_and_others_write) {
    const char *dir = tu_tmpdir();
    bt_npy_info info;
    float *d;
    bt_error err;
    float le[2] = {1.5f, -2.0f};
    /* big-endian '>f4': bytes of 1.5 = 3f c0 00 00, -2 = c0 00 00 00 */
    const unsigned char be[8] = {0x3f, 0xc0, 0, 0, 0xc0, 0, 0, 0};
    const char *p = npy_file(dir, "be.npy", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", be, 8);
    ck_assert_int_eq(bt_npy_read_f32(p, &info, &d, &err), BT_OK);
    ck_assert(d[0] == 1.5f && d[1] == -2.0f);
    free(d);
    p = npy_file(dir, "v2.npy", 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", le, 8);
    ck_assert_int_eq(bt_npy_read_f32(p, &info, &d, &err), BT_OK);
    ck_assert(info.ndim == 2 && info.shape[0] == 1 && info.shape[1] == 2 && d[1] == -2.0f);
    free(d);
    /* Python 2 era: double quotes, 'L' suffix, keys in another order, no trailing comma */
    p = npy_file(dir, "py2.npy", 1, "{\"shape\": (2L,), \"fortran_order\": False, \"descr\": \"<f4\"}", le, 8);
    ck_assert_int_eq(bt_npy_read_f32(p, &info, &d, &err), BT_OK);
    ck_assert(info.shape[0] == 2 && d[0] == 1.5f);
    free(d);
    /* empty array */
    p = npy_file(dir, "empty.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 12), }", NULL, 0);
    ck_assert_int_eq(bt_npy_read_f32(p, &info, &d, &err), BT_OK);
    ck_assert(info.count == 0 && d == NULL);
}
END_TEST

static void expect_bad(const char *path, const char *what) {
    bt_npy_info info;
    float *d = (float *)1;
    bt_error err = {0, ""};
    ck_assert_int_eq(bt_npy_read_f32(path, &info, &d, &err), BT_EINPUT);
    ck_assert_ptr_null(d);
    ck_assert_msg(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
    ck_assert_msg(strstr(err.msg, what) != NULL, "expected '%s' in: %s", what, err.msg);
    ck_assert_ptr_null(strchr(err.msg, '\n'));
}

START_TEST(rejects_bad_files) {
    const char *dir = tu_tmpdir();
    float v[4] = {1, 2, 3, 4};
    char missing[512];
    snprintf(missing, sizeof missing, "%s/missing.npy", dir);
    expect_bad(missing, "cannot open");
    expect_bad(tu_write_file(dir, "magic.npy", "\x93NUMPX\x01\x00\x00\x00", 10), "magic");
    expect_bad(tu_write_file(dir, "short.npy", "\x93NU", 3), "magic");
    expect_bad(npy_file(dir, "v4.npy", 4, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", v, 16), "version 4.0");
    expect_bad(npy_file(dir, "trunc.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", v, 15), "15 bytes");
    expect_bad(npy_file(dir, "long.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", v, 16), "need 12");
    expect_bad(npy_file(dir, "fort.npy", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", v, 16), "fortran_order");
    expect_bad(npy_file(dir, "int.npy", 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", v, 16), "'<i4'");
    expect_bad(npy_file(dir, "u1.npy", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (16,), }", v, 16), "'|u1'");
    expect_bad(npy_file(dir, "rec.npy", 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", v, 16), "descr");
    expect_bad(npy_file(dir, "neg.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", v, 16), "negative");
    expect_bad(npy_file(dir, "huge.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 8), }", v, 16), "too large");
    expect_bad(npy_file(dir, "open.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, ", v, 16), "shape");
    expect_bad(npy_file(dir, "nokey.npy", 1, "{'descr': '<f4', 'shape': (4,), }", v, 16), "fortran_order");
    expect_bad(npy_file(dir, "twice.npy", 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", v, 16), "repeated");
    expect_bad(npy_file(dir, "extra.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}", v, 16), "'x'");
    expect_bad(npy_file(dir, "notdict.npy", 1, "['descr']", v, 16), "not a dict");
    /* header length pointing past the end of the file */
    expect_bad(tu_write_file(dir, "hlen.npy", "\x93NUMPY\x01\x00\xff\x7f{}", 12), "exceeds");
}
END_TEST

START_TEST(write_is_atomic_and_reports_errors) {
    const char *dir = tu_tmpdir();
    char p[512];
    snprintf(p, sizeof p, "%s/no/such/dir/x.npy", dir);
    float v = 1;
    int64_t shape[1] = {1};
    bt_error err = {0, ""};
    ck_assert_int_eq(bt_npy_write(p, BT_NPY_F32, 1, shape, &v, &err), BT_EINTERNAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "x.npy.tmp-"));
    snprintf(p, sizeof p, "%s/ok.npy", dir);
    ck_assert_int_eq(bt_npy_write(p, BT_NPY_F32, 1, shape, &v, &err), BT_OK);
    ck_assert_int_eq(bt_npy_write(p, BT_NPY_F32, 1, shape, &v, &err), BT_OK); /* replaces */
    DIR *d = opendir(dir);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') {
            files++;
            ck_assert_str_eq(e->d_name, "ok.npy"); /* no temporary left behind */
        }
    closedir(d);
    ck_assert_int_eq(files, 1);
}
END_TEST

/* The shape of a hostile file (run_opts.c once strcat'ed it past a 128-byte buffer) formats
 * into any buffer of 8 bytes or more, cut with ", ...]" when it does not fit. */
START_TEST(shape_string_is_bounded) {
    bt_npy_info info = {.ndim = BT_NPY_MAX_DIMS};
    for (int d = 0; d < BT_NPY_MAX_DIMS; d++) info.shape[d] = 1000000000000000000LL;
    info.shape[0] = 0;
    char full[1024];
    bt_npy_shape_str(&info, full, sizeof full);
    ck_assert_uint_eq(strlen(full), 2 + 1 + 31 * (2 + 19)); /* "[0" + 31 x ", 1e18" + "]" */
    for (size_t cap = 8; cap <= 200; cap++) {
        char *buf = malloc(cap); /* exact size: ASan sees any byte past it */
        bt_npy_shape_str(&info, buf, cap);
        const size_t n = strlen(buf);
        ck_assert_uint_lt(n, cap);
        ck_assert_msg(buf[0] == '[' && buf[n - 1] == ']', "%s", buf);
        ck_assert_msg(n >= 6 ? strcmp(buf + n - 6, ", ...]") == 0 : strcmp(buf, "[...]") == 0, "cap %zu: %s", cap, buf);
        ck_assert_msg(strncmp(buf, full, n - (n >= 6 ? 6 : 4)) == 0, "cap %zu: %s", cap, buf);
        free(buf);
    }
    bt_npy_info small = {.ndim = 2, .shape = {12, 12}};
    char b8[16];
    bt_npy_shape_str(&small, b8, sizeof b8);
    ck_assert_str_eq(b8, "[12, 12]");
}
END_TEST

int main(void) {
    Suite *s = suite_create("npy");
    TCase *tc = tcase_create("npy");
    tcase_add_test(tc, header_bytes_match_the_spec);
    tcase_add_test(tc, one_dim_and_scalar_shapes);
    tcase_add_test(tc, round_trip_f32_and_f64);
    tcase_add_test(tc, accepts_variants_numpy_and_others_write);
    tcase_add_test(tc, rejects_bad_files);
    tcase_add_test(tc, write_is_atomic_and_reports_errors);
    tcase_add_test(tc, shape_string_is_bounded);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
