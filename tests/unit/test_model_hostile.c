/* A model directory from an untrusted source (docs/hostile_inputs.md): safetensors tensors
 * whose byte ranges overlap are refused (a small file could otherwise describe far more values
 * than it holds), and a config.json whose dims need more parameters than the weights hold is
 * refused before the parameter block is allocated. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/model.h"
#include "model/safetensors.h"
#include "testutil.h"

/* 8-byte length + header + data bytes of zeros */
static size_t image(unsigned char *buf, const char *hdr, size_t data) {
    const uint64_t n = strlen(hdr);
    memcpy(buf, &n, 8);
    memcpy(buf + 8, hdr, n);
    memset(buf + 8 + n, 0, data);
    return 8 + n + data;
}

START_TEST(overlapping_ranges_refused) {
    unsigned char buf[512];
    bt_st_file f;
    bt_error e;
    size_t n = image(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                          "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
    ck_assert_int_eq(bt_st_open_mem("x.safetensors", buf, n, &f, &e), BT_EINPUT);
    ck_assert_msg(strstr(e.msg, "x.safetensors: tensors a and b share bytes of the data region"), "%s", e.msg);
    /* the same bytes a thousand times over: the amplification the check prevents */
    char hdr[400];
    snprintf(hdr, sizeof hdr, "{\"a\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
                              "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}");
    n = image(buf, hdr, 8);
    ck_assert_int_eq(bt_st_open_mem("x.safetensors", buf, n, &f, &e), BT_EINPUT);
    /* adjacent ranges, and empty tensors anywhere, are fine */
    n = image(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12);
    ck_assert_msg(bt_st_open_mem("x.safetensors", buf, n, &f, &e) == BT_OK, "%s", e.msg);
    ck_assert_int_eq(f.n, 3);
    bt_st_close(&f);
}
END_TEST

/* A tensor name with a newline and a terminal escape: the message stays one line of text. */
START_TEST(control_bytes_in_names_are_not_echoed) {
    unsigned char buf[512];
    bt_st_file f;
    bt_error e;
    size_t n = image(buf, "{\"evil\\u001b[2J\\nFAKE LINE\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8);
    ck_assert_int_eq(bt_st_open_mem("x.safetensors", buf, n, &f, &e), BT_EINPUT);
    ck_assert_msg(strstr(e.msg, "tensor evil?[2J?FAKE LINE: data_offsets span 4 bytes"), "%s", e.msg);
    for (const char *p = e.msg; *p; p++) ck_assert_int_ge((unsigned char)*p, 0x20);
}
END_TEST

static const char *tiny_gpt2_dir(const char *config_json) {
    const char *dir = tu_tmpdir();
    char src[1024];
    snprintf(src, sizeof src, "%s/tests/data/models/tiny-gpt2/model.safetensors", tu_source_dir());
    FILE *in = fopen(src, "rb");
    ck_assert_ptr_nonnull(in);
    static unsigned char data[1 << 20];
    const size_t len = fread(data, 1, sizeof data, in);
    fclose(in);
    tu_write_file(dir, "model.safetensors", data, len);
    tu_write_file(dir, "config.json", config_json, strlen(config_json));
    return dir;
}

START_TEST(config_larger_than_weights_refused_before_allocation) {
    /* tiny-gpt2's 413 KB of weights with dims of 2^30 x 2^20: 2^50 floats (4 PiB) to allocate,
     * which ASan would abort on, were it attempted */
    const char *dir = tiny_gpt2_dir("{\"model_type\": \"gpt2\", \"architectures\": [\"GPT2LMHeadModel\"],"
                                    " \"vocab_size\": 1073741824, \"n_embd\": 1048576, \"n_head\": 2,"
                                    " \"n_layer\": 2, \"n_positions\": 1024}");
    bt_model m;
    bt_error e;
    ck_assert_int_eq(bt_model_load(dir, &m, &e), BT_EINPUT);
    /* tiny-gpt2 (tests/data/SOURCES.md): wte 50257x2 + wpe 1024x2 + ln_f 2+2 + per layer (c_attn 2x6+6,
     * c_proj 2x2+2, c_fc 2x8+8, mlp.c_proj 8x2+2, ln_1 2+2, ln_2 2+2) x 2 = 100514 + 2048 + 4 + 148 */
    ck_assert_msg(strstr(e.msg, "config.json: its dimensions need") && strstr(e.msg, "hold only 102714 values"), "%s",
                  e.msg);
    bt_model_free(&m);
}
END_TEST

START_TEST(config_matching_weights_loads) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/models/tiny-gpt2/config.json", tu_source_dir());
    FILE *in = fopen(path, "rb");
    ck_assert_ptr_nonnull(in);
    char cfg[4096];
    const size_t len = fread(cfg, 1, sizeof cfg - 1, in);
    fclose(in);
    cfg[len] = '\0';
    bt_model m;
    bt_error e;
    ck_assert_msg(bt_model_load(tiny_gpt2_dir(cfg), &m, &e) == BT_OK, "%s", e.msg);
    ck_assert_int_eq(m.cfg.vocab_size, 50257);
    bt_model_free(&m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("model_hostile");
    TCase *tc = tcase_create("hostile");
    tcase_add_test(tc, overlapping_ranges_refused);
    tcase_add_test(tc, control_bytes_in_names_are_not_echoed);
    tcase_add_test(tc, config_larger_than_weights_refused_before_allocation);
    tcase_add_test(tc, config_matching_weights_loads);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
