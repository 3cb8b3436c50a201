/* The engine's state: one activation block sized at creation from (model, limits). */
#ifndef BT_ENGINE_INTERNAL_H
#define BT_ENGINE_INTERNAL_H

#include "bertology/engine.h"
#include "ops.h"

/* What layer l keeps for the backward pass (or for tensor dumps). Shapes for Hl present heads,
 * Dl = Hl*dh: qkv [N,3Dl], ctx [N,Dl] (pre-gate), p [Hl * sum T^2], and for the post-LN block
 * r1/r2 [N,D] (the LayerNorm inputs) with their mean/rstd [N], f1 [N,F] (FFN pre-activation). */
typedef struct {
    float *qkv, *ctx, *p;
    float *r1, *mean1, *rstd1;
    float *f1;
    float *r2, *mean2, *rstd2;
} layer_acts;

/* The regions of the one activation block (carve() in engine.c), by who writes them:
 *   act[l]      layer l's forward (qkv, ctx, p, LayerNorm inputs and stats, FFN pre-activation);
 *               without limits.backward every layer shares act[0] (p too, unless
 *               limits.attentions), so only the last layer's survive a forward
 *   hidden[l]   the layer inputs; without limits.hidden two buffers alternate (l % 2)
 *   ctxg a h    forward scratch inside a layer, meaningless between calls
 *   d*          backward scratch (dxa/dxb ping-pong between layers), meaningless between calls
 *   cls pooled logits dlogits dpooled loss   the sequence head (cls is dL/dh after backward)
 *   ggrad gtok  written by backward only;  ent  zeroed and written by every forward
 *   lg lt le    one layer's per-head results before scatter_heads
 *   roll        bt_engine_rollout's scratch (limits.attentions only), meaningless between calls
 * What a caller may read after which call: include/bertology/engine.h. */
struct bt_engine {
    bt_config cfg;
    const bt_params *w;
    bt_engine_limits lim;
    int n_threads; /* attention scratch is per thread */

    float *mem; /* the one activation block */
    size_t mem_floats;
    layer_acts act[BT_MAX_LAYERS];
    float *hidden[BT_MAX_LAYERS + 1]; /* x_l [N,D]; two alternating buffers unless lim.hidden */

    /* forward scratch, shared by all layers */
    float *ctxg; /* [N, Dmax] gated context */
    float *a;    /* [N, D] LayerNorm output inside a layer */
    float *h;    /* [N, F] activation output */
    /* backward scratch */
    float *dxa, *dxb, *dr;        /* [N,D]: dL/dx ping-pong between layers, and a layer's own */
    float *dff, *dctxg, *dqkv, *dp; /* [N,F] [N,Dmax] [N,3Dmax] threads*T^2 */
    /* sequence-level head */
    float *cls, *pooled, *logits, *dlogits, *dpooled; /* [B,D] [B,D] [B,C] [B,C] [B,D] */
    double *loss;                                     /* [B] */
    double *ggrad, *gtok, *ent;                       /* [B, L, H] */
    double *lg, *lt, *le;                             /* [B, Hmax] one layer's op output */
    /* the attribution (limits.attention_grad): the target's gradient dF/dlogits, and dF/dX of
     * one layer's probabilities, laid out as act[l].p */
    float *dseed; /* [B, C] */
    float *gp;    /* [Hmax * sum T^2] */
    /* GPT-2's final LayerNorm input and stats; the LM head's logits chunk and dL/dh */
    float *xf, *lnf_mean, *lnf_rstd; /* [N,D] [N] [N] */
    float *lm_scratch, *dlm;         /* [chunk, V] [N, D] */
    float *roll;                     /* [max_len] rollout.c's row sums, then weights; NULL without
                                        limits.attentions */

    /* the current batch */
    int B, N;
    int *len, *off;
    size_t *sq;
    op_seqs seqs;
    float gate[BT_MAX_LAYERS][BT_MAX_HEADS]; /* gate of present head j of layer l */
    int scale_layer; /* the layer whose gates sequence b multiplies by alpha[b] (-1: none) */
    float *alpha;    /* [max_seqs] */
    int grad_layer;  /* the layer whose dF/dX the last backward kept in gp (-1: none) */
    int have_loss, have_forward, want_entropy;
    int first_layer; /* the lowest layer the last forward ran: act[l].p below it is stale */
    const volatile sig_atomic_t *stop; /* bt_engine_set_stop */
};

/* bt_engine_set_stop's request: polled before every layer and twice inside one (a bert-base
 * layer at 2048 tokens is ~30 GFLOP); a layer asked to stop returns early, and its caller, which
 * sees the same flag (once set it stays set), abandons the batch. */
static inline int eng_stop_asked(const bt_engine *e) { return e->stop && *e->stop; }

/* rows of logits the LM head computes at once */
#define LM_CHUNK 64

/* layer_post_ln.c: the post-LayerNorm layer (BERT, RoBERTa, DistilBERT, OpenAI GPT).
 * x: input [N,D]; y: output [N,D]. */
void post_ln_layer_forward(bt_engine *e, int l, const float *x, float *y);
/* dy: dL/dy [N,D] in, overwritten; dx (nullable for layer 0): dL/dx [N,D] out. Fills e->lg/lt. */
void post_ln_layer_backward(bt_engine *e, int l, float *dy, float *dx);
/* layer_pre_ln.c: the pre-LayerNorm layer of GPT-2 (same contract). */
void pre_ln_layer_forward(bt_engine *e, int l, const float *x, float *y);
void pre_ln_layer_backward(bt_engine *e, int l, float *dy, float *dx);

#endif
