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
    /* GPT-2's final LayerNorm input and stats; the LM head's logits chunk and dL/dh */
    float *xf, *lnf_mean, *lnf_rstd; /* [N,D] [N] [N] */
    float *lm_scratch, *dlm;         /* [chunk, V] [N, D] */

    /* the current batch */
    int B, N;
    int *len, *off;
    size_t *sq;
    op_seqs seqs;
    float gate[BT_MAX_LAYERS][BT_MAX_HEADS]; /* gate of present head j of layer l */
    int have_loss, have_forward, want_entropy;
};

/* rows of logits the LM head computes at once */
#define LM_CHUNK 64

/* layer_bert.c: the post-LayerNorm layer (BERT, GPT). x: input [N,D]; y: output [N,D]. */
void bert_layer_forward(bt_engine *e, int l, const float *x, float *y);
/* dy: dL/dy [N,D] in, overwritten; dx (nullable for layer 0): dL/dx [N,D] out. Fills e->lg/lt. */
void bert_layer_backward(bt_engine *e, int l, float *dy, float *dx);
/* layer_gpt2.c: the pre-LayerNorm decoder layer (same contract). */
void gpt2_layer_forward(bt_engine *e, int l, const float *x, float *y);
void gpt2_layer_backward(bt_engine *e, int l, float *dy, float *dx);

#endif
