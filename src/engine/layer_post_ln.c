/* The post-LayerNorm layer of BERT (bidirectional) and GPT (causal), forward and backward to the
 * gates and to its input:
 *   qkv = x Wqkv^T + b;  ctx = attention(qkv);  r1 = x + (gate*ctx) Wo^T + bo;  a = LN1(r1)
 *   f1 = a W1^T + b1;    r2 = a + act(f1) W2^T + b2;  y = LN2(r2)
 */
#include <string.h>

#include "engine_internal.h"

void post_ln_layer_forward(bt_engine *e, int l, const float *x, float *y) {
    const bt_config *c = &e->cfg;
    const bt_layer_params *w = &e->w->layer[l];
    layer_acts *s = &e->act[l];
    const int N = e->N, D = c->d_model, F = c->d_ff, Hl = c->layer_heads[l], Dl = Hl * c->d_head;

    op_linear_forward(s->qkv, x, w->wqkv, w->bqkv, N, D, 3 * Dl);
    op_attention_forward(s->p, s->ctx, e->ctxg, e->want_entropy ? e->le : NULL, s->qkv, e->gate[l],
                         l == e->scale_layer ? e->alpha : NULL, &e->seqs, Hl, c->d_head, c->arch != BT_ARCH_BERT);
    if (eng_stop_asked(e)) return;
    op_linear_forward(s->r1, e->ctxg, w->wo, w->bo, N, Dl, D);
    op_add_inplace(s->r1, x, (size_t)N * D);
    op_layernorm_forward(e->a, s->mean1, s->rstd1, s->r1, w->ln1_g, w->ln1_b, N, D, c->ln_eps);
    if (eng_stop_asked(e)) return;
    op_linear_forward(s->f1, e->a, w->w1, w->b1, N, D, F);
    op_act_forward(e->h, s->f1, (size_t)N * F, c->act);
    op_linear_forward(s->r2, e->h, w->w2, w->b2, N, F, D);
    op_add_inplace(s->r2, e->a, (size_t)N * D);
    op_layernorm_forward(y, s->mean2, s->rstd2, s->r2, w->ln2_g, w->ln2_b, N, D, c->ln_eps);
}

void post_ln_layer_backward(bt_engine *e, int l, float *dy, float *dx) {
    const bt_config *c = &e->cfg;
    const bt_layer_params *w = &e->w->layer[l];
    const layer_acts *s = &e->act[l];
    const int N = e->N, D = c->d_model, F = c->d_ff, Hl = c->layer_heads[l], Dl = Hl * c->d_head;
    float *dr = e->dr;

    /* through LN2 to r2 = a + ffn(a) */
    op_layernorm_backward(dr, dy, s->r2, s->mean2, s->rstd2, w->ln2_g, N, D);
    op_linear_backward(e->dff, dr, w->w2, N, F, D, 0);
    op_act_backward(e->dff, s->f1, (size_t)N * F, c->act);
    op_linear_backward(dr, e->dff, w->w1, N, D, F, 1); /* dr is now dL/da */
    if (eng_stop_asked(e)) return;
    /* through LN1 to r1 = x + attn(x) */
    op_layernorm_backward(dy, dr, s->r1, s->mean1, s->rstd1, w->ln1_g, N, D); /* dy = dL/dr1 */
    op_linear_backward(e->dctxg, dy, w->wo, N, Dl, D, 0);
    op_attention_backward(dx ? e->dqkv : NULL, l == e->grad_layer ? e->gp : NULL, e->lg, e->lt, e->dctxg, s->p,
                          s->ctx, s->qkv, e->gate[l], l == e->scale_layer ? e->alpha : NULL, &e->seqs, Hl, c->d_head, e->dp, e->lim.max_len);
    if (!dx || eng_stop_asked(e)) return;
    memcpy(dx, dy, (size_t)N * D * sizeof(float)); /* the residual path */
    op_linear_backward(dx, e->dqkv, w->wqkv, N, D, 3 * Dl, 1);
}
