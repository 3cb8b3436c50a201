/* Each engine operation: forward against a plain double-precision loop written here, backward
 * against central finite differences of the forward (through a random linear functional). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/engine.h"
#include "engine/ops.h"
#include "testutil.h"

static unsigned rng_state = 12345u;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) * (1.0 / 8388608.0)) - 1.0f;
}
static float *rnd(size_t n, float scale) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = scale * frand();
    return x;
}
static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* ---- linear ---- */
START_TEST(linear_forward_backward) {
    const int N = 7, IC = 13, OC = 5;
    float *x = rnd(N * IC, 1), *w = rnd(OC * IC, 1), *b = rnd(OC, 1), *y = rnd(N * OC, 1);
    op_linear_forward(y, x, w, b, N, IC, OC);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = b[o];
            for (int i = 0; i < IC; i++) s += (double)x[n * IC + i] * w[o * IC + i];
            ck_assert_double_eq_tol(y[n * OC + o], s, 1e-5);
        }
    /* dx = dy W, and accumulate adds to what is there */
    float *dy = rnd(N * OC, 1), *dx = rnd(N * IC, 1), *dx0 = malloc(N * IC * sizeof(float));
    memcpy(dx0, dx, N * IC * sizeof(float));
    op_linear_backward(dx, dy, w, N, IC, OC, 1);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < IC; i++) {
            double s = dx0[n * IC + i];
            for (int o = 0; o < OC; o++) s += (double)dy[n * OC + o] * w[o * IC + i];
            ck_assert_double_eq_tol(dx[n * IC + i], s, 1e-5);
        }
    free(x), free(w), free(b), free(y), free(dy), free(dx), free(dx0);
}
END_TEST

/* ---- layernorm ---- */
START_TEST(layernorm_forward_backward) {
    const int N = 4, D = 24;
    float *x = rnd(N * D, 3), *g = rnd(D, 1), *b = rnd(D, 1), *out = rnd(N * D, 1);
    float mean[4], rstd[4];
    for (int i = 0; i < N * D; i++) x[i] += 5.0f; /* an offset the variance must not see */
    op_layernorm_forward(out, mean, rstd, x, g, b, N, D, 1e-5f);
    for (int n = 0; n < N; n++) {
        double m = 0, v = 0;
        for (int i = 0; i < D; i++) m += x[n * D + i];
        m /= D;
        for (int i = 0; i < D; i++) v += (x[n * D + i] - m) * (x[n * D + i] - m);
        v /= D;
        for (int i = 0; i < D; i++)
            ck_assert_double_eq_tol(out[n * D + i], (x[n * D + i] - m) / sqrt(v + 1e-5) * g[i] + b[i], 2e-5);
    }
    float *r = rnd(N * D, 1), *dx = rnd(N * D, 1);
    op_layernorm_backward(dx, r, x, mean, rstd, g, N, D);
    const float eps = 1e-2f;
    for (int k = 0; k < N * D; k += 5) {
        const float x0 = x[k];
        x[k] = x0 + eps;
        op_layernorm_forward(out, NULL, NULL, x, g, b, N, D, 1e-5f);
        const double fp = dot(r, out, N * D);
        x[k] = x0 - eps;
        op_layernorm_forward(out, NULL, NULL, x, g, b, N, D, 1e-5f);
        const double fm = dot(r, out, N * D);
        x[k] = x0;
        ck_assert_double_eq_tol(dx[k], (fp - fm) / (2 * eps), 2e-3);
    }
    free(x), free(g), free(b), free(out), free(r), free(dx);
}
END_TEST

/* ---- activations ---- */
static double act_ref(double x, int act) {
    if (act == BT_ACT_GELU) return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    if (act == BT_ACT_GELU_TANH) return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    return x > 0 ? x : 0;
}

START_TEST(activation_forward_backward) {
    const int act = _i;
    const size_t n = 101;
    float *x = rnd(n, 4), *y = rnd(n, 1), *d = malloc(n * sizeof(float));
    x[0] = 0.3f;
    op_act_forward(y, x, n, act);
    for (size_t i = 0; i < n; i++) ck_assert_double_eq_tol(y[i], act_ref(x[i], act), 1e-6 * (1 + fabs(x[i])));
    for (size_t i = 0; i < n; i++) d[i] = 1.0f;
    op_act_backward(d, x, n, act);
    for (size_t i = 0; i < n; i++) {
        if (act == BT_ACT_RELU && fabsf(x[i]) < 1e-3f) continue; /* the kink */
        const double h = 1e-4, fd = (act_ref(x[i] + h, act) - act_ref(x[i] - h, act)) / (2 * h);
        ck_assert_double_eq_tol(d[i], fd, 1e-4);
    }
    free(x), free(y), free(d);
}
END_TEST

/* ---- attention ---- */
/* Reference: double loops over one sequence and head. */
static void attn_ref(double *ctxg, double *P, double *ent, const float *qkv, int T, int row0, int Hl,
                     int dh, int j, float gate, int causal) {
    const int Dl = Hl * dh, ld = 3 * Dl;
    double h = 0;
    for (int t = 0; t < T; t++) {
        double s[64], m = -INFINITY, z = 0;
        const int n = causal ? t + 1 : T;
        for (int k = 0; k < n; k++) {
            s[k] = dot(qkv + (size_t)(row0 + t) * ld + j * dh, qkv + (size_t)(row0 + k) * ld + Dl + j * dh, dh) / sqrt(dh);
            m = s[k] > m ? s[k] : m;
        }
        for (int k = 0; k < n; k++) z += exp(s[k] - m);
        for (int k = 0; k < T; k++) {
            const double p = k < n ? exp(s[k] - m) / z : 0.0;
            P[t * T + k] = p;
            const double gp = gate * p;
            if (gp > 0) h -= gp * log(gp);
        }
        for (int i = 0; i < dh; i++) {
            double c = 0;
            for (int k = 0; k < n; k++) c += P[t * T + k] * qkv[(size_t)(row0 + k) * ld + 2 * Dl + j * dh + i];
            ctxg[t * dh + i] = gate * c;
        }
    }
    *ent = h;
}

START_TEST(attention_forward) {
    const int causal = _i;
    const int B = 3, Hl = 2, dh = 8, Dl = Hl * dh;
    int len[3] = {5, 1, 9}, off[3] = {0, 5, 6};
    size_t sq[3] = {0, 25, 26};
    const int N = 15;
    op_seqs s = {B, len, off, sq};
    float *qkv = rnd((size_t)N * 3 * Dl, 2), gate[2] = {1.0f, 0.4f};
    float *p = calloc((size_t)Hl * (25 + 1 + 81), sizeof(float));
    float *ctx = calloc((size_t)N * Dl, sizeof(float)), *ctxg = calloc((size_t)N * Dl, sizeof(float));
    double ent[6];
    op_attention_forward(p, ctx, ctxg, ent, qkv, gate, NULL, &s, Hl, dh, causal);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < Hl; j++) {
            const int T = len[b];
            double cg[81 * 8], P[81], e;
            attn_ref(cg, P, &e, qkv, T, off[b], Hl, dh, j, gate[j], causal);
            for (int t = 0; t < T; t++)
                for (int i = 0; i < dh; i++) {
                    ck_assert_double_eq_tol(ctxg[(size_t)(off[b] + t) * Dl + j * dh + i], cg[t * dh + i], 1e-5);
                    ck_assert_double_eq_tol(ctx[(size_t)(off[b] + t) * Dl + j * dh + i] * gate[j], cg[t * dh + i], 1e-5);
                }
            for (int k = 0; k < T * T; k++) ck_assert_double_eq_tol(p[Hl * sq[b] + j * T * T + k], P[k], 1e-6);
            ck_assert_double_eq_tol(ent[b * Hl + j], e, 1e-5);
        }
    free(qkv), free(p), free(ctx), free(ctxg);
}
END_TEST

/* Objective f = <R, ctxg>; the backward must give df/dgate and df/dqkv. */
START_TEST(attention_backward) {
    const int causal = _i;
    const int B = 2, Hl = 3, dh = 4, Dl = Hl * dh, N = 9;
    int len[2] = {6, 3}, off[2] = {0, 6};
    size_t sq[2] = {0, 36};
    op_seqs s = {B, len, off, sq};
    float *qkv = rnd((size_t)N * 3 * Dl, 1.5), gate[3] = {1.0f, 0.0f, 0.7f};
    float *R = rnd((size_t)N * Dl, 1);
    float *p = calloc((size_t)Hl * 45, sizeof(float)), *ctx = calloc((size_t)N * Dl, sizeof(float));
    float *ctxg = calloc((size_t)N * Dl, sizeof(float)), *dqkv = calloc((size_t)N * 3 * Dl, sizeof(float));
    float *scratch = calloc((size_t)64 * 36, sizeof(float));
    double gg[6], gt[6];
    op_attention_forward(p, ctx, ctxg, NULL, qkv, gate, NULL, &s, Hl, dh, causal);
    op_attention_backward(dqkv, NULL, gg, gt, R, p, ctx, qkv, gate, NULL, &s, Hl, dh, scratch, 6);
    const float eps = 1e-2f;
    for (int j = 0; j < Hl; j++) { /* gate gradient, per sequence: perturb, keep only b's rows */
        for (int b = 0; b < B; b++) {
            const float g0 = gate[j];
            double f[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                gate[j] = g0 + (sgn ? -eps : eps);
                op_attention_forward(p, ctx, ctxg, NULL, qkv, gate, NULL, &s, Hl, dh, causal);
                f[sgn] = dot(R + (size_t)off[b] * Dl, ctxg + (size_t)off[b] * Dl, (size_t)len[b] * Dl);
            }
            gate[j] = g0;
            ck_assert_double_eq_tol(gg[b * Hl + j], (f[0] - f[1]) / (2 * eps), 1e-4);
            ck_assert(gt[b * Hl + j] >= fabs(gg[b * Hl + j]) - 1e-9);
        }
    }
    for (int k = 0; k < N * 3 * Dl; k += 3) {
        const float x0 = qkv[k];
        double f[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            qkv[k] = x0 + (sgn ? -eps : eps);
            op_attention_forward(p, ctx, ctxg, NULL, qkv, gate, NULL, &s, Hl, dh, causal);
            f[sgn] = dot(R, ctxg, (size_t)N * Dl);
        }
        qkv[k] = x0;
        ck_assert_double_eq_tol(dqkv[k], (f[0] - f[1]) / (2 * eps), 2e-3);
    }
    free(qkv), free(R), free(p), free(ctx), free(ctxg), free(dqkv), free(scratch);
}
END_TEST

/* The attribution's additions, objective f = <R, ctxg> again: a per-sequence scale a_b on top of
 * the gates (ctxg = gate a_b P V), the gate gradient at that scale, and dprobs = df/dX for the
 * probabilities X = gate a_b P the op used, which must be R V^T whatever gate and scale are. */
START_TEST(attention_backward_scaled) {
    const int causal = _i;
    const int B = 2, Hl = 2, dh = 4, Dl = Hl * dh, N = 8, ld = 3 * Dl;
    int len[2] = {5, 3}, off[2] = {0, 5};
    size_t sq[2] = {0, 25};
    op_seqs s = {B, len, off, sq};
    float *qkv = rnd((size_t)N * 3 * Dl, 1.5), gate[2] = {1.0f, 0.0f}, scale[2] = {0.35f, 1.6f};
    float *R = rnd((size_t)N * Dl, 1);
    float *p = calloc((size_t)Hl * 34, sizeof(float)), *ctx = calloc((size_t)N * Dl, sizeof(float));
    float *ctxg = calloc((size_t)N * Dl, sizeof(float)), *dprobs = calloc((size_t)Hl * 34, sizeof(float));
    float *scratch = calloc((size_t)64 * 25, sizeof(float));
    double gg[4], gt[4];
    op_attention_forward(p, ctx, ctxg, NULL, qkv, gate, scale, &s, Hl, dh, causal);
    for (int b = 0; b < B; b++) /* the scale multiplies what the output projection sees */
        for (int t = 0; t < len[b]; t++)
            for (int i = 0; i < dh; i++)
                ck_assert_double_eq_tol(ctxg[(size_t)(off[b] + t) * Dl + i], scale[b] * ctx[(size_t)(off[b] + t) * Dl + i], 1e-6);
    op_attention_backward(NULL, dprobs, gg, gt, R, p, ctx, qkv, gate, scale, &s, Hl, dh, scratch, 5);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < Hl; j++) {
            const int T = len[b];
            for (int t = 0; t < T; t++)
                for (int k = 0; k < T; k++) {
                    double want = 0;
                    for (int i = 0; i < dh; i++)
                        want += (double)R[(size_t)(off[b] + t) * Dl + j * dh + i] * qkv[(size_t)(off[b] + k) * ld + 2 * Dl + j * dh + i];
                    ck_assert_double_eq_tol(dprobs[Hl * sq[b] + (size_t)j * T * T + t * T + k], want, 1e-5);
                }
            const float g0 = gate[j]; /* the gate gradient at the sequence's scale */
            double f[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                gate[j] = g0 + (sgn ? -1e-2f : 1e-2f);
                op_attention_forward(p, ctx, ctxg, NULL, qkv, gate, scale, &s, Hl, dh, causal);
                f[sgn] = dot(R + (size_t)off[b] * Dl, ctxg + (size_t)off[b] * Dl, (size_t)len[b] * Dl);
            }
            gate[j] = g0;
            ck_assert_double_eq_tol(gg[b * Hl + j], (f[0] - f[1]) / 2e-2, 1e-4);
        }
    free(qkv), free(R), free(p), free(ctx), free(ctxg), free(dprobs), free(scratch);
}
END_TEST

/* The attribution's seed: dF/dlogits of the target class's probability, by finite differences. */
START_TEST(target_grad) {
    const int B = 2, C = 3;
    float *z = rnd(B * C, 2), d[6], one;
    int labels[2] = {2, 0};
    op_target_grad(d, z, labels, B, C);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            double f[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                float zz[3];
                memcpy(zz, z + b * C, sizeof zz);
                zz[c] += sgn ? -1e-3f : 1e-3f;
                double m = 0;
                for (int k = 0; k < C; k++) m += exp(zz[k]);
                f[sgn] = exp(zz[labels[b]]) / m;
            }
            ck_assert_double_eq_tol(d[b * C + c], (f[0] - f[1]) / 2e-3, 1e-4);
        }
    op_target_grad(&one, z, NULL, 1, 1); /* a regressor's output is its own target */
    ck_assert_float_eq(one, 1.0f);
    free(z);
}
END_TEST

/* ---- heads ---- */
START_TEST(loss_forward_backward) {
    const int B = 3, C = 4;
    float *z = rnd(B * C, 3), dz[12];
    int labels[3] = {0, 3, 2};
    double loss[3];
    op_loss_forward_backward(loss, dz, z, labels, NULL, B, C);
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (int c = 0; c < C; c++) s += exp(z[b * C + c]);
        ck_assert_double_eq_tol(loss[b], log(s) - z[b * C + labels[b]], 1e-9);
        for (int c = 0; c < C; c++) {
            const float z0 = z[b * C + c];
            double lp, lm;
            z[b * C + c] = z0 + 1e-3f;
            op_loss_forward_backward(&lp, NULL, z + b * C, labels + b, NULL, 1, C);
            z[b * C + c] = z0 - 1e-3f;
            op_loss_forward_backward(&lm, NULL, z + b * C, labels + b, NULL, 1, C);
            z[b * C + c] = z0;
            ck_assert_double_eq_tol(dz[b * C + c], (lp - lm) / 2e-3, 1e-3);
        }
    }
    float y[2] = {0.5f, -1.0f}, t[2] = {2.0f, -1.25f}, dy[2];
    op_loss_forward_backward(loss, dy, y, NULL, t, 2, 1);
    ck_assert_double_eq_tol(loss[0], 2.25, 1e-12);
    ck_assert_double_eq_tol(loss[1], 0.0625, 1e-12);
    ck_assert_double_eq_tol(dy[0], -3.0, 1e-6);
    ck_assert_double_eq_tol(dy[1], 0.5, 1e-6);
    free(z);
}
END_TEST

START_TEST(embed_and_first_token) {
    const int D = 3, V = 5, P = 6;
    float *wte = rnd(V * D, 1), *wpe = rnd(P * D, 1), *wtt = rnd(2 * D, 1);
    int len[2] = {2, 3}, off[2] = {0, 2}, ids[5] = {4, 0, 1, 2, 3}, types[5] = {0, 1, 1, 0, 1};
    size_t sq[2] = {0, 4};
    op_seqs s = {2, len, off, sq};
    float x[15], rows[6], back[15];
    op_embed_forward(x, ids, types, wte, wpe, wtt, &s, 2, D);
    const int pos[5] = {0, 1, 0, 1, 2};
    for (int n = 0; n < 5; n++)
        for (int i = 0; i < D; i++)
            ck_assert_float_eq_tol(x[n * D + i], wte[ids[n] * D + i] + wpe[(2 + pos[n]) * D + i] + wtt[types[n] * D + i], 1e-6);
    op_gather_token(rows, x, &s, D, 0);
    ck_assert_mem_eq(rows, x, D * sizeof(float));
    ck_assert_mem_eq(rows + D, x + 2 * D, D * sizeof(float));
    op_scatter_token(back, rows, &s, 5, D, 0);
    ck_assert_float_eq(back[D], 0.0f);
    ck_assert_mem_eq(back + 2 * D, rows + D, D * sizeof(float));
    op_gather_token(rows, x, &s, D, 1); /* last tokens: rows 1 and 4 */
    ck_assert_mem_eq(rows, x + D, D * sizeof(float));
    ck_assert_mem_eq(rows + D, x + 4 * D, D * sizeof(float));
    op_scatter_token(back, rows, &s, 5, D, 1);
    ck_assert_float_eq(back[0], 0.0f);
    ck_assert_mem_eq(back + 4 * D, rows + D, D * sizeof(float));
    free(wte), free(wpe), free(wtt);
}
END_TEST

/* LM head: loss against a double loop, dh against finite differences of the loss. */
START_TEST(lm_head_forward_backward) {
    const int V = 11, D = 6, N = 9;
    int len[3] = {4, 1, 4}, off[3] = {0, 4, 5}, ids[9] = {1, 5, 10, 0, 3, 2, 2, 7, 9};
    size_t sq[3] = {0, 16, 17};
    op_seqs s = {3, len, off, sq};
    float *h = rnd(N * D, 1.5), *wte = rnd(V * D, 1), *dh = rnd(N * D, 1), scratch[3 * 11];
    double loss[3];
    op_lm_head_forward_backward(loss, dh, h, ids, wte, &s, V, D, scratch, 3); /* chunk 3 < 4 */
    for (int b = 0; b < 3; b++) {
        double tot = 0;
        for (int t = 0; t < len[b] - 1; t++) {
            const int r = off[b] + t;
            double z[11], m = -1e300, sum = 0;
            for (int v = 0; v < V; v++) z[v] = dot(h + r * D, wte + v * D, D), m = fmax(m, z[v]);
            for (int v = 0; v < V; v++) sum += exp(z[v] - m);
            tot += m + log(sum) - z[ids[r + 1]];
        }
        ck_assert_double_eq_tol(loss[b], len[b] > 1 ? tot / (len[b] - 1) : 0.0, 1e-5);
    }
    for (int k = 0; k < D * 4; k++) ck_assert_float_eq(dh[4 * D + (k % D)], 0.0f); /* one-token sequence */
    for (int t = 0; t < 3; t++) ck_assert_float_eq(dh[(off[0] + 3) * D + t], 0.0f);  /* last token predicts nothing */
    const float eps = 1e-2f;
    for (int k = 0; k < N * D; k += 2) {
        const float x0 = h[k];
        double lp[3], lm[3];
        h[k] = x0 + eps;
        op_lm_head_forward_backward(lp, NULL, h, ids, wte, &s, V, D, scratch, 3);
        h[k] = x0 - eps;
        op_lm_head_forward_backward(lm, NULL, h, ids, wte, &s, V, D, scratch, 3);
        h[k] = x0;
        double fd = 0;
        for (int b = 0; b < 3; b++) fd += (lp[b] - lm[b]) / (2 * eps);
        ck_assert_double_eq_tol(dh[k], fd, 1e-3);
    }
    free(h), free(wte), free(dh);
}
END_TEST

int main(void) {
    Suite *s = suite_create("engine_ops");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, linear_forward_backward);
    tcase_add_test(tc, layernorm_forward_backward);
    tcase_add_loop_test(tc, activation_forward_backward, BT_ACT_GELU, BT_ACT_RELU + 1);
    tcase_add_loop_test(tc, attention_forward, 0, 2);
    tcase_add_loop_test(tc, attention_backward, 0, 2);
    tcase_add_loop_test(tc, attention_backward_scaled, 0, 2);
    tcase_add_test(tc, target_grad);
    tcase_add_test(tc, loss_forward_backward);
    tcase_add_test(tc, embed_and_first_token);
    tcase_add_test(tc, lm_head_forward_backward);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
