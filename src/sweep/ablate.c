/* Single-head ablation (Michel et al. §3.2) and their "only one head left in layer l" table.
 *
 * A configuration that changes the gates of layer l only cannot change layers below l, so each
 * batch runs once at the base mask keeping the input of every layer (the engine's L+1 hidden
 * buffers: (L+1) * batch tokens * D floats, the only cache), then the 2H configurations of layer
 * l restart from layer l's input. Going from the top layer down, a restart overwrites only the
 * hidden states above l, which no remaining configuration needs. Per batch that is
 * L + H*L*(L+1) layer forwards instead of (1 + 2*L*H)*L for full passes.
 *
 * Work is shared as in every pass: the batches of the global plan are spread over the ranks and
 * each rank runs every configuration on its batches; predictions are gathered in example order
 * per configuration, so every score is the same for any number of ranks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/dist.h"
#include "bertology/sweep.h"
#include "drive.h"
#include "score.h"

void bt_sweep_ablation_free(bt_sweep_ablation *r) {
    free(r->without), free(r->delta), free(r->only);
    bt_sweep_result_free(&r->base);
    memset(r, 0, sizeof *r);
}

/* Configuration c of the ablation: 0 = base, 1 + l*H + h = base without (l, h),
 * 1 + LH + l*H + h = base with layer l reduced to head h. */
static void config_gates(const float *base, int L, int H, int c, float *g) {
    const int LH = L * H;
    memcpy(g, base, sizeof(float) * LH);
    if (c == 0) return;
    const int i = (c - 1) % LH, l = i / H, h = i % H;
    if (c <= LH) {
        g[i] = 0.0f;
    } else {
        for (int k = 0; k < H; k++)
            if (k != h) g[l * H + k] = 0.0f;
    }
}

/* Partial sums of a batch: [entropy L*H, tokens, examples, (language models) the loss sum of
 * every configuration]. Classifiers keep predictions per configuration instead. */
typedef struct {
    MPI_Comm comm;
    const bt_model *m;
    const bt_dataset *d;
    const bt_sweep_options *o;
    bt_sweep_ablation *res;
    int L, H, LH, C, n_cfg, lm;
    float *base;       /* [L, H] the base mask */
    float *gates;      /* [L, H] the configuration's */
    sweep_record *rec; /* [configurations, my examples]: configuration k at rec + k * stride */
    int stride, rec_i, rec_last; /* next record; first record of the batch just run */
    const bt_plan *plan;
    int64_t forwards;        /* layer forwards on this rank */
    double t_base, t_all, tb; /* seconds: base forwards, whole batches; start of this batch */
} ablate_ctx;

static int ablate_check(void *ctx, bt_error *err) {
    const ablate_ctx *x = ctx;
    const bt_model *m = x->m;
    if (m->cfg.head != BT_HEAD_CLASSIFY && m->cfg.head != BT_HEAD_REGRESS && !x->lm)
        return bt_error_set(err, BT_EINPUT, "%s: ablation scores a classifier or regressor, %s has no such head", m->dir,
                            m->arch_name[0] ? m->arch_name : m->model_type);
    if (!x->lm && !x->d->labels && !x->d->targets)
        return bt_error_set(err, BT_EINPUT, "ablation needs labelled data (the split has no labels)");
    if (!x->lm && !x->o->metrics) return bt_error_set(err, BT_EINPUT, "ablation needs a metric (a GLUE task)");
    return BT_OK;
}

static int ablate_setup(void *ctx, const sweep_share *sh, const bt_engine_limits *lim, bt_error *err) {
    ablate_ctx *x = ctx;
    x->plan = &sh->plan;
    x->stride = sh->my_examples;
    x->res->cache_bytes = (size_t)(x->L + 1) * lim->max_tokens * x->m->cfg.d_model * sizeof(float);
    x->base = bt_malloc((size_t)x->LH, sizeof(float), "the base mask", err);
    x->gates = x->base ? bt_malloc((size_t)x->LH, sizeof(float), "the gates", err) : NULL;
    x->rec = x->gates ? bt_calloc((size_t)x->n_cfg * sh->my_examples, sizeof(sweep_record),
                                  "the predictions of every configuration", err)
                      : NULL;
    if (!x->rec) return BT_EINTERNAL;
    for (int i = 0; i < x->LH; i++) x->base[i] = x->o->head_mask ? x->o->head_mask[i] : 1.0f;
    return BT_OK;
}

/* Predictions (or the loss sum) of configuration cfg from the engine's last forward. */
static void keep_scores(ablate_ctx *x, const bt_engine *e, const bt_batch *batch, int cfg, double *p) {
    if (x->lm) {
        for (int k = 0; k < batch->n_seqs; k++) p[x->LH + 2 + cfg] += bt_engine_loss(e)[k];
        return;
    }
    const float *logits = bt_engine_logits(e);
    sweep_record *r = x->rec + (size_t)cfg * x->stride + x->rec_i;
    for (int k = 0; k < batch->n_seqs; k++)
        sweep_record_set(&r[k], logits + (size_t)k * x->C, x->C, x->d->labels ? batch->labels[k] : -1,
                         x->d->targets ? batch->targets[k] : NAN);
}

/* The base forward, keeping every layer's input; the sink sees it before the configurations
 * overwrite the engine. */
static int ablate_run(void *ctx, bt_engine *e, const bt_batch *batch, int slot, int b, double *p, bt_sweep_batch *out,
                      bt_error *err) {
    ablate_ctx *x = ctx;
    const int LH = x->LH;
    x->tb = MPI_Wtime();
    const int rc = bt_engine_forward(e, batch, x->base, x->o->entropy ? BT_FWD_ENTROPY : 0, err);
    if (rc) {
        bt_error_prefix(err, "batch %d", b);
        x->t_base += MPI_Wtime() - x->tb;
        return rc;
    }
    x->forwards += x->L;
    const double *en = bt_engine_entropy(e);
    for (int k = 0; k < batch->n_seqs; k++) {
        for (int j = 0; j < LH && x->o->entropy; j++) p[j] += en[(size_t)k * LH + j];
        p[LH] += batch->lens[k];
        p[LH + 1] += 1;
        if (x->lm) p[LH + 2] += bt_engine_loss(e)[k];
    }
    if (!x->lm) keep_scores(x, e, batch, 0, p);
    *out = (bt_sweep_batch){.n = batch->n_seqs, .examples = bt_plan_batch_examples(x->plan, b),
                            .logits = bt_engine_logits(e), .entropy = x->o->entropy ? en : NULL, .engine = e};
    x->t_base += MPI_Wtime() - x->tb;
    return BT_OK;
}

/* The 2H configurations of every layer, top layer first, each from the layer's cached input. */
static int ablate_configurations(void *ctx, bt_engine *e, const bt_batch *batch, int slot, int b, double *p,
                                 bt_error *err) {
    ablate_ctx *x = ctx;
    const int L = x->L, H = x->H, LH = x->LH;
    const volatile sig_atomic_t *stop = x->o->checkpoint ? x->o->checkpoint->stop : NULL;
    int rc = BT_OK;
    for (int l = L - 1; l >= 0 && !rc; l--) {
        /* a batch's configurations may take minutes: a stop request abandons the batch, which
         * a resumed run computes again */
        if (stop && *stop) return BT_EINTERRUPTED;
        const float *in = bt_engine_hidden(e, l);
        for (int kind = 0; kind < 2 && !rc; kind++)
            for (int h = 0; h < H && !rc; h++) {
                const int cfg = 1 + kind * LH + l * H + h;
                config_gates(x->base, L, H, cfg, x->gates);
                rc = bt_engine_forward_from(e, batch, x->gates, 0, l, in, err);
                if (rc == BT_EINTERRUPTED) return rc; /* the engine saw the stop request */
                if (rc) {
                    bt_error_prefix(err, "batch %d, layer %d head %d %s", b, l, h, kind ? "alone" : "masked");
                    break;
                }
                x->forwards += L - l;
                keep_scores(x, e, batch, cfg, p);
            }
    }
    x->rec_last = x->rec_i;
    x->rec_i += batch->n_seqs;
    x->t_all += MPI_Wtime() - x->tb;
    return rc;
}

/* Layer forwards of one batch: the base, then 2H configurations from each layer l up. */
static int64_t batch_forwards(int L, int H) {
    int64_t f = L;
    for (int l = 0; l < L; l++) f += (int64_t)2 * H * (L - l);
    return f;
}

/* A batch's checkpoint records: every configuration's predictions of its examples. */
static size_t ablate_state_bytes(void *ctx, const bt_plan *plan, int b) {
    const ablate_ctx *x = ctx;
    return x->lm ? 0 : (size_t)x->n_cfg * plan->batches[b].n_seqs * sizeof(sweep_record);
}

static void ablate_save(void *ctx, int slot, int b, void *buf) {
    const ablate_ctx *x = ctx;
    const int n = x->plan->batches[b].n_seqs;
    for (int c = 0; c < x->n_cfg && !x->lm; c++) /* a language model's scores are in the sums */
        memcpy((sweep_record *)buf + (size_t)c * n, x->rec + (size_t)c * x->stride + x->rec_last, sizeof(sweep_record) * n);
}

static void ablate_restore(void *ctx, int slot, int b, const void *buf) {
    ablate_ctx *x = ctx;
    const int n = x->plan->batches[b].n_seqs;
    for (int c = 0; c < x->n_cfg && !x->lm; c++)
        memcpy(x->rec + (size_t)c * x->stride + x->rec_i, (const sweep_record *)buf + (size_t)c * n, sizeof(sweep_record) * n);
    x->rec_last = x->rec_i;
    x->rec_i += n;
    x->forwards += batch_forwards(x->L, x->H); /* the count reported is the uninterrupted run's */
}

/* The base pass's summary (as bt_sweep_pass gives it without importance) and the score of every
 * configuration. */
static int ablate_finish(void *ctx, const sweep_share *sh, const double *sum, bt_error *err) {
    ablate_ctx *x = ctx;
    const int LH = x->LH;
    bt_sweep_ablation *res = x->res;
    bt_sweep_result *bs = &res->base;
    bt_error local = {0};
    bs->n_layers = x->L, bs->n_heads = x->H;
    res->n_layers = x->L, res->n_heads = x->H;
    bs->entropy_raw = bt_calloc(LH, sizeof(double), "entropy", &local);
    bs->entropy = bt_calloc(LH, sizeof(float), "entropy", &local);
    res->without = bt_malloc(LH, sizeof(double), "ablation scores", &local);
    res->delta = bt_malloc(LH, sizeof(double), "ablation scores", &local);
    res->only = bt_malloc(LH, sizeof(double), "ablation scores", &local);
    const int ok = bs->entropy_raw && bs->entropy && res->without && res->delta && res->only;
    int rc = bt_dist_agree(x->comm, ok ? BT_OK : BT_EINTERNAL, &local, err);
    if (rc) return rc;
    memcpy(bs->entropy_raw, sum, sizeof(double) * LH);
    bs->n_tokens = (int64_t)sum[LH];
    bs->n_examples = (int64_t)sum[LH + 1];
    for (int j = 0; j < LH; j++)
        bs->entropy[j] = (float)(bs->n_tokens > 0 ? bs->entropy_raw[j] / (double)bs->n_tokens : 0.0);
    for (int cfg = 0; cfg < x->n_cfg && !rc; cfg++) {
        bt_sweep_result r = {0};
        if (x->lm) {
            /* a configuration whose losses sum to 0 has no score (1/0) */
            r.score = sum[LH + 2 + cfg] > 0 ? sweep_lm_score(sum[LH + 2 + cfg] / bs->n_examples, x->o->lm_perplexity) : NAN;
            if (cfg == 0) {
                bs->loss_sum = sum[LH + 2];
                rc = sweep_score(x->comm, &sh->plan, &sh->asg, x->rec, x->o, &x->m->cfg, bs, err); /* loss, perplexity, ... */
                bs->score = r.score;
            }
        } else {
            rc = sweep_score(x->comm, &sh->plan, &sh->asg, x->rec + (size_t)cfg * x->stride, x->o, &x->m->cfg,
                             cfg ? &r : bs, err);
            if (cfg == 0) r.score = bs->score;
        }
        if (cfg == 0) res->base_score = r.score;
        else if (cfg <= LH) res->without[cfg - 1] = r.score, res->delta[cfg - 1] = r.score - res->base_score;
        else res->only[cfg - 1 - LH] = r.score;
    }
    int64_t forwards = x->forwards, total;
    MPI_Allreduce(&forwards, &total, 1, MPI_INT64_T, MPI_SUM, x->comm);
    res->layer_forwards = total;
    res->naive_layer_forwards = (int64_t)sh->plan.n_batches * x->n_cfg * x->L;
    double times[2] = {x->t_base, x->t_all}, tsum[2];
    MPI_Allreduce(times, tsum, 2, MPI_DOUBLE, MPI_SUM, x->comm);
    res->base_forward_seconds = tsum[0];
    res->busy_seconds = tsum[1];
    return rc;
}

int bt_sweep_ablate(MPI_Comm comm, const bt_model *m, const bt_dataset *d, const bt_sweep_options *o,
                    bt_sweep_sink sink, void *sink_ctx, bt_sweep_ablation *res, bt_error *err) {
    memset(res, 0, sizeof *res);
    const bt_config *c = &m->cfg;
    const int LH = c->n_layers * c->n_heads, lm = c->head == BT_HEAD_LM, n_cfg = 1 + 2 * LH;
    ablate_ctx x = {.comm = comm, .m = m, .d = d, .o = o, .res = res, .L = c->n_layers, .H = c->n_heads, .LH = LH,
                    .C = c->n_labels, .n_cfg = n_cfg, .lm = lm};
    /* hidden: every layer's input is cached for the configurations; forward only */
    const sweep_pass pass = {.label = "ablate", .K = LH + 2 + (lm ? n_cfg : 0), .hidden = 1, .check = ablate_check,
                             .setup = ablate_setup, .run = ablate_run, .after_sink = ablate_configurations,
                             .state_bytes = ablate_state_bytes, .save = ablate_save, .restore = ablate_restore,
                             .finish = ablate_finish};
    sweep_stats st = {0};
    const int rc = sweep_drive(comm, m, d, o, &pass, &x, sink, sink_ctx, &st, err);
    free(x.base), free(x.gates), free(x.rec);
    if (rc) {
        bt_sweep_ablation_free(res);
        return rc;
    }
    res->seconds = res->base.seconds = st.seconds;
    res->base.peak_rss = st.peak_rss;
    res->base.n_batches = st.n_batches;
    res->base.n_resumed = st.n_resumed;
    return BT_OK;
}
