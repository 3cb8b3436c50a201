/* The whole engine on a small random BERT: gate gradients against central finite differences of
 * the engine's own per-example loss, packing invariance, pruned layers, and bad input. */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/attribution.h"
#include "bertology/engine.h"
#include "testutil.h"

static unsigned rng = 777u;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) * (1.0 / 8388608.0)) - 1.0f;
}

typedef struct {
    bt_config cfg;
    float *block;
    bt_params p;
} model;

/* family: 0 BERT, 1 GPT-2 LM, 2 GPT LM, 3 GPT-2 classifier (last token, no pooler),
 * 4 DistilBERT/RoBERTa-like (relu pre-classifier, no token types, positions offset by 2) */
static void make_family(model *m, int family, int L, int D, int H, int F, int C, int act, int pruned) {
    memset(m, 0, sizeof *m);
    bt_config *c = &m->cfg;
    c->arch = family == 1 || family == 3 ? BT_ARCH_GPT2 : family == 2 ? BT_ARCH_GPT : BT_ARCH_BERT;
    c->n_layers = L, c->d_model = D, c->n_heads = H, c->d_head = D / H, c->d_ff = F;
    c->vocab_size = 50, c->max_pos = 24, c->type_vocab = family == 0 ? 2 : 0, c->pos_offset = family == 4 ? 2 : 0;
    c->n_labels = C, c->head = C == 1 ? BT_HEAD_REGRESS : BT_HEAD_CLASSIFY, c->has_pooler = family == 0 || family == 4;
    if (family == 1 || family == 2) c->head = BT_HEAD_LM, c->n_labels = 0;
    c->pooler_act = family == 4 ? BT_POOL_RELU : BT_POOL_TANH;
    c->cls_last = family == 3;
    c->act = act, c->ln_eps = 1e-12f;
    bt_config_unpruned(c);
    if (pruned) { /* layer 0 keeps heads 1 and 3; layer 1 loses every head */
        c->layer_heads[0] = 2, c->head_id[0][0] = 1, c->head_id[0][1] = 3;
        c->layer_heads[1] = 0;
    }
    const size_t n = bt_params_count(c);
    m->block = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    for (size_t i = 0; i < n; i++) m->block[i] = 0.4f * frand();
    bt_params_map(c, m->block, &m->p);
    for (int i = 0; i < D && m->p.emb_ln_g; i++) m->p.emb_ln_g[i] = 1.0f + 0.2f * frand();
    for (int i = 0; i < D && m->p.lnf_g; i++) m->p.lnf_g[i] = 1.0f + 0.2f * frand();
    for (int l = 0; l < L; l++)
        for (int i = 0; i < D; i++) {
            m->p.layer[l].ln1_g[i] = 1.0f + 0.2f * frand();
            m->p.layer[l].ln2_g[i] = 1.0f + 0.2f * frand();
        }
}

static void make_model(model *m, int L, int D, int H, int F, int C, int act, int pruned) {
    make_family(m, 0, L, D, H, F, C, act, pruned);
}

enum { NSEQ = 3 };
static const int LENS[NSEQ] = {7, 1, 12};
static int IDS[20], TYPES[20], LABELS[NSEQ];
static float TARGETS[NSEQ] = {0.5f, -1.0f, 2.0f};

static void make_inputs(int C) {
    for (int i = 0; i < 20; i++) IDS[i] = (int)((frand() + 1.0f) * 25.0f) % 50, TYPES[i] = i % 3 == 0;
    IDS[0] = 0, IDS[19] = 49;
    for (int b = 0; b < NSEQ; b++) LABELS[b] = b % (C > 1 ? C : 1);
}

static bt_engine *new_engine(const model *m, int backward) {
    bt_engine_limits lim = {.max_tokens = 64, .max_seqs = 8, .max_len = 20, .backward = backward,
                            .attentions = 1, .hidden = 1};
    bt_engine *e = NULL;
    bt_error err;
    ck_assert_int_eq(bt_engine_create(&m->cfg, &m->p, &lim, &e, &err), BT_OK);
    return e;
}

static bt_batch batch_of(int C) {
    return (bt_batch){.n_seqs = NSEQ, .lens = LENS, .ids = IDS, .types = C < 0 ? NULL : TYPES,
                      .labels = C > 1 ? LABELS : NULL, .targets = C == 1 ? TARGETS : NULL};
}

/* cfg: 0 = gelu 3 labels, 1 = gelu_tanh regression, 2 = relu 2 labels, 3 = pruned,
 * 4 = GPT-2 LM, 5 = GPT LM, 6 = GPT-2 classifier, 7 = DistilBERT/RoBERTa-like */
START_TEST(gate_gradient_matches_finite_differences) {
    const int acts[8] = {BT_ACT_GELU, BT_ACT_GELU_TANH, BT_ACT_RELU, BT_ACT_GELU,
                         BT_ACT_GELU_TANH, BT_ACT_GELU, BT_ACT_GELU_TANH, BT_ACT_GELU};
    const int labels[8] = {3, 1, 2, 2, 0, 0, 2, 3};
    const int family[8] = {0, 0, 0, 0, 1, 2, 3, 4};
    model m;
    make_family(&m, family[_i], _i == 3 ? 2 : 3, 16, 4, 24, labels[_i], acts[_i], _i == 3);
    make_inputs(labels[_i]);
    bt_engine *e = new_engine(&m, 1);
    const int L = m.cfg.n_layers, H = m.cfg.n_heads;
    float gates[64];
    for (int i = 0; i < L * H; i++) gates[i] = i % 5 == 2 ? 0.0f : (i % 5 == 3 ? 0.6f : 1.0f);
    bt_batch bt = batch_of(family[_i] == 0 ? labels[_i] : -1);
    if (family[_i] != 0) bt.labels = labels[_i] > 1 ? LABELS : NULL;
    bt_error err;
    ck_assert_int_eq(bt_engine_forward(e, &bt, gates, 0, &err), BT_OK);
    ck_assert_int_eq(bt_engine_backward(e, &err), BT_OK);
    double g[NSEQ * 64];
    memcpy(g, bt_engine_gate_grad(e), sizeof(double) * NSEQ * L * H);
    double gmax = 0;
    for (int i = 0; i < NSEQ * L * H; i++) gmax = fmax(gmax, fabs(g[i]));
    ck_assert(gmax > 1e-3); /* the test means nothing if every gradient vanished */
    const float eps = 1e-2f;
    double worst = 0;
    for (int k = 0; k < L * H; k++) {
        const float g0 = gates[k];
        double lp[NSEQ], lm[NSEQ];
        gates[k] = g0 + eps;
        ck_assert_int_eq(bt_engine_forward(e, &bt, gates, 0, &err), BT_OK);
        memcpy(lp, bt_engine_loss(e), sizeof lp);
        gates[k] = g0 - eps;
        ck_assert_int_eq(bt_engine_forward(e, &bt, gates, 0, &err), BT_OK);
        memcpy(lm, bt_engine_loss(e), sizeof lm);
        gates[k] = g0;
        for (int b = 0; b < NSEQ; b++) {
            const double fd = (lp[b] - lm[b]) / (2 * eps);
            worst = fmax(worst, fabs(fd - g[b * L * H + k]));
        }
    }
    printf("config %d: max |g| %.4g, max |fd - g| %.3g\n", _i, gmax, worst);
    ck_assert(worst < 2e-3 * fmax(1.0, gmax));
    if (_i == 3) { /* absent heads: gradient exactly 0 */
        for (int b = 0; b < NSEQ; b++) {
            ck_assert(g[b * L * H + 0] == 0.0 && g[b * L * H + 2] == 0.0);
            for (int h = 0; h < H; h++) ck_assert(g[b * L * H + H + h] == 0.0);
        }
    }
    bt_engine_free(e);
    free(m.block);
}
END_TEST

/* The attribution's backward (bt_engine_backward_attention, seeded by the target F_b: the label's
 * probability, or a regressor's output) against finite differences in each sequence's own scale
 * of layer l: with X = alpha_b A the probabilities layer l uses, dF_b/dalpha_b = sum G (.) X / alpha_b.
 * The forward starts at layer l from the cached input, as the attribution runs it.
 * Configurations as above: 0 BERT 3 labels, 1 regression, 3 pruned, 6 GPT-2 classifier, 7
 * DistilBERT-like. */
static double target_of(const bt_engine *e, int b, int C, int label) {
    const float *z = bt_engine_logits(e) + (size_t)b * C;
    if (C == 1) return z[0];
    double m = z[0], s = 0;
    for (int c = 1; c < C; c++) m = fmax(m, z[c]);
    for (int c = 0; c < C; c++) s += exp(z[c] - m);
    return exp(z[label] - m) / s;
}

START_TEST(attention_gradient_matches_finite_differences) {
    const int cfgs[5] = {0, 1, 3, 6, 7}, k = cfgs[_i];
    const int acts[8] = {BT_ACT_GELU, BT_ACT_GELU_TANH, BT_ACT_RELU, BT_ACT_GELU,
                         BT_ACT_GELU_TANH, BT_ACT_GELU, BT_ACT_GELU_TANH, BT_ACT_GELU};
    const int labels[8] = {3, 1, 2, 2, 0, 0, 2, 3}, family[8] = {0, 0, 0, 0, 1, 2, 3, 4};
    model m;
    make_family(&m, family[k], k == 3 ? 2 : 3, 16, 4, 24, labels[k], acts[k], k == 3);
    const int C = labels[k];
    make_inputs(C);
    bt_engine_limits lim = {.max_tokens = 64, .max_seqs = 8, .max_len = 20, .backward = 1, .attentions = 1,
                            .hidden = 1, .attention_grad = 1};
    bt_engine *e = NULL;
    bt_error err;
    ck_assert_int_eq(bt_engine_create(&m.cfg, &m.p, &lim, &e, &err), BT_OK);
    const int L = m.cfg.n_layers, H = m.cfg.n_heads, D = m.cfg.d_model;
    bt_batch bt = batch_of(family[k] == 0 ? C : -1);
    bt.labels = C > 1 ? LABELS : NULL;
    bt.targets = C == 1 ? TARGETS : NULL;
    float alpha[NSEQ] = {0.3f, 0.75f, 1.0f}, x_in[64 * 16], G[4 * 400], X[4 * 400];
    double worst = 0, dmax = 0;
    for (int l = 0; l < L; l++) {
        ck_assert_int_eq(bt_engine_forward(e, &bt, NULL, 0, &err), BT_OK);
        memcpy(x_in, bt_engine_hidden(e, l), sizeof(float) * 20 * D);
        ck_assert_int_eq(bt_engine_forward_scaled(e, &bt, NULL, 0, l, x_in, l, alpha, &err), BT_OK);
        ck_assert_int_eq(bt_engine_backward_attention(e, l, BT_SEED_TARGET, &err), BT_OK);
        double an[NSEQ];
        for (int b = 0; b < NSEQ; b++) {
            const int T = LENS[b];
            ck_assert_int_eq(bt_engine_copy_attention_grad(e, b, G, &err), BT_OK);
            ck_assert_int_eq(bt_engine_copy_attention(e, b, l, X, &err), BT_OK);
            an[b] = 0;
            for (int i = 0; i < H * T * T; i++) an[b] += (double)G[i] * X[i] / alpha[b];
            dmax = fmax(dmax, fabs(an[b]));
        }
        const float eps = 1e-2f;
        for (int b = 0; b < NSEQ; b++) {
            double f[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                float a2[NSEQ];
                memcpy(a2, alpha, sizeof a2);
                a2[b] += sgn ? -eps : eps;
                ck_assert_int_eq(bt_engine_forward_scaled(e, &bt, NULL, 0, l, x_in, l, a2, &err), BT_OK);
                f[sgn] = target_of(e, b, C, C > 1 ? LABELS[b] : 0);
            }
            worst = fmax(worst, fabs((f[0] - f[1]) / (2 * eps) - an[b]));
        }
    }
    printf("config %d: max |dF/dalpha| %.4g, max |fd - G.X/alpha| %.3g\n", k, dmax, worst);
    ck_assert(dmax > 1e-4); /* the test means nothing if every gradient vanished */
    ck_assert(worst < 2e-3 * fmax(1e-2, dmax));
    /* below the forward's first layer, and without the buffers: refused, never stale numbers */
    ck_assert_int_eq(bt_engine_forward_scaled(e, &bt, NULL, 0, L - 1, x_in, L - 1, alpha, &err), BT_OK);
    ck_assert_int_eq(bt_engine_backward_attention(e, 0, BT_SEED_TARGET, &err), BT_EINPUT);
    ck_assert_int_eq(bt_engine_copy_attention_grad(e, 0, G, &err), BT_EINPUT);
    bt_engine_free(e);
    bt_engine *plain = new_engine(&m, 1);
    ck_assert_int_eq(bt_engine_forward(plain, &bt, NULL, 0, &err), BT_OK);
    ck_assert_int_eq(bt_engine_backward_attention(plain, 0, BT_SEED_TARGET, &err), BT_EINPUT);
    bt_engine_free(plain);
    free(m.block);
}
END_TEST

/* bt_attr_batch (the copies as one batch from the cached layer input; in chunks when m copies of
 * the longest example exceed 2048 tokens: m = 150 at 20 tokens) against the definition run
 * plainly: each alpha = k/m alone, from the embeddings, one engine call per step. */
START_TEST(attribution_matches_the_plain_loop) {
    const int ms[2] = {5, 150}, m = ms[_i];
    model mo;
    make_family(&mo, 0, 3, 16, 4, 24, 3, BT_ACT_GELU, 0);
    make_inputs(3);
    const int L = mo.cfg.n_layers, H = mo.cfg.n_heads;
    const bt_engine_limits own = {.max_tokens = 20, .max_seqs = NSEQ, .max_len = 20, .backward = 1, .hidden = 1};
    const bt_engine_limits lim = bt_attr_limits(own, m);
    ck_assert_int_eq(lim.max_tokens, m * 20 <= 2048 ? m * 20 : 2040); /* 102 copies of 20 tokens */
    bt_engine *e = NULL;
    bt_attr a;
    bt_error err;
    ck_assert_int_eq(bt_engine_create(&mo.cfg, &mo.p, &lim, &e, &err), BT_OK);
    ck_assert_int_eq(bt_attr_alloc(&a, &mo.cfg, &own, m, &err), BT_OK);
    bt_batch bt = batch_of(3);
    const int target[NSEQ] = {2, 0, 1};
    double score[NSEQ * 12];
    static float maps[3 * 4 * (49 + 1 + 144)];
    ck_assert_int_eq(bt_engine_forward(e, &bt, NULL, 0, &err), BT_OK);
    ck_assert_int_eq(bt_attr_batch(&a, e, &bt, NULL, target, score, maps, &err), BT_OK);
    double worst = 0, big = 0;
    size_t off = 0;
    for (int b = 0, row = 0; b < NSEQ; row += LENS[b], off += (size_t)L * H * LENS[b] * LENS[b], b++) {
        const int T = LENS[b];
        const bt_batch one = {.n_seqs = 1, .lens = LENS + b, .ids = IDS + row, .types = TYPES + row, .labels = target + b};
        static double gsum[4 * 144];
        static float g[4 * 144], A[4 * 144];
        for (int l = 0; l < L; l++) {
            memset(gsum, 0, sizeof gsum);
            for (int k = 1; k <= m; k++) {
                const float alpha = (float)k / (float)m;
                ck_assert_int_eq(bt_engine_forward_scaled(e, &one, NULL, 0, 0, NULL, l, &alpha, &err), BT_OK);
                ck_assert_int_eq(bt_engine_backward_attention(e, l, BT_SEED_TARGET, &err), BT_OK);
                ck_assert_int_eq(bt_engine_copy_attention_grad(e, 0, g, &err), BT_OK);
                for (int i = 0; i < H * T * T; i++) gsum[i] += g[i];
                if (k == m) ck_assert_int_eq(bt_engine_copy_attention(e, 0, l, A, &err), BT_OK);
            }
            for (int h = 0; h < H; h++) {
                double best = -INFINITY;
                for (int i = 0; i < T * T; i++) {
                    const double want = A[h * T * T + i] * gsum[h * T * T + i] / m;
                    const float got = maps[off + ((size_t)l * H + h) * T * T + i];
                    worst = fmax(worst, fabs(got - want)), big = fmax(big, fabs(want));
                    best = fmax(best, want);
                }
                worst = fmax(worst, fabs(score[(b * L + l) * H + h] - best));
            }
        }
    }
    printf("attribution m=%d (copies per batch %d): max |map| %.3g, max |bt_attr - plain| %.3g\n", m, a.chunk, big, worst);
    ck_assert(big > 1e-4);
    ck_assert(worst < 1e-5 * big + 1e-7);
    bt_attr_free(&a);
    bt_engine_free(e);
    free(mo.block);
}
END_TEST

START_TEST(packed_equals_alone) {
    model m;
    make_model(&m, 3, 16, 4, 24, 3, BT_ACT_GELU, 0);
    make_inputs(3);
    bt_engine *e = new_engine(&m, 1);
    const int L = m.cfg.n_layers, H = m.cfg.n_heads, D = m.cfg.d_model;
    bt_batch bt = batch_of(3);
    bt_error err;
    ck_assert_int_eq(bt_engine_forward(e, &bt, NULL, BT_FWD_ENTROPY, &err), BT_OK);
    ck_assert_int_eq(bt_engine_backward(e, &err), BT_OK);
    double loss[NSEQ], g[NSEQ * 64], ent[NSEQ * 64];
    float logits[NSEQ * 3], hid[NSEQ][20 * 16];
    memcpy(loss, bt_engine_loss(e), sizeof loss);
    memcpy(g, bt_engine_gate_grad(e), sizeof(double) * NSEQ * L * H);
    memcpy(ent, bt_engine_entropy(e), sizeof(double) * NSEQ * L * H);
    memcpy(logits, bt_engine_logits(e), sizeof logits);
    for (int b = 0; b < NSEQ; b++) ck_assert_int_eq(bt_engine_copy_hidden(e, b, L, hid[b], &err), BT_OK);
    double worst = 0;
    int off = 0;
    for (int b = 0; b < NSEQ; b++) {
        bt_batch one = {.n_seqs = 1, .lens = &LENS[b], .ids = IDS + off, .types = TYPES + off, .labels = &LABELS[b]};
        ck_assert_int_eq(bt_engine_forward(e, &one, NULL, BT_FWD_ENTROPY, &err), BT_OK);
        ck_assert_int_eq(bt_engine_backward(e, &err), BT_OK);
        worst = fmax(worst, fabs(bt_engine_loss(e)[0] - loss[b]));
        for (int c = 0; c < 3; c++) worst = fmax(worst, fabs(bt_engine_logits(e)[c] - logits[b * 3 + c]));
        for (int k = 0; k < L * H; k++) {
            worst = fmax(worst, fabs(bt_engine_gate_grad(e)[k] - g[b * L * H + k]));
            worst = fmax(worst, fabs(bt_engine_entropy(e)[k] - ent[b * L * H + k]));
        }
        float h1[20 * 16];
        ck_assert_int_eq(bt_engine_copy_hidden(e, 0, L, h1, &err), BT_OK);
        for (int i = 0; i < LENS[b] * D; i++) worst = fmax(worst, fabs(h1[i] - hid[b][i]));
        off += LENS[b];
    }
    printf("alone vs packed: max abs difference %.3g\n", worst);
    ck_assert(worst < 1e-5);
    bt_engine_free(e);
    free(m.block);
}
END_TEST

START_TEST(bad_input_is_refused) {
    model m;
    make_model(&m, 2, 16, 4, 24, 3, BT_ACT_GELU, 0);
    make_inputs(3);
    bt_engine *e = new_engine(&m, 1);
    bt_batch bt = batch_of(3);
    bt_error err;
    IDS[3] = 50;
    ck_assert_int_eq(bt_engine_forward(e, &bt, NULL, 0, &err), BT_EINPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "token id 50"));
    IDS[3] = 1;
    LABELS[1] = 3;
    ck_assert_int_eq(bt_engine_forward(e, &bt, NULL, 0, &err), BT_EINPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "label 3"));
    LABELS[1] = 1;
    int long_len[1] = {21};
    bt_batch lng = {.n_seqs = 1, .lens = long_len, .ids = IDS};
    ck_assert_int_eq(bt_engine_forward(e, &lng, NULL, 0, &err), BT_EINPUT);
    bt_batch nolabel = bt;
    nolabel.labels = NULL;
    ck_assert_int_eq(bt_engine_forward(e, &nolabel, NULL, 0, &err), BT_OK);
    ck_assert_int_eq(bt_engine_backward(e, &err), BT_EINPUT);
    bt_engine_free(e);
    bt_engine_limits too_long = {.max_tokens = 64, .max_seqs = 4, .max_len = 25, .backward = 1};
    ck_assert_int_eq(bt_engine_create(&m.cfg, &m.p, &too_long, &e, &err), BT_EINPUT);
    free(m.block);
}
END_TEST

START_TEST(forward_only_engine_matches) {
    model m;
    make_model(&m, 3, 16, 4, 24, 3, BT_ACT_GELU, 0);
    make_inputs(3);
    bt_engine *a = new_engine(&m, 1);
    bt_engine_limits lim = {.max_tokens = 64, .max_seqs = 8, .max_len = 20};
    bt_engine *f = NULL;
    bt_error err;
    ck_assert_int_eq(bt_engine_create(&m.cfg, &m.p, &lim, &f, &err), BT_OK);
    ck_assert(bt_engine_bytes(f) < bt_engine_bytes(a));
    bt_batch bt = batch_of(3);
    ck_assert_int_eq(bt_engine_forward(a, &bt, NULL, 0, &err), BT_OK);
    ck_assert_int_eq(bt_engine_forward(f, &bt, NULL, 0, &err), BT_OK);
    ck_assert_mem_eq(bt_engine_logits(a), bt_engine_logits(f), sizeof(float) * NSEQ * 3);
    bt_engine_free(a);
    bt_engine_free(f);
    free(m.block);
}
END_TEST

/* Ablation's shortcut: gates that differ only from layer l up need only layers l.. recomputed. */
START_TEST(forward_from_layer_matches_full_forward) {
    model m;
    make_model(&m, 3, 16, 4, 24, 3, BT_ACT_GELU, 0);
    make_inputs(3);
    bt_engine *e = new_engine(&m, 1);
    const int L = m.cfg.n_layers, H = m.cfg.n_heads, N = 20, D = 16;
    bt_batch bt = batch_of(3);
    bt_error err;
    float gates[12];
    for (int first = 1; first < L; first++) {
        for (int i = 0; i < L * H; i++) gates[i] = 1.0f;
        ck_assert_int_eq(bt_engine_forward(e, &bt, gates, 0, &err), BT_OK);
        float cache[20 * 16];
        memcpy(cache, bt_engine_hidden(e, first), sizeof(float) * N * D);
        gates[first * H + 1] = 0.0f; /* mask one head at or above `first` */
        gates[(L - 1) * H + 2] = 0.0f;
        ck_assert_int_eq(bt_engine_forward(e, &bt, gates, BT_FWD_ENTROPY, &err), BT_OK);
        float full[NSEQ * 3];
        double full_loss[NSEQ], full_ent[NSEQ * 12];
        memcpy(full, bt_engine_logits(e), sizeof full);
        memcpy(full_loss, bt_engine_loss(e), sizeof full_loss);
        memcpy(full_ent, bt_engine_entropy(e), sizeof full_ent);
        ck_assert_int_eq(bt_engine_forward_from(e, &bt, gates, BT_FWD_ENTROPY, first, cache, &err), BT_OK);
        ck_assert_mem_eq(bt_engine_logits(e), full, sizeof full);
        ck_assert_mem_eq(bt_engine_loss(e), full_loss, sizeof full_loss);
        for (int b = 0; b < NSEQ; b++)
            for (int k = first * H; k < L * H; k++) ck_assert(bt_engine_entropy(e)[b * L * H + k] == full_ent[b * L * H + k]);
        ck_assert_int_eq(bt_engine_backward(e, &err), BT_EINPUT); /* lower layers were not run */
    }
    bt_engine_free(e);
    free(m.block);
}
END_TEST

/* After a forward from layer `first`, the attention of the layers below belongs to an earlier
 * forward (another batch, other gates): copying it is refused, layers from `first` up equal a
 * full forward's (issue 11). */
START_TEST(attention_below_forward_from_is_refused) {
    model m;
    make_model(&m, 3, 16, 4, 24, 3, BT_ACT_GELU, 0);
    make_inputs(3);
    bt_engine *e = new_engine(&m, 0);
    const int L = m.cfg.n_layers, H = m.cfg.n_heads, T = LENS[0];
    bt_batch bt = batch_of(3);
    bt_error err;
    float gates[12], cache[20 * 16];
    for (int i = 0; i < L * H; i++) gates[i] = 1.0f;
    ck_assert_int_eq(bt_engine_forward(e, &bt, gates, 0, &err), BT_OK);
    memcpy(cache, bt_engine_hidden(e, 2), sizeof cache);
    gates[2 * H + 1] = 0.0f;
    float *full = malloc(sizeof(float) * H * T * T), *got = malloc(sizeof(float) * H * T * T);
    ck_assert_int_eq(bt_engine_forward(e, &bt, gates, 0, &err), BT_OK);
    ck_assert_int_eq(bt_engine_copy_attention(e, 0, 2, full, &err), BT_OK);
    ck_assert_int_eq(bt_engine_forward_from(e, &bt, gates, 0, 2, cache, &err), BT_OK);
    for (int l = 0; l < 2; l++) {
        ck_assert_int_eq(bt_engine_copy_attention(e, 0, l, got, &err), BT_EINPUT);
        ck_assert_ptr_nonnull(strstr(err.msg, "started at layer 2"));
    }
    ck_assert_int_eq(bt_engine_copy_attention(e, 0, 2, got, &err), BT_OK);
    ck_assert_mem_eq(got, full, sizeof(float) * H * T * T);
    /* a full forward makes every layer's attention readable again */
    ck_assert_int_eq(bt_engine_forward(e, &bt, gates, 0, &err), BT_OK);
    ck_assert_int_eq(bt_engine_copy_attention(e, 0, 0, got, &err), BT_OK);
    free(full), free(got);
    bt_engine_free(e);
    free(m.block);
}
END_TEST

/* bt_engine_rollout against the rollout built here in double from bt_engine_copy_attention:
 * Â_l = rownormalise(0.5 mean over the present heads + 0.5 I), row r of Â_{L-1} ... Â_0, for
 * every sequence and row; on a pruned BERT (a layer of two heads, a layer of none), with a
 * zeroed gate, and on a GPT-2 classifier (causal). Then what it refuses. */
static void rollout_ref(const bt_engine *e, const bt_config *c, int b, int T, int row, double *v) {
    float *a = malloc(sizeof(float) * c->n_heads * T * T);
    double *m = malloc(sizeof(double) * T * T), *w = malloc(sizeof(double) * T);
    bt_error err;
    for (int k = 0; k < T; k++) v[k] = k == row;
    for (int l = c->n_layers - 1; l >= 0; l--) {
        const int Hl = c->layer_heads[l];
        if (!Hl) continue;
        ck_assert_int_eq(bt_engine_copy_attention(e, b, l, a, &err), BT_OK);
        for (int i = 0; i < T; i++) {
            double s = 0;
            for (int k = 0; k < T; k++) {
                double x = 0;
                for (int h = 0; h < c->n_heads; h++) x += a[((size_t)h * T + i) * T + k];
                m[i * T + k] = 0.5 * x / Hl + 0.5 * (i == k);
                s += m[i * T + k];
            }
            for (int k = 0; k < T; k++) m[i * T + k] /= s;
        }
        for (int k = 0; k < T; k++) {
            w[k] = 0;
            for (int i = 0; i < T; i++) w[k] += v[i] * m[i * T + k];
        }
        memcpy(v, w, sizeof(double) * T);
    }
    free(a), free(m), free(w);
}

START_TEST(rollout_matches_attention_products) {
    model m;
    const int family = _i == 0 ? 0 : 3, pruned = _i == 0;
    make_family(&m, family, 3, 16, 4, 24, 2, BT_ACT_GELU, pruned);
    make_inputs(2);
    bt_engine *e = new_engine(&m, 1);
    bt_batch bt = batch_of(2);
    bt_error err;
    float gates[12], got[20];
    double want[20];
    for (int i = 0; i < 12; i++) gates[i] = i == 3 ? 0.0f : i == 9 ? 0.5f : 1.0f; /* layer 0 head 3 off */
    ck_assert_int_eq(bt_engine_forward(e, &bt, gates, 0, &err), BT_OK);
    ck_assert_int_eq(bt_engine_backward(e, &err), BT_OK); /* leaves the forward's attention */
    for (int b = 0; b < NSEQ; b++)
        for (int row = 0; row < LENS[b]; row++) {
            ck_assert_int_eq(bt_engine_rollout(e, b, row, got, &err), BT_OK);
            rollout_ref(e, &m.cfg, b, LENS[b], row, want);
            double sum = 0;
            for (int k = 0; k < LENS[b]; k++) {
                ck_assert_msg(fabs(got[k] - want[k]) <= 1e-6 + 1e-5 * fabs(want[k]),
                              "family %d seq %d row %d token %d: %g vs %g", family, b, row, k, got[k], want[k]);
                sum += got[k];
                /* causal: nothing after the row */
                if (family == 3 && k > row) ck_assert(got[k] == 0.0f);
            }
            ck_assert(fabs(sum - 1) < 1e-5);
        }
    /* refused: a row outside the sequence, a sequence outside the batch */
    ck_assert_int_eq(bt_engine_rollout(e, 0, LENS[0], got, &err), BT_EINPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "row 7 outside 0..6"));
    ck_assert_int_eq(bt_engine_rollout(e, NSEQ, 0, got, &err), BT_EINPUT);
    /* after a forward from layer 2 the lower layers' attention belongs to another batch */
    float cache[20 * 16];
    memcpy(cache, bt_engine_hidden(e, 2), sizeof(float) * 20 * 16);
    ck_assert_int_eq(bt_engine_forward_from(e, &bt, gates, 0, 2, cache, &err), BT_OK);
    ck_assert_int_eq(bt_engine_rollout(e, 0, 0, got, &err), BT_EINPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "full forward"));
    bt_engine_free(e);
    /* an engine that keeps no attention */
    bt_engine_limits lim = {.max_tokens = 64, .max_seqs = 8, .max_len = 20};
    ck_assert_int_eq(bt_engine_create(&m.cfg, &m.p, &lim, &e, &err), BT_OK);
    ck_assert_int_eq(bt_engine_rollout(e, 0, 0, got, &err), BT_EINPUT); /* nor a forward yet */
    ck_assert_int_eq(bt_engine_forward(e, &bt, gates, 0, &err), BT_OK);
    ck_assert_int_eq(bt_engine_rollout(e, 0, 0, got, &err), BT_EINPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "without attention buffers"));
    bt_engine_free(e);
    free(m.block);
}
END_TEST

/* A stop request (issue 20) abandons a forward or a backward before its next layer with
 * BT_EINTERRUPTED; an abandoned forward cannot be gone back from, and once the flag is clear the
 * engine gives the bits of one that was never stopped. */
START_TEST(stop_request_abandons_the_batch) {
    model m;
    make_model(&m, 3, 16, 4, 24, 3, BT_ACT_GELU, 0);
    make_inputs(3);
    bt_engine *e = new_engine(&m, 1), *ref = new_engine(&m, 1);
    const int L = m.cfg.n_layers, H = m.cfg.n_heads;
    bt_batch bt = batch_of(3);
    bt_error err;
    ck_assert_int_eq(bt_engine_forward(ref, &bt, NULL, BT_FWD_ENTROPY, &err), BT_OK);
    ck_assert_int_eq(bt_engine_backward(ref, &err), BT_OK);
    float cache[20 * 16];
    memcpy(cache, bt_engine_hidden(ref, 2), sizeof cache);
    volatile sig_atomic_t stop = SIGTERM;
    bt_engine_set_stop(e, &stop);
    ck_assert_int_eq(bt_engine_forward(e, &bt, NULL, BT_FWD_ENTROPY, &err), BT_EINTERRUPTED);
    ck_assert_msg(strstr(err.msg, "before layer 0") != NULL, "%s", err.msg);
    ck_assert_int_eq(bt_engine_backward(e, &err), BT_EINPUT);
    ck_assert_int_eq(bt_engine_forward_from(e, &bt, NULL, 0, 2, cache, &err), BT_EINTERRUPTED);
    ck_assert_msg(strstr(err.msg, "before layer 2") != NULL, "%s", err.msg);
    stop = 0;
    ck_assert_int_eq(bt_engine_forward(e, &bt, NULL, BT_FWD_ENTROPY, &err), BT_OK);
    stop = SIGUSR1;
    ck_assert_int_eq(bt_engine_backward(e, &err), BT_EINTERRUPTED);
    ck_assert_msg(strstr(err.msg, "at layer 2") != NULL, "%s", err.msg);
    stop = 0;
    ck_assert_int_eq(bt_engine_backward(e, &err), BT_OK);
    ck_assert_mem_eq(bt_engine_logits(e), bt_engine_logits(ref), sizeof(float) * NSEQ * 3);
    ck_assert_mem_eq(bt_engine_loss(e), bt_engine_loss(ref), sizeof(double) * NSEQ);
    ck_assert_mem_eq(bt_engine_entropy(e), bt_engine_entropy(ref), sizeof(double) * NSEQ * L * H);
    ck_assert_mem_eq(bt_engine_gate_grad(e), bt_engine_gate_grad(ref), sizeof(double) * NSEQ * L * H);
    ck_assert_mem_eq(bt_engine_gate_grad_tok(e), bt_engine_gate_grad_tok(ref), sizeof(double) * NSEQ * L * H);
    bt_engine_free(e);
    bt_engine_free(ref);
    free(m.block);
}
END_TEST

int main(void) {
    Suite *s = suite_create("engine_model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, gate_gradient_matches_finite_differences, 0, 8);
    tcase_add_loop_test(tc, attention_gradient_matches_finite_differences, 0, 5);
    tcase_add_loop_test(tc, attribution_matches_the_plain_loop, 0, 2);
    tcase_add_test(tc, packed_equals_alone);
    tcase_add_test(tc, bad_input_is_refused);
    tcase_add_test(tc, forward_only_engine_matches);
    tcase_add_test(tc, forward_from_layer_matches_full_forward);
    tcase_add_test(tc, attention_below_forward_from_is_refused);
    tcase_add_loop_test(tc, rollout_matches_attention_products, 0, 2);
    tcase_add_test(tc, stop_request_abandons_the_batch);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
