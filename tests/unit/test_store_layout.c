/* What a run.h5 layout contains, computed without MPI or HDF5 I/O: dataset shapes, per-example
 * offsets of the flat tensors (hand-computed here), layout checks, the size estimate's raw part. */
#include <check.h>
#include <string.h>

#include "bertology/store.h"
#include "store/run_h5_internal.h"
#include "testutil.h"

static const int LENS[3] = {3, 1, 2};
static const int ATTN[2] = {0, 2};
static const int HID[1] = {3};

static bt_store_layout base(void) {
    return (bt_store_layout){.n_layers = 3, .n_heads = 4, .n_labels = 2, .has_loss = 1,
                             .d_model = 5, .n_examples = 3, .lengths = LENS,
                             .n_attn_layers = 2, .attn_layers = ATTN, .n_hidden_layers = 1,
                             .hidden_layers = HID, .tensor_dtype = BT_STORE_F16};
}

START_TEST(offsets_by_hand) {
    bt_store_layout lay = base();
    int64_t tok[4], attn[4], hid[4], attrib[4];
    lay.save_attributions = 1;
    bt_run_h5_offsets(&lay, tok, attn, hid, attrib);
    /* tokens 3,1,2; attention 2 layers x 4 heads x T^2 = 72, 8, 32; hidden 1 x T x 5 */
    const int64_t want_tok[4] = {0, 3, 4, 6}, want_attn[4] = {0, 72, 80, 112},
                  want_hid[4] = {0, 15, 20, 30};
    /* attributions: every layer, 3 x 4 x T^2 = 108, 12, 48 */
    const int64_t want_attrib[4] = {0, 108, 120, 168};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(tok[i], want_tok[i]);
        ck_assert_int_eq(attn[i], want_attn[i]);
        ck_assert_int_eq(hid[i], want_hid[i]);
        ck_assert_int_eq(attrib[i], want_attrib[i]);
    }
    lay.save_attributions = 0;
    bt_run_h5_offsets(&lay, NULL, NULL, NULL, attrib);
    ck_assert_int_eq(attrib[3], 0);
}
END_TEST

START_TEST(datasets_present_and_shaped) {
    bt_store_layout lay = base();
    bt_ds_desc d[DS_COUNT];
    /* 13 always/by-flag datasets: no per-example entropy; labels+logits, loss+grad present */
    ck_assert_int_eq(bt_run_h5_describe(&lay, d), 17);
    ck_assert(!d[DS_ENTROPY].present);
    ck_assert_str_eq(d[DS_GATE_GRAD].path, "/examples/gate_grad");
    ck_assert(d[DS_GATE_GRAD].rank == 3 && d[DS_GATE_GRAD].dims[0] == 3 &&
              d[DS_GATE_GRAD].dims[1] == 3 && d[DS_GATE_GRAD].dims[2] == 4);
    ck_assert_int_eq(d[DS_GATE_GRAD].per_row, 12);
    ck_assert(d[DS_LOGITS].rank == 2 && d[DS_LOGITS].dims[1] == 2);
    ck_assert_int_eq(d[DS_TOKEN_IDS].dims[0], 6);
    ck_assert_int_eq(d[DS_ATTN].dims[0], 112);
    ck_assert_int_eq(d[DS_HID].dims[0], 30);
    ck_assert_int_eq(bt_run_h5_type_size(&lay, d[DS_ATTN].type), 2);
    lay.n_labels = 0;
    lay.has_loss = 0;
    lay.n_attn_layers = lay.n_hidden_layers = 0;
    /* index, length, token_offset, token_ids + 5 summary datasets */
    ck_assert_int_eq(bt_run_h5_describe(&lay, d), 9);
    ck_assert(!d[DS_ATTR_MAX].present && !d[DS_ATTRIB].present && !d[DS_ATTRIB_OFFSET].present &&
              !d[DS_ROLLOUT].present);
    /* attattr's maxima, its maps and the rollout: one switch each */
    lay.has_attr_max = lay.save_attributions = lay.save_rollout = 1;
    ck_assert_int_eq(bt_run_h5_describe(&lay, d), 13);
    ck_assert_str_eq(d[DS_ATTR_MAX].path, "/examples/attr_max");
    ck_assert(d[DS_ATTR_MAX].rank == 3 && d[DS_ATTR_MAX].dims[0] == 3 && d[DS_ATTR_MAX].dims[1] == 3 &&
              d[DS_ATTR_MAX].dims[2] == 4 && d[DS_ATTR_MAX].type == T_F64);
    ck_assert_int_eq(d[DS_ATTR_MAX].per_row, 12);
    /* [L, H, T, T] per example: 3 x 4 x (9 + 1 + 4) */
    ck_assert_int_eq(d[DS_ATTRIB].dims[0], 168);
    ck_assert_int_eq(bt_run_h5_type_size(&lay, d[DS_ATTRIB].type), 2); /* tensor_dtype f16 */
    ck_assert(d[DS_ATTRIB_OFFSET].rank == 1 && d[DS_ATTRIB_OFFSET].dims[0] == 3);
    ck_assert_int_eq(d[DS_ROLLOUT].dims[0], 6);
    ck_assert_int_eq(bt_run_h5_type_size(&lay, d[DS_ROLLOUT].type), 4); /* always f32 */
    ck_assert_str_eq(d[DS_ROLLOUT].when, "save_rollout");
    ck_assert_str_eq(d[DS_ATTRIB].when, "save_attributions");
    ck_assert_str_eq(d[DS_ATTR_MAX].when, "has_attr_max");
    ck_assert(bt_run_h5_group_present(&lay, G_ATTRIBUTION) && bt_run_h5_group_present(&lay, G_ROLLOUT));
}
END_TEST

START_TEST(estimate_counts_raw_bytes) {
    bt_store_layout lay = base();
    /* raw: index 24 + length 12 + token_offset 24 + token_ids 24 + label 12 + logits 24 +
     * loss 24 + gate_grad 288 + attn 224 + attn offset 24 + hidden 60 + hidden offset 24 +
     * summary 12*(8+4+4+8+4) = 360 -> 1144 bytes */
    uint64_t small = bt_store_estimate_bytes(&lay, NULL);
    ck_assert_uint_gt(small, 1144);
    ck_assert_uint_lt(small, 1144 + 32768); /* metadata: ~20 KB of headers and heaps */
    /* 1000 more examples of length 100: each adds 2*4*100*100*2 bytes of attention, 1*100*5*2 of hidden... */
    static int lens[1003];
    for (int i = 0; i < 1003; i++) lens[i] = i < 3 ? LENS[i] : 100;
    lay.n_examples = 1003;
    lay.lengths = lens;
    uint64_t big = bt_store_estimate_bytes(&lay, NULL);
    uint64_t per = 8 + 4 + 8 + 100 * 4 + 4 + 2 * 4 + 8 + 96 + 160000 + 8 + 500 * 2 + 8;
    ck_assert_uint_eq(big - small, 1000 * per);
    /* f32 tensors double the tensor part */
    lay.tensor_dtype = BT_STORE_F32;
    ck_assert_uint_eq(bt_store_estimate_bytes(&lay, NULL) - big, 1000 * 161000 + 224 + 60);
    /* metadata strings count: a 100 KB model config (short ones fit in heap space the
     * estimate already has) */
    static char cfg[100001];
    memset(cfg, 'x', 100000);
    bt_store_meta meta = {.model_config_json = cfg};
    lay.tensor_dtype = BT_STORE_F16;
    ck_assert_uint_ge(bt_store_estimate_bytes(&lay, &meta), big + 100000);
    ck_assert_uint_lt(bt_store_estimate_bytes(&lay, &meta), big + 100000 + 16384);
    /* attr_max 12 x 8, attribution 3 x 4 x 100^2 x 2 (f16) + an offset, rollout 100 x 4 per
     * example of 100 tokens, plus the metadata of two groups and four datasets */
    lay.n_examples = 3, lay.lengths = LENS;
    lay.has_attr_max = lay.save_attributions = lay.save_rollout = 1;
    const uint64_t small_all = bt_store_estimate_bytes(&lay, NULL);
    ck_assert_uint_gt(small_all, small + 3 * 96 + 168 * 2 + 24 + 6 * 4);
    lay.n_examples = 1003, lay.lengths = lens;
    ck_assert_uint_eq(bt_store_estimate_bytes(&lay, NULL) - small_all, 1000 * (per + 96 + 240000 + 8 + 400));
}
END_TEST

START_TEST(bad_layouts_are_refused) {
    bt_error err;
    bt_store_layout lay = base();
    ck_assert_int_eq(bt_run_h5_check_layout(&lay, &err), BT_OK);
    const int bad_len[3] = {3, 0, 2}, bad_attn[2] = {2, 0}, out_attn[2] = {0, 3};
    struct { bt_store_layout l; const char *what; } c[7];
    for (int i = 0; i < 7; i++) c[i].l = base();
    c[0].l.lengths = bad_len, c[0].what = "lengths[1]";
    c[1].l.attn_layers = bad_attn, c[1].what = "attn_layers not increasing";
    c[2].l.attn_layers = out_attn, c[2].what = "attn_layers[1] = 3";
    c[3].l.regression = 1, c[3].what = "regression";
    c[4].l.n_heads = 0, c[4].what = "n_heads";
    c[5].l.d_model = 0, c[5].what = "d_model";
    c[6].l.io_mode = 7, c[6].what = "io_mode 7";
    for (int i = 0; i < 7; i++) {
        ck_assert_int_ne(bt_run_h5_check_layout(&c[i].l, &err), BT_OK);
        ck_assert_msg(strstr(err.msg, c[i].what) != NULL, "'%s' not in: %s", c[i].what, err.msg);
        ck_assert_uint_eq(bt_store_estimate_bytes(&c[i].l, NULL), 0);
    }
}
END_TEST

/* 4096 layers x 4096 heads x T^2: one example of 2^20 tokens is 2^64 attention values, which
 * wrapped to 0 before the totals were checked; 2^17 tokens (2^58 values) still fits. */
START_TEST(size_products_cannot_overflow) {
    static int all[4096];
    for (int i = 0; i < 4096; i++) all[i] = i;
    int len = 1 << 20;
    bt_store_layout lay = {.n_layers = 4096, .n_heads = 4096, .n_examples = 1, .lengths = &len,
                           .n_attn_layers = 4096, .attn_layers = all, .tensor_dtype = BT_STORE_F16};
    bt_error err;
    ck_assert_int_eq(bt_run_h5_check_layout(&lay, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "attentions") != NULL, "%s", err.msg);
    ck_assert_uint_eq(bt_store_estimate_bytes(&lay, NULL), 0);
    len = 1 << 17;
    ck_assert_int_eq(bt_run_h5_check_layout(&lay, &err), BT_OK);
    ck_assert_uint_ge(bt_run_h5_raw_bytes(&lay), ((uint64_t)1 << 58) * 2);
    /* many examples whose sum, not any one, passes the bound */
    static int lens[64];
    for (int i = 0; i < 64; i++) lens[i] = 1 << 17;
    lay.n_examples = 64, lay.lengths = lens;
    ck_assert_int_eq(bt_run_h5_check_layout(&lay, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "attentions") != NULL, "%s", err.msg);
}
END_TEST

int main(void) {
    Suite *s = suite_create("store_layout");
    TCase *tc = tcase_create("layout");
    tcase_add_test(tc, offsets_by_hand);
    tcase_add_test(tc, datasets_present_and_shaped);
    tcase_add_test(tc, estimate_counts_raw_bytes);
    tcase_add_test(tc, bad_layouts_are_refused);
    tcase_add_test(tc, size_products_cannot_overflow);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
