/* The model forward and the backward to the gates, over a batch of packed sequences. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "engine_internal.h"
#include "gemm.h"
#include "threads.h"

#define ALIGN_FLOATS 16

static int max_layer_width(const bt_config *c) {
    int m = 0;
    for (int l = 0; l < c->n_layers; l++) m = c->layer_heads[l] > m ? c->layer_heads[l] : m;
    return m * c->d_head;
}

/* Carves the activation block; with base == NULL it only counts floats. Every size follows
 * from (config, limits): nothing is allocated after creation. Longer than 80 lines on purpose:
 * one flat list of the regions in memory order (engine_internal.h names them) is the layout's
 * documentation; split, the order would be spread over functions. */
static size_t carve(bt_engine *e, float *base) {
    const bt_config *c = &e->cfg;
    const bt_engine_limits *lim = &e->lim;
    const size_t N = (size_t)lim->max_tokens, B = (size_t)lim->max_seqs, D = (size_t)c->d_model,
                 F = (size_t)c->d_ff, C = (size_t)(c->n_labels > 0 ? c->n_labels : 1),
                 L = (size_t)c->n_layers, H = (size_t)c->n_heads, Dmax = (size_t)max_layer_width(c),
                 TT = (size_t)lim->max_len * (size_t)lim->max_len;
    /* sum_b T_b^2 <= max_len * sum_b T_b */
    const size_t p_per_head = (size_t)lim->max_len * N;
    size_t off = 0;
#define TAKE(ptr, n)                                                          \
    do {                                                                      \
        (ptr) = base ? base + off : NULL;                                     \
        off += ((size_t)(n) + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; \
    } while (0)
    /* Backward needs every layer's activations; a forward-only engine reuses one slot sized
     * for the widest layer (and keeps per-layer probabilities only when they are asked for). */
    const int per_layer = lim->backward;
    const int keep_p = lim->backward || lim->attentions;
    for (size_t l = 0; l < L; l++) {
        layer_acts *s = &e->act[l];
        const size_t Dl = per_layer ? (size_t)c->layer_heads[l] * c->d_head : Dmax;
        const size_t Hp = keep_p ? (size_t)c->layer_heads[l] : Dmax / c->d_head;
        if (l == 0 || per_layer) {
            TAKE(s->qkv, N * 3 * Dl);
            TAKE(s->ctx, N * Dl);
            TAKE(s->r1, N * D);
            TAKE(s->mean1, N);
            TAKE(s->rstd1, N);
            TAKE(s->f1, N * F);
            TAKE(s->r2, N * D);
            TAKE(s->mean2, N);
            TAKE(s->rstd2, N);
        } else {
            float *p = s->p;
            *s = e->act[0];
            s->p = p;
        }
        if (l == 0 || keep_p) TAKE(s->p, Hp * p_per_head);
        else s->p = e->act[0].p;
    }
    for (size_t l = 0; l <= L; l++) {
        if (l < 2 || lim->hidden) TAKE(e->hidden[l], N * D);
        else e->hidden[l] = e->hidden[l % 2];
    }
    TAKE(e->ctxg, N * Dmax);
    TAKE(e->a, N * D);
    TAKE(e->h, N * F);
    if (lim->backward) {
        TAKE(e->dxa, N * D);
        TAKE(e->dxb, N * D);
        TAKE(e->dr, N * D);
        TAKE(e->dff, N * F);
        TAKE(e->dctxg, N * Dmax);
        TAKE(e->dqkv, N * 3 * Dmax);
        TAKE(e->dp, (size_t)e->n_threads * TT);
        if (lim->attention_grad) {
            TAKE(e->dseed, B * C);
            TAKE(e->gp, (Dmax / c->d_head) * p_per_head);
        }
    }
    if (c->arch == BT_ARCH_GPT2) {
        TAKE(e->xf, N * D);
        TAKE(e->lnf_mean, N);
        TAKE(e->lnf_rstd, N);
    }
    if (c->head == BT_HEAD_LM) {
        TAKE(e->lm_scratch, (size_t)LM_CHUNK * c->vocab_size);
        if (lim->backward) TAKE(e->dlm, N * D);
    }
    TAKE(e->cls, B * D);
    TAKE(e->pooled, B * D);
    TAKE(e->logits, B * C);
    TAKE(e->dlogits, B * C);
    TAKE(e->dpooled, B * D);
    if (lim->attentions) TAKE(e->roll, lim->max_len);
#undef TAKE
    /* doubles: counted in float units, two per double */
    const size_t nd = B + 3 * B * L * H + 3 * B * H;
    if (base) {
        double *d = (double *)(base + off);
        e->loss = d;
        e->ggrad = d + B;
        e->gtok = e->ggrad + B * L * H;
        e->ent = e->gtok + B * L * H;
        e->lg = e->ent + B * L * H;
        e->lt = e->lg + B * H;
        e->le = e->lt + B * H;
    }
    off += 2 * nd;
    return off;
}

/* The activation block is touched here, once, by the threads that will use it, so that its page
 * faults do not land in the first batch of every run; in 4 kB pages, not huge pages (why, and
 * what was measured: docs/engine.md "Memory pages"). */
#define TOUCH_CHUNK ((size_t)2 << 20)

static void first_touch(float *mem, size_t bytes) {
    const long chunks = (long)(bytes / TOUCH_CHUNK);
    char *p = (char *)mem;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < chunks; i++) memset(p + (size_t)i * TOUCH_CHUNK, 0, TOUCH_CHUNK);
}

int bt_engine_create(const bt_config *cfg, const bt_params *params, const bt_engine_limits *lim,
                     bt_engine **out, bt_error *err) {
    *out = NULL;
    int rc = bt_config_check(cfg, err);
    if (rc) return rc;
    if (cfg->head == BT_HEAD_LM && cfg->arch == BT_ARCH_BERT)
        return bt_error_set(err, BT_EINPUT, "engine: a language-model head needs a causal (GPT) model");
    if (lim->max_tokens < 1 || lim->max_seqs < 1 || lim->max_len < 1)
        return bt_error_set(err, BT_EINPUT, "engine: limits must be positive (tokens %d, seqs %d, len %d)",
                            lim->max_tokens, lim->max_seqs, lim->max_len);
    if (lim->max_len > cfg->max_pos - cfg->pos_offset)
        return bt_error_set(err, BT_EINPUT, "engine: sequences of %d tokens exceed the model's %d positions",
                            lim->max_len, cfg->max_pos - cfg->pos_offset);
    bt_engine *e = bt_calloc(1, sizeof *e, "the engine", err);
    if (!e) return BT_EINTERNAL;
    e->cfg = *cfg;
    e->w = params;
    e->lim = *lim;
    if (e->lim.max_seqs > e->lim.max_tokens) e->lim.max_seqs = e->lim.max_tokens;
    if (e->lim.max_len > e->lim.max_tokens) e->lim.max_len = e->lim.max_tokens;
    e->n_threads = eng_threads();
    eng_gemm_resolve();
    e->mem_floats = carve(e, NULL);
    const size_t bytes = (e->mem_floats * sizeof(float) + TOUCH_CHUNK - 1) / TOUCH_CHUNK * TOUCH_CHUNK;
    e->mem = bt_aligned_alloc(4096, bytes, 1, "activations", NULL);
    if (e->mem) first_touch(e->mem, bytes);
    const size_t B = (size_t)e->lim.max_seqs;
    e->len = bt_malloc(B, sizeof(int), "the batch", NULL);
    e->off = bt_malloc(B + 1, sizeof(int), "the batch", NULL);
    e->sq = bt_malloc(B + 1, sizeof(size_t), "the batch", NULL);
    e->alpha = bt_malloc(B, sizeof(float), "the batch", NULL);
    e->scale_layer = e->grad_layer = -1;
    if (!e->mem || !e->len || !e->off || !e->sq || !e->alpha) {
        bt_engine_free(e);
        return bt_error_set(err, BT_EINTERNAL, "engine: cannot allocate %.1f MB of activations",
                            bytes / 1e6);
    }
    carve(e, e->mem);
    *out = e;
    return BT_OK;
}

void bt_engine_free(bt_engine *e) {
    if (!e) return;
    free(e->mem);
    free(e->len);
    free(e->off);
    free(e->sq);
    free(e->alpha);
    free(e);
}

size_t bt_engine_bytes(const bt_engine *e) { return e->mem_floats * sizeof(float); }

void bt_engine_set_stop(bt_engine *e, const volatile sig_atomic_t *stop) { e->stop = stop; }

/* ------------------------------------------------------------------------------------------ */

static int check_batch(const bt_engine *e, const bt_batch *bt, bt_error *err) {
    const bt_config *c = &e->cfg;
    if (bt->n_seqs < 1 || bt->n_seqs > e->lim.max_seqs)
        return bt_error_set(err, BT_EINPUT, "batch of %d sequences (engine holds 1..%d)", bt->n_seqs,
                            e->lim.max_seqs);
    long N = 0;
    for (int b = 0; b < bt->n_seqs; b++) {
        if (bt->lens[b] < 1 || bt->lens[b] > e->lim.max_len)
            return bt_error_set(err, BT_EINPUT, "sequence %d has %d tokens (engine holds 1..%d)", b,
                                bt->lens[b], e->lim.max_len);
        N += bt->lens[b];
    }
    if (N > e->lim.max_tokens)
        return bt_error_set(err, BT_EINPUT, "batch of %ld tokens (engine holds %d)", N, e->lim.max_tokens);
    for (int b = 0, n = 0; b < bt->n_seqs; b++) {
        for (int t = 0; t < bt->lens[b]; t++, n++) {
            if (bt->ids[n] < 0 || bt->ids[n] >= c->vocab_size)
                return bt_error_set(err, BT_EINPUT, "token id %d (sequence %d, position %d) outside the vocabulary of %d",
                                    bt->ids[n], b, t, c->vocab_size);
            /* a model without a token-type table (GPT-2, DistilBERT) ignores the types */
            if (bt->types && c->type_vocab > 0 && (bt->types[n] < 0 || bt->types[n] >= c->type_vocab))
                return bt_error_set(err, BT_EINPUT, "token type %d (sequence %d, position %d) outside 0..%d",
                                    bt->types[n], b, t, c->type_vocab - 1);
        }
    }
    for (int b = 0; bt->labels && c->head == BT_HEAD_CLASSIFY && b < bt->n_seqs; b++)
        if (bt->labels[b] < 0 || bt->labels[b] >= c->n_labels)
            return bt_error_set(err, BT_EINPUT, "label %d of sequence %d outside 0..%d", bt->labels[b], b,
                                c->n_labels - 1);
    for (int b = 0; bt->targets && c->head == BT_HEAD_REGRESS && b < bt->n_seqs; b++)
        if (!isfinite(bt->targets[b]))
            return bt_error_set(err, BT_EINPUT, "regression target of sequence %d is not finite", b);
    return BT_OK;
}

/* Scatters one layer's per-(sequence, present head) values into [B, L, H] by original head id. */
static void scatter_heads(const bt_engine *e, int l, double *dst, const double *src) {
    const bt_config *c = &e->cfg;
    const int L = c->n_layers, H = c->n_heads, Hl = c->layer_heads[l];
    for (int b = 0; b < e->B; b++) {
        double *row = dst + ((size_t)b * L + l) * H;
        for (int h = 0; h < H; h++) row[h] = 0.0;
        for (int j = 0; j < Hl; j++) row[c->head_id[l][j]] = src[(size_t)b * Hl + j];
    }
}

static int forward_impl(bt_engine *e, const bt_batch *bt, const float *gates, int flags, int first,
                        const float *x_in, int scale_layer, const float *alpha, bt_error *err) {
    const bt_config *c = &e->cfg;
    e->have_forward = 0;
    e->scale_layer = e->grad_layer = -1;
    int rc = check_batch(e, bt, err);
    if (rc) return rc;
    if (alpha) {
        if (scale_layer < first || scale_layer >= c->n_layers)
            return bt_error_set(err, BT_EINPUT, "scaled layer %d is not run by a forward from layer %d of %d", scale_layer,
                                first, c->n_layers);
        for (int b = 0; b < bt->n_seqs; b++)
            if (!isfinite(alpha[b]))
                return bt_error_set(err, BT_EINPUT, "scale of sequence %d is not a finite number", b);
        memcpy(e->alpha, alpha, sizeof(float) * bt->n_seqs);
        e->scale_layer = scale_layer;
    }
    for (int i = 0; gates && i < c->n_layers * c->n_heads; i++)
        if (!isfinite(gates[i]))
            return bt_error_set(err, BT_EINPUT, "gate [%d, %d] is not a finite number", i / c->n_heads, i % c->n_heads);
    if (first < 0 || first > c->n_layers || (first > 0 && !x_in))
        return bt_error_set(err, BT_EINPUT, "forward from layer %d needs that layer's input", first);
    const int B = bt->n_seqs, D = c->d_model, L = c->n_layers, H = c->n_heads;
    e->B = B;
    int N = 0;
    size_t sq = 0;
    for (int b = 0; b < B; b++) {
        e->len[b] = bt->lens[b];
        e->off[b] = N;
        e->sq[b] = sq;
        N += bt->lens[b];
        sq += (size_t)bt->lens[b] * bt->lens[b];
    }
    e->N = N;
    e->seqs = (op_seqs){.B = B, .len = e->len, .off = e->off, .sq = e->sq};
    for (int l = 0; l < L; l++)
        for (int j = 0; j < c->layer_heads[l]; j++)
            e->gate[l][j] = gates ? gates[l * H + c->head_id[l][j]] : 1.0f;
    e->want_entropy = (flags & BT_FWD_ENTROPY) != 0;
    e->first_layer = first;
    memset(e->ent, 0, (size_t)B * L * H * sizeof(double));

    const int gpt2 = c->arch == BT_ARCH_GPT2;
    if (first == 0) {
        if (e->w->emb_ln_g) {
            op_embed_forward(e->a, bt->ids, bt->types, e->w->wte, e->w->wpe, e->w->wtt, &e->seqs, c->pos_offset, D);
            op_layernorm_forward(e->hidden[0], NULL, NULL, e->a, e->w->emb_ln_g, e->w->emb_ln_b, N, D, c->ln_eps);
        } else {
            op_embed_forward(e->hidden[0], bt->ids, bt->types, e->w->wte, e->w->wpe, e->w->wtt, &e->seqs,
                             c->pos_offset, D);
        }
    } else if (x_in != e->hidden[first]) {
        memcpy(e->hidden[first], x_in, (size_t)N * D * sizeof(float));
    }
    for (int l = first; l <= L; l++) {
        if (eng_stop_asked(e)) /* (l = L: the last layer returned early) */
            return bt_error_set(err, BT_EINTERRUPTED, "forward stopped on request before layer %d", l);
        if (l == L) break;
        /* GPT-2's last hidden state is reported after ln_f (as Hugging Face does) */
        if (gpt2) pre_ln_layer_forward(e, l, e->hidden[l], l == L - 1 ? e->xf : e->hidden[l + 1]);
        else post_ln_layer_forward(e, l, e->hidden[l], e->hidden[l + 1]);
        if (e->want_entropy) scatter_heads(e, l, e->ent, e->le);
    }
    if (gpt2)
        op_layernorm_forward(e->hidden[L], e->lnf_mean, e->lnf_rstd, e->xf, e->w->lnf_g, e->w->lnf_b, N, D, c->ln_eps);

    /* sequence head on the first token */
    e->have_loss = 0;
    if (c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS) {
        const int C = c->n_labels;
        op_gather_token(e->cls, e->hidden[L], &e->seqs, D, c->cls_last);
        const float *feat = e->cls;
        if (c->has_pooler) {
            op_linear_forward(e->pooled, e->cls, e->w->pool_w, e->w->pool_b, B, D, D);
            if (c->pooler_act == BT_POOL_RELU) op_act_forward(e->pooled, e->pooled, (size_t)B * D, BT_ACT_RELU);
            else op_tanh_forward(e->pooled, e->pooled, (size_t)B * D);
            feat = e->pooled;
        }
        op_linear_forward(e->logits, feat, e->w->cls_w, e->w->cls_b, B, D, C);
        const int labelled = c->head == BT_HEAD_CLASSIFY ? bt->labels != NULL : bt->targets != NULL;
        if (labelled) {
            op_loss_forward_backward(e->loss, e->dlogits, e->logits, bt->labels, bt->targets, B, C);
            if (e->dseed) op_target_grad(e->dseed, e->logits, bt->labels, B, C);
            e->have_loss = 1;
        }
    } else if (c->head == BT_HEAD_LM) {
        /* next-token loss needs no labels; its gradient is taken here, while the logits exist */
        op_lm_head_forward_backward(e->loss, e->lim.backward ? e->dlm : NULL, e->hidden[L], bt->ids, e->w->wte,
                                    &e->seqs, c->vocab_size, D, e->lm_scratch, LM_CHUNK);
        e->have_loss = 1;
    }
    /* a backward after a partial forward would miss the lower layers' activations */
    e->have_forward = first == 0 ? 1 : 2;
    return BT_OK;
}

int bt_engine_forward(bt_engine *e, const bt_batch *bt, const float *gates, int flags, bt_error *err) {
    return forward_impl(e, bt, gates, flags, 0, NULL, -1, NULL, err);
}

int bt_engine_forward_from(bt_engine *e, const bt_batch *bt, const float *gates, int flags, int first,
                           const float *x_in, bt_error *err) {
    return forward_impl(e, bt, gates, flags, first, x_in, -1, NULL, err);
}

int bt_engine_forward_scaled(bt_engine *e, const bt_batch *bt, const float *gates, int flags, int first,
                             const float *x_in, int layer, const float *alpha, bt_error *err) {
    if (!alpha) return bt_error_set(err, BT_EINPUT, "a scaled forward needs the scales");
    return forward_impl(e, bt, gates, flags, first, x_in, layer, alpha, err);
}

const float *bt_engine_hidden(const bt_engine *e, int l) {
    if (l < 0 || l > e->cfg.n_layers || (!e->lim.hidden && l < e->cfg.n_layers - 1)) return NULL;
    return e->hidden[l];
}

/* From dL/dlogits (dlogits) or the LM head's dL/dh down to layer `last`, which computes no
 * input gradient: 0 for the gates, the attributed layer for the attribution. */
static int backward_impl(bt_engine *e, const float *dlogits, int last, bt_error *err) {
    const bt_config *c = &e->cfg;
    const int B = e->B, N = e->N, D = c->d_model, C = c->n_labels, L = c->n_layers;

    float *dy = e->dxa, *dx = e->dxb;
    if (c->head == BT_HEAD_LM) {
        memcpy(dy, e->dlm, (size_t)N * D * sizeof(float));
    } else {
        /* logits <- pooler <- first (or last) token of each sequence */
        op_linear_backward(e->dpooled, dlogits, e->w->cls_w, B, D, C, 0);
        if (c->has_pooler) {
            if (c->pooler_act == BT_POOL_RELU) op_act_backward(e->dpooled, e->pooled, (size_t)B * D, BT_ACT_RELU);
            else op_tanh_backward(e->dpooled, e->pooled, (size_t)B * D);
            op_linear_backward(e->cls, e->dpooled, e->w->pool_w, B, D, D, 0); /* cls now holds dL/dh */
            op_scatter_token(dy, e->cls, &e->seqs, N, D, c->cls_last);
        } else {
            op_scatter_token(dy, e->dpooled, &e->seqs, N, D, c->cls_last);
        }
    }
    const int gpt2 = c->arch == BT_ARCH_GPT2;
    if (gpt2) { /* through ln_f */
        op_layernorm_backward(dx, dy, e->xf, e->lnf_mean, e->lnf_rstd, e->w->lnf_g, N, D);
        float *t = dy;
        dy = dx;
        dx = t;
    }
    for (int l = L - 1; l >= last - 1; l--) {
        if (eng_stop_asked(e)) /* (l = last - 1: layer `last` returned early) */
            return bt_error_set(err, BT_EINTERRUPTED, "backward stopped on request at layer %d", l);
        if (l < last) break;
        if (gpt2) pre_ln_layer_backward(e, l, dy, l > last ? dx : NULL);
        else post_ln_layer_backward(e, l, dy, l > last ? dx : NULL);
        scatter_heads(e, l, e->ggrad, e->lg);
        scatter_heads(e, l, e->gtok, e->lt);
        float *t = dy;
        dy = dx;
        dx = t;
    }
    return BT_OK;
}

int bt_engine_backward(bt_engine *e, bt_error *err) {
    if (!e->lim.backward) return bt_error_set(err, BT_EINPUT, "engine created without backward buffers");
    if (e->have_forward != 1 || !e->have_loss)
        return bt_error_set(err, BT_EINPUT, "backward needs a full forward pass with labels");
    e->grad_layer = -1;
    return backward_impl(e, e->dlogits, 0, err);
}

int bt_engine_backward_attention(bt_engine *e, int layer, int seed, bt_error *err) {
    const bt_config *c = &e->cfg;
    e->grad_layer = -1;
    if (!e->lim.backward || !e->lim.attention_grad)
        return bt_error_set(err, BT_EINPUT, "engine created without attention-gradient buffers");
    if (c->head != BT_HEAD_CLASSIFY && c->head != BT_HEAD_REGRESS)
        return bt_error_set(err, BT_EINPUT, "the attention gradient needs a classification or regression head");
    if (!e->have_forward || !e->have_loss)
        return bt_error_set(err, BT_EINPUT, "the attention gradient needs a forward pass with labels");
    if (layer < e->first_layer || layer >= c->n_layers)
        return bt_error_set(err, BT_EINPUT, "attention gradient of layer %d: the last forward ran layers %d..%d", layer,
                            e->first_layer, c->n_layers - 1);
    e->grad_layer = layer;
    const int rc = backward_impl(e, seed == BT_SEED_TARGET ? e->dseed : e->dlogits, layer, err);
    if (rc) e->grad_layer = -1;
    return rc;
}

int bt_engine_copy_attention_grad(const bt_engine *e, int b, float *dst, bt_error *err) {
    const bt_config *c = &e->cfg;
    const int l = e->grad_layer;
    if (l < 0 || b < 0 || b >= e->B)
        return bt_error_set(err, BT_EINPUT, "no attention gradient for sequence %d", b);
    const int T = e->len[b], Hl = c->layer_heads[l];
    const size_t TT = (size_t)T * T;
    memset(dst, 0, (size_t)c->n_heads * TT * sizeof(float));
    const float *g = e->gp + (size_t)Hl * e->sq[b];
    for (int j = 0; j < Hl; j++) memcpy(dst + (size_t)c->head_id[l][j] * TT, g + (size_t)j * TT, TT * sizeof(float));
    return BT_OK;
}

const float *bt_engine_logits(const bt_engine *e) { return e->cfg.head == BT_HEAD_LM ? NULL : e->logits; }
const double *bt_engine_loss(const bt_engine *e) { return e->loss; }
const double *bt_engine_gate_grad(const bt_engine *e) { return e->ggrad; }
const double *bt_engine_gate_grad_tok(const bt_engine *e) { return e->gtok; }
const double *bt_engine_entropy(const bt_engine *e) { return e->ent; }

int bt_engine_copy_attention(const bt_engine *e, int b, int l, float *dst, bt_error *err) {
    const bt_config *c = &e->cfg;
    if (!e->have_forward || b < 0 || b >= e->B || l < 0 || l >= c->n_layers)
        return bt_error_set(err, BT_EINPUT, "no attention for sequence %d layer %d", b, l);
    if (!(e->lim.attentions || (e->lim.backward)) && l != c->n_layers - 1)
        return bt_error_set(err, BT_EINPUT, "engine created without attention buffers");
    if (l < e->first_layer)
        return bt_error_set(err, BT_EINPUT, "attention of layer %d: the last forward started at layer %d", l,
                            e->first_layer);
    const int T = e->len[b], Hl = c->layer_heads[l];
    const size_t TT = (size_t)T * T;
    memset(dst, 0, (size_t)c->n_heads * TT * sizeof(float));
    const float *p = e->act[l].p + (size_t)Hl * e->sq[b];
    const float a = l == e->scale_layer ? e->alpha[b] : 1.0f;
    for (int j = 0; j < Hl; j++) {
        const float g = e->gate[l][j] * a;
        float *o = dst + (size_t)c->head_id[l][j] * TT;
        const float *s = p + (size_t)j * TT;
        for (size_t i = 0; i < TT; i++) o[i] = g * s[i];
    }
    return BT_OK;
}

int bt_engine_copy_hidden(const bt_engine *e, int b, int l, float *dst, bt_error *err) {
    const bt_config *c = &e->cfg;
    if (!e->have_forward || b < 0 || b >= e->B || l < 0 || l > c->n_layers)
        return bt_error_set(err, BT_EINPUT, "no hidden state for sequence %d layer %d", b, l);
    if (!e->lim.hidden && l < c->n_layers - 1)
        return bt_error_set(err, BT_EINPUT, "engine created without hidden-state buffers");
    memcpy(dst, e->hidden[l] + (size_t)e->off[b] * c->d_model,
           (size_t)e->len[b] * c->d_model * sizeof(float));
    return BT_OK;
}
