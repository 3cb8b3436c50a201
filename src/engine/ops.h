/* The engine's operations, each with its forward and backward side by side in the .c files.
 * Backward functions compute only gradients with respect to activations: the engine never needs
 * parameter gradients (that is the saving over the Python reference).
 * Shapes: N tokens (packed rows), D/I/O feature widths, B sequences, T_b their lengths. */
#ifndef BT_ENGINE_OPS_H
#define BT_ENGINE_OPS_H

#include <stddef.h>

/* ---- dense (ops_dense.c) ---- */

/* y[N,OC] = x[N,IC] W[OC,IC]^T + b[OC]   (b may be NULL) */
void op_linear_forward(float *y, const float *x, const float *w, const float *b, int N, int IC, int OC);
/* dx[N,IC] = dy[N,OC] W[OC,IC]  (accumulate != 0: dx += ...) */
void op_linear_backward(float *dx, const float *dy, const float *w, int N, int IC, int OC, int accumulate);

/* out[N,D] = (x - mean) * rstd * g + b, per row; saves mean[N], rstd[N] for the backward */
void op_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *g,
                          const float *b, int N, int D, float eps);
/* dx[N,D] = d out/d x applied to dout (no gradient for g, b) */
void op_layernorm_backward(float *dx, const float *dout, const float *x, const float *mean,
                           const float *rstd, const float *g, int N, int D);

/* out[n] = act(in[n]) */
void op_act_forward(float *out, const float *in, size_t n, int act);
/* d[n] *= act'(in[n]) (in place on the incoming gradient) */
void op_act_backward(float *d, const float *in, size_t n, int act);

/* y[n] += x[n] */
void op_add_inplace(float *y, const float *x, size_t n);

/* ---- attention (ops_attention.c) ---- */

/* Where sequence b lives: rows [off[b], off[b]+len[b]) of the packed buffers, and its
 * attention probabilities at p + Hl*sq[b] as [Hl, T_b, T_b]. */
typedef struct {
    int B;
    const int *len;
    const int *off;
    const size_t *sq;   /* sum of T_{b'}^2 over b' < b */
} op_seqs;

/* qkv[N, 3*Hl*dh] holds the query columns of every head, then key, then value. Writes the
 * probabilities p (pre-gate), ctx[N, Hl*dh] (pre-gate context) and ctxg = gate * ctx.
 * gate[j] is the gate of present head j, times seq_scale[b] (nullable: 1) for sequence b: the
 * attribution's alpha, one per copy of an example. ent (nullable) [B, Hl] gets the entropy of
 * the gated probabilities summed over query positions. */
void op_attention_forward(float *p, float *ctx, float *ctxg, double *ent, const float *qkv,
                          const float *gate, const float *seq_scale, const op_seqs *s, int Hl, int dh,
                          int causal);
/* From dctxg[N, Hl*dh] = dL/d(gate*ctx): gate gradients ggrad[B,Hl] = sum_t <dctxg_t, ctx_t>,
 * gtok[B,Hl] = sum_t |<dctxg_t, ctx_t>| (both times seq_scale[b]), (dqkv != NULL)
 * dqkv[N, 3*Hl*dh], and (dprobs != NULL, laid out as p) dL/dX of the probabilities X = gate *
 * seq_scale * P the layer used. scratch holds n_threads * max_len^2 floats. */
void op_attention_backward(float *dqkv, float *dprobs, double *ggrad, double *gtok, const float *dctxg,
                           const float *p, const float *ctx, const float *qkv, const float *gate,
                           const float *seq_scale, const op_seqs *s, int Hl, int dh, float *scratch,
                           int max_len);

/* ---- embeddings and heads (ops_head.c) ---- */

/* x[N,D] = wte[ids] + wpe[pos_offset + position in sequence] + wtt[types] (wtt nullable) */
void op_embed_forward(float *x, const int *ids, const int *types, const float *wte,
                      const float *wpe, const float *wtt, const op_seqs *s, int pos_offset, int D);

/* rows[B,D] = x[off[b], :], the first token of each sequence (last != 0: its last token) */
void op_gather_token(float *rows, const float *x, const op_seqs *s, int D, int last);
/* dx[N,D] = 0 except at those rows, which get drows[b, :] */
void op_scatter_token(float *dx, const float *drows, const op_seqs *s, int N, int D, int last);

/* out[n] = tanh(in[n]) (in place allowed) and its backward d *= 1 - out^2 */
void op_tanh_forward(float *out, const float *in, size_t n);
void op_tanh_backward(float *d, const float *out, size_t n);

/* Per-row loss of logits[B,C]: cross-entropy of labels[b] (C >= 2) or squared error against
 * targets[b] (C == 1). dlogits[B,C] (nullable) gets d loss_b / d logits_b. */
void op_loss_forward_backward(double *loss, float *dlogits, const float *logits, const int *labels,
                              const float *targets, int B, int C);

/* dF/dlogits[B,C] of F_b the softmax probability of class labels[b] (C >= 2):
 * p_y (delta_yc - p_c); of F_b = the output itself (C == 1, a regressor): 1. */
void op_target_grad(float *dseed, const float *logits, const int *labels, int B, int C);

/* Tied LM head: logits_t = h_t wte^T [V]; loss_b = mean over t < T_b - 1 of the cross-entropy
 * of ids[t+1] (a sequence of one token has loss 0). Processed in chunks of rows so the [N, V]
 * logits never exist at once: scratch holds chunk*V floats. dh[N,D] (nullable) gets
 * d(sum_b loss_b)/dh. */
void op_lm_head_forward_backward(double *loss, float *dh, const float *h, const int *ids,
                                 const float *wte, const op_seqs *s, int V, int D, float *scratch,
                                 int chunk);

#endif
