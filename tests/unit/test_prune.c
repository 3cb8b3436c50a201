/* bt_model_prune on a small random BERT built in memory: the pruned model computes what the
 * masked model computes (SPEC "Pruning"), keeps the right rows and columns, handles a layer that
 * loses every head and a model that was pruned before, and survives save + load. */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/model.h"
#include "testutil.h"

enum { L = 3, D = 16, H = 4, DH = 4, F = 24, C = 3, V = 40 };

static unsigned rng = 12345u;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) * (1.0 / 8388608.0)) - 1.0f;
}

/* pruned_l0: heads of layer 0 the source has lost already (bit mask) */
static void make_model(bt_model *m, unsigned pruned_l0) {
    memset(m, 0, sizeof *m);
    bt_config c;
    memset(&c, 0, sizeof c);
    c.arch = BT_ARCH_BERT, c.n_layers = L, c.d_model = D, c.n_heads = H, c.d_head = DH, c.d_ff = F;
    c.vocab_size = V, c.max_pos = 16, c.type_vocab = 2, c.n_labels = C, c.head = BT_HEAD_CLASSIFY;
    c.has_pooler = 1, c.act = BT_ACT_GELU, c.ln_eps = 1e-12f;
    bt_config_unpruned(&c);
    int k = 0;
    for (int h = 0; h < H; h++)
        if (!(pruned_l0 >> h & 1)) c.head_id[0][k++] = (signed char)h;
    for (int j = k; j < BT_MAX_HEADS; j++) c.head_id[0][j] = -1;
    c.layer_heads[0] = k;
    bt_error err;
    ck_assert_int_eq(bt_model_alloc(m, &c, &err), BT_OK);
    snprintf(m->model_type, sizeof m->model_type, "bert");
    for (size_t i = 0; i < m->n_params; i++) m->block[i] = 0.5f * frand();
}

static const int LENS[2] = {6, 9};
static int IDS[15];

/* logits [2, C] and the last hidden state [15, D] at gates (NULL = all on) */
static void run(const bt_model *m, const float *gates, float *logits, float *hidden) {
    for (int i = 0; i < 15; i++) IDS[i] = (i * 7 + 3) % V;
    bt_engine_limits lim = {.max_tokens = 15, .max_seqs = 2, .max_len = 9};
    bt_engine *e;
    bt_error err;
    ck_assert_int_eq(bt_engine_create(&m->cfg, &m->params, &lim, &e, &err), BT_OK);
    bt_batch b = {.n_seqs = 2, .lens = LENS, .ids = IDS};
    ck_assert_int_eq(bt_engine_forward(e, &b, gates, 0, &err), BT_OK);
    memcpy(logits, bt_engine_logits(e), sizeof(float) * 2 * C);
    memcpy(hidden, bt_engine_hidden(e, L), sizeof(float) * 15 * D);
    bt_engine_free(e);
}

static double max_diff(const float *a, const float *b, int n) {
    double d = 0;
    for (int i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static void same_as_masked(const bt_model *src, const bt_model *dst, const float *mask) {
    float la[2 * C], lb[2 * C], ha[15 * D], hb[15 * D];
    run(src, mask, la, ha);
    run(dst, NULL, lb, hb);
    ck_assert_msg(max_diff(la, lb, 2 * C) < 1e-5, "logits differ by %g", max_diff(la, lb, 2 * C));
    ck_assert_msg(max_diff(ha, hb, 15 * D) < 1e-5, "hidden states differ by %g", max_diff(ha, hb, 15 * D));
}

START_TEST(pruned_equals_masked) {
    bt_model src, dst;
    make_model(&src, 0);
    float mask[L * H] = {0, 1, 0, 1, /* layer 0 keeps 1, 3 */ 0, 0, 0, 0, /* layer 1 loses all */ 1, 1, 1, 1};
    bt_error err;
    ck_assert_int_eq(bt_model_prune(&src, mask, &dst, &err), BT_OK);
    ck_assert_int_eq(dst.cfg.layer_heads[0], 2);
    ck_assert_int_eq(dst.cfg.head_id[0][0], 1);
    ck_assert_int_eq(dst.cfg.head_id[0][1], 3);
    ck_assert_int_eq(dst.cfg.layer_heads[1], 0);
    ck_assert_int_eq(dst.cfg.layer_heads[2], 4);
    same_as_masked(&src, &dst, mask);

    /* rows h*dh..(h+1)*dh-1 of q, k, v (and biases), the same columns of the output projection */
    const bt_layer_params *o = &src.params.layer[0], *n = &dst.params.layer[0];
    const int kept[2] = {1, 3}, Dn = 2 * DH, Do = H * DH;
    for (int p = 0; p < 3; p++)
        for (int j = 0; j < 2; j++)
            for (int r = 0; r < DH; r++) {
                const int ro = p * Do + kept[j] * DH + r, rn = p * Dn + j * DH + r;
                ck_assert(!memcmp(n->wqkv + (size_t)rn * D, o->wqkv + (size_t)ro * D, sizeof(float) * D));
                ck_assert(n->bqkv[rn] == o->bqkv[ro]);
            }
    for (int r = 0; r < D; r++)
        for (int j = 0; j < 2; j++)
            ck_assert(!memcmp(n->wo + r * Dn + j * DH, o->wo + r * Do + kept[j] * DH, sizeof(float) * DH));
    ck_assert(!memcmp(n->bo, o->bo, sizeof(float) * D));
    ck_assert(!memcmp(dst.params.layer[1].bo, src.params.layer[1].bo, sizeof(float) * D));
    ck_assert(!memcmp(dst.params.cls_w, src.params.cls_w, sizeof(float) * C * D));

    /* parameters: each removed head takes 3 dh x D + 3 dh biases + D x dh of the output */
    const size_t per_head = 4 * DH * D + 3 * DH;
    ck_assert_uint_eq(bt_model_param_count(&src) - bt_model_param_count(&dst), 6 * per_head);
    bt_model_free(&src);
    bt_model_free(&dst);
}
END_TEST

START_TEST(pruning_a_pruned_model) {
    bt_model src, dst;
    make_model(&src, 1u << 1); /* layer 0 has lost head 1 */
    /* the entry of the absent head says keep: it stays absent */
    float mask[L * H] = {1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1};
    bt_error err;
    ck_assert_int_eq(bt_model_prune(&src, mask, &dst, &err), BT_OK);
    ck_assert_int_eq(dst.cfg.layer_heads[0], 2);
    ck_assert_int_eq(dst.cfg.head_id[0][0], 0);
    ck_assert_int_eq(dst.cfg.head_id[0][1], 3);
    ck_assert_int_eq(dst.cfg.layer_heads[1], 3);
    same_as_masked(&src, &dst, mask);
    bt_model_free(&src);
    bt_model_free(&dst);
}
END_TEST

START_TEST(save_and_load_round_trip) {
    bt_model src, dst, back;
    make_model(&src, 0);
    float mask[L * H] = {1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0};
    bt_error err;
    ck_assert_int_eq(bt_model_prune(&src, mask, &dst, &err), BT_OK);
    const char *dir = tu_tmpdir();
    ck_assert_msg(bt_model_save(&dst, dir, &err) == BT_OK, "%s", err.msg);
    ck_assert_msg(bt_model_load(dir, &back, &err) == BT_OK, "%s", err.msg);
    for (int l = 0; l < L; l++) {
        ck_assert_int_eq(back.cfg.layer_heads[l], dst.cfg.layer_heads[l]);
        for (int j = 0; j < dst.cfg.layer_heads[l]; j++) ck_assert_int_eq(back.cfg.head_id[l][j], dst.cfg.head_id[l][j]);
    }
    ck_assert_uint_eq(back.n_params, dst.n_params);
    ck_assert(!memcmp(back.block, dst.block, sizeof(float) * dst.n_params));
    same_as_masked(&src, &back, mask);

    /* config.json: HF's {"layer": [original head ids]} */
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char text[8192];
    const size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    cJSON *root = cJSON_Parse(text);
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(root, "pruned_heads");
    ck_assert_ptr_nonnull(ph);
    char *s = cJSON_PrintUnformatted(ph);
    ck_assert_str_eq(s, "{\"0\":[1],\"1\":[0,1,2,3],\"2\":[3]}");
    cJSON_free(s);
    cJSON_Delete(root);
    bt_model_free(&src);
    bt_model_free(&dst);
    bt_model_free(&back);
}
END_TEST

START_TEST(nothing_to_prune_is_a_copy) {
    bt_model src, dst;
    make_model(&src, 0);
    float mask[L * H];
    for (int i = 0; i < L * H; i++) mask[i] = 1;
    bt_error err;
    ck_assert_int_eq(bt_model_prune(&src, mask, &dst, &err), BT_OK);
    ck_assert_uint_eq(dst.n_params, src.n_params);
    float la[2 * C], lb[2 * C], ha[15 * D], hb[15 * D];
    run(&src, NULL, la, ha);
    run(&dst, NULL, lb, hb);
    ck_assert(!memcmp(la, lb, sizeof la) && !memcmp(ha, hb, sizeof ha)); /* same weights, same bits */
    bt_model_free(&src);
    bt_model_free(&dst);
}
END_TEST

int main(void) {
    Suite *s = suite_create("prune");
    TCase *t = tcase_create("prune");
    tcase_add_test(t, pruned_equals_masked);
    tcase_add_test(t, pruning_a_pruned_model);
    tcase_add_test(t, save_and_load_round_trip);
    tcase_add_test(t, nothing_to_prune_is_a_copy);
    suite_add_tcase(s, t);
    return tu_run_suite(s);
}
