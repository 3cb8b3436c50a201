/* The safetensors layer: dtype conversions against hand-computed values, the reader on files
 * written byte by byte, and the writer's bytes read back here by hand. */
#include <math.h>

#include "model/safetensors.h"
#include "test_model_weights.h"

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

START_TEST(f16_values) {
    ck_assert_float_eq(bt_f16_to_f32(0x3c00), 1.0f);
    ck_assert_float_eq(bt_f16_to_f32(0xc000), -2.0f);
    ck_assert_float_eq(bt_f16_to_f32(0x3555), (1.0f + 0x155 / 1024.0f) * 0.25f); /* 0.333251953125 */
    ck_assert_float_eq(bt_f16_to_f32(0x7bff), 65504.0f);                         /* largest finite */
    ck_assert_float_eq(bt_f16_to_f32(0x0400), ldexpf(1.0f, -14));                /* smallest normal */
    ck_assert_float_eq(bt_f16_to_f32(0x0001), ldexpf(1.0f, -24));                /* smallest subnormal */
    ck_assert_float_eq(bt_f16_to_f32(0x03ff), 1023.0f * ldexpf(1.0f, -24));      /* largest subnormal */
    ck_assert_float_eq(bt_f16_to_f32(0x8001), -ldexpf(1.0f, -24));
    ck_assert_uint_eq(bits(bt_f16_to_f32(0x0000)), 0x00000000u);
    ck_assert_uint_eq(bits(bt_f16_to_f32(0x8000)), 0x80000000u); /* -0 keeps its sign */
    ck_assert_uint_eq(bits(bt_f16_to_f32(0x7c00)), 0x7f800000u); /* +Inf */
    ck_assert_uint_eq(bits(bt_f16_to_f32(0xfc00)), 0xff800000u); /* -Inf */
    ck_assert(isnan(bt_f16_to_f32(0x7e00)));
    ck_assert(isnan(bt_f16_to_f32(0x7c01)));                     /* signalling payload stays NaN */
    ck_assert_uint_eq(bits(bt_f16_to_f32(0x7e00)), 0x7fc00000u); /* quiet NaN, payload moved up */
    /* every one of the 65536 patterns against the compiler's own _Float16 conversion */
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t b = (uint16_t)h;
        _Float16 x;
        memcpy(&x, &b, 2);
        float want = (float)x, got = bt_f16_to_f32(b);
        if (isnan(want))
            ck_assert_msg(isnan(got), "0x%04x", h);
        else
            ck_assert_msg(bits(got) == bits(want), "0x%04x: %a != %a", h, (double)got, (double)want);
    }
}
END_TEST

START_TEST(bf16_values) {
    ck_assert_float_eq(bt_bf16_to_f32(0x3f80), 1.0f);
    ck_assert_float_eq(bt_bf16_to_f32(0xc000), -2.0f);
    ck_assert_float_eq(bt_bf16_to_f32(0x4049), 3.140625f);
    ck_assert_float_eq(bt_bf16_to_f32(0x0001), ldexpf(1.0f, -133)); /* subnormal: 2^-149 * 2^16 */
    ck_assert_float_eq(bt_bf16_to_f32(0x7f7f), 0x1.fep127f);        /* largest finite */
    ck_assert_uint_eq(bits(bt_bf16_to_f32(0xff80)), 0xff800000u);
    ck_assert(isnan(bt_bf16_to_f32(0x7fc0)));
}
END_TEST

static bt_st_tensor tensor(int dtype, long long rows, long long cols, const void *data) {
    bt_st_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.ndim = 2;
    t.shape[0] = rows;
    t.shape[1] = cols;
    t.numel = rows * cols;
    t.data = data;
    t.nbytes = (size_t)t.numel * (size_t)bt_st_dtype_bits(dtype) / 8;
    return t;
}

START_TEST(convert_and_find_nonfinite) {
    const uint16_t h[6] = {0x3c00, 0xc000, 0x0001, 0x3800, 0x7c00, 0x7e00}; /* 1 -2 2^-24 0.5 inf nan */
    float out[6];
    bt_st_tensor t = tensor(BT_ST_F16, 2, 3, h);
    ck_assert_int_eq(bt_st_to_f32(&t, out, 0), 4);
    ck_assert_float_eq(out[0], 1.0f);
    ck_assert_float_eq(out[2], ldexpf(1.0f, -24));
    ck_assert_float_eq(out[3], 0.5f);
    t.shape[1] = 2, t.numel = 4; /* only the finite first four */
    ck_assert_int_eq(bt_st_to_f32(&t, out, 0), -1);

    const double d[4] = {1.5, -0.25, 1e-300, 3.0};
    t = tensor(BT_ST_F64, 2, 2, d);
    ck_assert_int_eq(bt_st_to_f32(&t, out, 0), -1);
    ck_assert_float_eq(out[1], -0.25f);
    ck_assert_float_eq(out[2], 0.0f); /* underflows to zero: finite */
    const double big[1] = {1e300};
    t = tensor(BT_ST_F64, 1, 1, big);
    ck_assert_int_eq(bt_st_to_f32(&t, out, 0), 0); /* overflows F32: reported, not loaded as Inf */

    /* transpose: file [2,3] -> block [3,2] (the Conv1D layout of GPT-2) */
    const float m[6] = {1, 2, 3, 4, 5, 6};
    t = tensor(BT_ST_F32, 2, 3, m);
    ck_assert_int_eq(bt_st_to_f32(&t, out, 1), -1);
    const float want[6] = {1, 4, 2, 5, 3, 6};
    for (int i = 0; i < 6; i++) ck_assert_float_eq(out[i], want[i]);
    const float m_nan[6] = {1, 2, 3, 4, NAN, 6};
    t = tensor(BT_ST_F32, 2, 3, m_nan);
    ck_assert_int_eq(bt_st_to_f32(&t, out, 1), 4); /* index in the file's order */
}
END_TEST

START_TEST(reads_header) {
    ck_file f;
    memset(&f, 0, sizeof f);
    const long long s1[2] = {2, 3}, s0[1] = {0}, s4[1] = {5}, sc[1] = {0};
    ck_add_rand(&f, "b.weight", "F32", 2, 3, 7);
    ck_add_rand(&f, "a.bias", "BF16", 3, 0, 8);
    const int64_t ids[6] = {0, 1, 2, 3, 4, 5};
    ck_add_raw(&f, "ids", "I64", 2, s1, ids, sizeof ids);
    ck_add_raw(&f, "empty", "F16", 1, s0, NULL, 0);
    ck_add_raw(&f, "nibbles", "F4", 1, s4, "\x12\x34\x05", 3); /* 5 x 4 bits = 2.5 bytes: rejected */
    const char *dir = tu_tmpdir();
    ck_write(&f, dir, "x.safetensors");
    char path[600];
    snprintf(path, sizeof path, "%s/x.safetensors", dir);
    bt_st_file st;
    bt_error e = {0};
    ck_assert_int_eq(bt_st_open(path, &st, &e), BT_EINPUT);
    ck_assert_ptr_nonnull(strstr(e.msg, "tensor nibbles"));
    ck_assert_ptr_null(st.map);
    f.n--;
    free(f.t[f.n].data);
    const long long s6[1] = {6};
    ck_add_raw(&f, "nibbles", "F4", 1, s6, "\x12\x34\x56", 3);
    ck_add_raw(&f, "scalar", "F32", 0, sc, "\x00\x00\x80\x3f", 4);
    ck_write(&f, dir, "x.safetensors");
    ck_assert_msg(bt_st_open(path, &st, &e) == BT_OK, "%s", e.msg);
    ck_assert_int_eq(st.n, 6);
    ck_assert_str_eq(st.t[0].name, "a.bias"); /* sorted for lookup */
    const bt_st_tensor *t = bt_st_find(&st, "b.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->dtype, BT_ST_F32);
    ck_assert_int_eq(t->ndim, 2);
    ck_assert_int_eq(t->shape[1], 3);
    ck_assert_int_eq(memcmp(t->data, f.t[0].data, 24), 0);
    t = bt_st_find(&st, "ids");
    ck_assert_int_eq(t->dtype, BT_ST_I64);
    ck_assert_int_eq(memcmp(t->data, ids, sizeof ids), 0);
    t = bt_st_find(&st, "scalar");
    ck_assert_int_eq(t->ndim, 0);
    ck_assert_int_eq(t->numel, 1);
    t = bt_st_find(&st, "empty");
    ck_assert_int_eq(t->numel, 0);
    ck_assert_ptr_null(bt_st_find(&st, "zzz"));
    ck_assert_ptr_null(bt_st_find(&st, "a"));
    bt_st_close(&st);
    ck_free(&f);

    /* a name twice */
    const char *dup = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    unsigned char buf[256] = {0};
    buf[0] = (unsigned char)strlen(dup);
    memcpy(buf + 8, dup, strlen(dup));
    tu_write_file(dir, "x.safetensors", buf, 8 + strlen(dup) + 8);
    ck_assert_int_eq(bt_st_open(path, &st, &e), BT_EINPUT);
    ck_assert_ptr_nonnull(strstr(e.msg, "tensor w appears twice"));
    /* a header longer than the reference implementation accepts */
    memset(buf, 0, 8);
    buf[3] = 0x10; /* 256 MiB */
    tu_write_file(dir, "x.safetensors", buf, 64);
    ck_assert_int_eq(bt_st_open(path, &st, &e), BT_EINPUT);
    ck_assert_ptr_nonnull(strstr(e.msg, "header length"));
}
END_TEST

START_TEST(writes_f32) {
    const float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {-1, 0.5f, 7};
    /* a is the block's [3,2]; the file gets [2,3] = a^T */
    bt_st_out t[3] = {
        {.name = "x.weight", .ndim = 2, .shape = {2, 3}, .src = a, .transpose = 1},
        {.name = "x.bias", .ndim = 1, .shape = {3}, .src = b},
        {.name = "gone", .ndim = 2, .shape = {4, 0}, .src = b},
    };
    const char *dir = tu_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    bt_error e = {0};
    ck_assert_int_eq(bt_st_write_f32(path, t, 3, &e), BT_OK);
    FILE *fp = fopen(path, "rb");
    unsigned char raw[1024];
    size_t n = fread(raw, 1, sizeof raw, fp);
    fclose(fp);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)raw[i] << (8 * i);
    ck_assert_uint_eq(hl % 8, 0);
    ck_assert_uint_eq(n, 8 + hl + 36);
    char hdr[1024];
    memcpy(hdr, raw + 8, hl);
    hdr[hl] = '\0';
    ck_assert_ptr_nonnull(strstr(hdr, "\"__metadata__\":{\"format\":\"pt\"}"));
    ck_assert_ptr_nonnull(strstr(hdr, "\"x.weight\":{\"shape\":[2,3],\"data_offsets\":[0,24],\"dtype\":\"F32\"}"));
    ck_assert_ptr_nonnull(strstr(hdr, "\"x.bias\":{\"shape\":[3],\"data_offsets\":[24,36],\"dtype\":\"F32\"}"));
    ck_assert_ptr_nonnull(strstr(hdr, "\"gone\":{\"shape\":[4,0],\"data_offsets\":[36,36],\"dtype\":\"F32\"}"));
    float data[9];
    memcpy(data, raw + 8 + hl, 36);
    const float want[9] = {1, 3, 5, 2, 4, 6, -1, 0.5f, 7};
    for (int i = 0; i < 9; i++) ck_assert_float_eq(data[i], want[i]);
    /* no temporary left behind; a directory that does not exist is an error, not a crash */
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert_ptr_null(fopen(tmp, "rb"));
    ck_assert_int_eq(bt_st_write_f32("/nonexistent/dir/w.safetensors", t, 3, &e), BT_EINTERNAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/dir/w.safetensors.tmp"));
}
END_TEST

/* A file transformers wrote (sshleifer/tiny-gpt2, tests/data/models), values read by numpy. */
START_TEST(reads_real_file) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/tiny-gpt2/model.safetensors", tu_data_dir());
    bt_st_file st;
    bt_error e = {0};
    ck_assert_msg(bt_st_open(path, &st, &e) == BT_OK, "%s", e.msg);
    ck_assert_int_eq(st.n, 28);
    const bt_st_tensor *t = bt_st_find(&st, "transformer.h.0.attn.c_attn.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->dtype, BT_ST_F32);
    ck_assert_int_eq(t->shape[0], 2);
    ck_assert_int_eq(t->shape[1], 6);
    float w[12], wt[12];
    ck_assert_int_eq(bt_st_to_f32(t, w, 0), -1);
    ck_assert_float_eq(w[0], -0x1.7e0966p-6f);
    ck_assert_float_eq(w[1], -0x1.921a7p-6f);
    ck_assert_int_eq(bt_st_to_f32(t, wt, 1), -1); /* Conv1D [in, out] -> [out, in] */
    ck_assert_float_eq(wt[1 * 2 + 0], w[1]);
    ck_assert_float_eq(wt[0 * 2 + 1], w[6]);
    t = bt_st_find(&st, "transformer.wte.weight");
    ck_assert_int_eq(t->shape[0], 50257);
    float *wte = malloc(50257 * 2 * sizeof *wte);
    ck_assert_int_eq(bt_st_to_f32(t, wte, 0), -1);
    ck_assert_float_eq(wte[50257 * 2 - 1], -0x1.2a520ep-6f);
    free(wte);
    bt_st_close(&st);
}
END_TEST

int main(void) {
    Suite *s = suite_create("model_safetensors");
    TCase *tc = tcase_create("safetensors");
    tcase_add_test(tc, f16_values);
    tcase_add_test(tc, bf16_values);
    tcase_add_test(tc, convert_and_find_nonfinite);
    tcase_add_test(tc, reads_header);
    tcase_add_test(tc, writes_f32);
    tcase_add_test(tc, reads_real_file);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
