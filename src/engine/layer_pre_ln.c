/* GPT-2's pre-LayerNorm decoder layer with causal attention, forward and backward:
 *   a1 = LN1(x);  qkv = a1 Wqkv^T + b;  ctx = causal attention(qkv)
 *   r1 = x + (gate*ctx) Wo^T + bo;  a2 = LN2(r1);  y = r1 + act(a2 W1^T + b1) W2^T + b2
 * The layer's r1 slot keeps x (LN1's input) and r2 keeps r1 (LN2's input). */
#include <string.h>

#include "engine_internal.h"

void pre_ln_layer_forward(bt_engine *e, int l, const float *x, float *y) {
    const bt_config *c = &e->cfg;
    const bt_layer_params *w = &e->w->layer[l];
    layer_acts *s = &e->act[l];
    const int N = e->N, D = c->d_model, F = c->d_ff, Hl = c->layer_heads[l], Dl = Hl * c->d_head;

    memcpy(s->r1, x, (size_t)N * D * sizeof(float));
    op_layernorm_forward(e->a, s->mean1, s->rstd1, x, w->ln1_g, w->ln1_b, N, D, c->ln_eps);
    op_linear_forward(s->qkv, e->a, w->wqkv, w->bqkv, N, D, 3 * Dl);
    op_attention_forward(s->p, s->ctx, e->ctxg, e->want_entropy ? e->le : NULL, s->qkv, e->gate[l],
                         l == e->scale_layer ? e->alpha : NULL, &e->seqs, Hl, c->d_head, 1);
    if (eng_stop_asked(e)) return;
    op_linear_forward(s->r2, e->ctxg, w->wo, w->bo, N, Dl, D);
    op_add_inplace(s->r2, x, (size_t)N * D);
    op_layernorm_forward(e->a, s->mean2, s->rstd2, s->r2, w->ln2_g, w->ln2_b, N, D, c->ln_eps);
    if (eng_stop_asked(e)) return;
    op_linear_forward(s->f1, e->a, w->w1, w->b1, N, D, F);
    op_act_forward(e->h, s->f1, (size_t)N * F, c->act);
    op_linear_forward(y, e->h, w->w2, w->b2, N, F, D);
    op_add_inplace(y, s->r2, (size_t)N * D);
}

void pre_ln_layer_backward(bt_engine *e, int l, float *dy, float *dx) {
    const bt_config *c = &e->cfg;
    const bt_layer_params *w = &e->w->layer[l];
    const layer_acts *s = &e->act[l];
    const int N = e->N, D = c->d_model, F = c->d_ff, Hl = c->layer_heads[l], Dl = Hl * c->d_head;
    float *dr = e->dr, *da = e->a; /* e->a is forward scratch, free during the backward */

    /* y = r1 + ffn(LN2(r1)): dr1 = dy + LN2'(W1-path) */
    op_linear_backward(e->dff, dy, w->w2, N, F, D, 0);
    op_act_backward(e->dff, s->f1, (size_t)N * F, c->act);
    op_linear_backward(da, e->dff, w->w1, N, D, F, 0);
    op_layernorm_backward(dr, da, s->r2, s->mean2, s->rstd2, w->ln2_g, N, D);
    op_add_inplace(dr, dy, (size_t)N * D);
    if (eng_stop_asked(e)) return;
    /* r1 = x + attn(LN1(x)) */
    op_linear_backward(e->dctxg, dr, w->wo, N, Dl, D, 0);
    op_attention_backward(dx ? e->dqkv : NULL, l == e->grad_layer ? e->gp : NULL, e->lg, e->lt, e->dctxg, s->p,
                          s->ctx, s->qkv, e->gate[l], l == e->scale_layer ? e->alpha : NULL, &e->seqs, Hl, c->d_head, e->dp, e->lim.max_len);
    if (!dx || eng_stop_asked(e)) return;
    op_linear_backward(da, e->dqkv, w->wqkv, N, D, 3 * Dl, 0);
    op_layernorm_backward(dx, da, s->r1, s->mean1, s->rstd1, w->ln1_g, N, D);
    op_add_inplace(dx, dr, (size_t)N * D);
}
