/* One pass of the engine over the evaluation set: importance (forward + backward to the gates),
 * eval (forward only) and every step of the masking search. The loop itself is the driver's
 * (drive.c); this file says what a pass adds up per batch and how the sums become the result.
 * Per-batch partial sums (double) are reduced in global batch order, so the result does not
 * depend on the number of ranks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/dist.h"
#include "bertology/sweep.h"
#include "bertology/attribution.h"
#include "drive.h"
#include "score.h"

/* Layout of one batch's partial sums: blocks of L*H, then the scalars. */
enum { P_EX = 0, P_TOK = 1, P_BATCH = 2, P_ENT = 3, P_BLOCKS = 4 };
#define P_SCALARS 3 /* n_tokens, n_examples, loss_sum */

bt_sweep_options bt_sweep_options_default(void) {
    bt_sweep_options o;
    memset(&o, 0, sizeof o);
    o.importance = 1;
    o.entropy = 1;
    o.granularity = BT_GRAN_EXAMPLE;
    o.method = BT_SWEEP_GATE;
    o.steps = 20;
    o.token_norm = o.layer_norm = o.global_norm = 1;
    o.plan = bt_plan_options_default();
    o.label = "importance";
    return o;
}

void bt_sweep_result_free(bt_sweep_result *r) {
    free(r->importance_raw), free(r->importance), free(r->ranks), free(r->entropy_raw), free(r->entropy);
    memset(r, 0, sizeof *r);
}

typedef struct {
    MPI_Comm comm;
    const bt_model *m;
    const bt_dataset *d;
    const bt_sweep_options *o;
    bt_sweep_result *res;
    int L, H, LH, C, labelled, sequence_head;
    double *batch_g;   /* [my batches, L*H] mean gate gradient of each batch (HF accumulation) */
    sweep_record *rec; /* [my examples] predictions for the metrics, in slot order */
    int rec_i, rec_last; /* next record; first record of the batch just run */
    const bt_plan *plan;
    /* attattr: the attribution's buffers, its per-example scores [max seqs, L, H], targets and
     * (save_attributions) maps */
    bt_attr attr;
    double *attr_score;
    int *target;
    float *attr_maps;
} pass_ctx;

static int pass_check(void *ctx, bt_error *err) {
    const pass_ctx *x = ctx;
    const bt_model *m = x->m;
    const bt_dataset *d = x->d;
    const bt_sweep_options *o = x->o;
    if (o->hf_compat && o->granularity != BT_GRAN_BATCH)
        return bt_error_set(err, BT_EINPUT, "`hf_compat` reproduces HF's per-batch gradient: it needs `granularity` batch");
    if (o->granularity == BT_GRAN_BATCH && o->plan.mode != BT_PLAN_BY_SIZE)
        return bt_error_set(err, BT_EINPUT, "`granularity` batch needs `batch_size` (batches in data order)");
    const int lm = m->cfg.head == BT_HEAD_LM;
    if (o->importance && o->method == BT_SWEEP_ATTATTR) {
        if (m->cfg.head != BT_HEAD_CLASSIFY && m->cfg.head != BT_HEAD_REGRESS)
            return bt_error_set(err, BT_EINPUT, "%s: `method` attattr attributes a class probability or a regression output: "
                                "it needs a model with a classification or regression head", m->dir);
        if (o->granularity != BT_GRAN_EXAMPLE || o->hf_compat)
            return bt_error_set(err, BT_EINPUT, "`method` attattr scores each example: `granularity` must be example");
        if (o->steps < 1) return bt_error_set(err, BT_EINPUT, "`steps` %d: attattr needs at least 1", o->steps);
    }
    if (o->importance && !lm && m->cfg.head != BT_HEAD_CLASSIFY && m->cfg.head != BT_HEAD_REGRESS)
        return bt_error_set(err, BT_EINPUT, "%s: importance needs a model with a classification or LM head (%s has none)",
                            m->dir, m->arch_name[0] ? m->arch_name : m->model_type);
    if (o->importance && !lm && !d->labels && !d->targets)
        return bt_error_set(err, BT_EINPUT, "importance needs labelled data (the split has no labels)");
    if (m->cfg.head == BT_HEAD_CLASSIFY && d->labels)
        for (int i = 0; i < d->n; i++)
            if (d->labels[i] >= m->cfg.n_labels)
                return bt_error_set(err, BT_EINPUT, "example at line %lld has label %d but the model has %d labels",
                                    (long long)d->line[i], d->labels[i], m->cfg.n_labels);
    if ((m->cfg.head == BT_HEAD_REGRESS) != (d->targets != NULL) && (d->labels || d->targets))
        return bt_error_set(err, BT_EINPUT, "%s: the model is %s but the task is %s", m->dir,
                            m->cfg.head == BT_HEAD_REGRESS ? "a regressor" : "a classifier",
                            d->targets ? "a regression task" : "a classification task");
    return BT_OK;
}

static int attr_setup(pass_ctx *x, const sweep_share *sh, const bt_engine_limits *lim, bt_error *err) {
    const bt_plan *p = &sh->plan;
    const size_t B = (size_t)(p->max_batch_seqs > 0 ? p->max_batch_seqs : 1);
    bt_engine_limits plan_lim = *lim;
    plan_lim.max_tokens = p->max_batch_tokens > 0 ? (int)p->max_batch_tokens : 1;
    int rc = bt_attr_alloc(&x->attr, &x->m->cfg, &plan_lim, x->o->steps, err);
    if (!rc && (!(x->attr_score = bt_malloc(B * x->LH, sizeof(double), "the attribution scores", err)) ||
                !(x->target = bt_malloc(B, sizeof(int), "the attribution targets", err))))
        rc = BT_EINTERNAL;
    /* sum_k T_k^2 <= max_len * sum_k T_k */
    if (!rc && x->o->save_attributions &&
        !(x->attr_maps = bt_malloc((size_t)x->LH * plan_lim.max_len * plan_lim.max_tokens, sizeof(float),
                                   "a batch's attribution maps", err)))
        rc = BT_EINTERNAL;
    return rc;
}

static int pass_setup(void *ctx, const sweep_share *sh, const bt_engine_limits *lim, bt_error *err) {
    pass_ctx *x = ctx;
    x->plan = &sh->plan;
    x->batch_g = bt_calloc((size_t)sh->my_batches * x->LH, sizeof(double), "per-batch gate gradients", err);
    x->rec = x->batch_g ? bt_calloc((size_t)sh->my_examples, sizeof(sweep_record), "predictions", err) : NULL;
    if (!x->rec) return BT_EINTERNAL;
    return x->o->importance && x->o->method == BT_SWEEP_ATTATTR ? attr_setup(x, sh, lim, err) : BT_OK;
}

/* The attribution of a batch's examples, from a forward that keeps the hidden states. The
 * target is the gold label, or the class the model predicts (the first maximum, as argmax). */
static int attr_run(pass_ctx *x, bt_engine *e, const bt_batch *batch, bt_error *err) {
    const bt_sweep_options *o = x->o;
    int rc = bt_engine_forward(e, batch, o->head_mask, 0, err);
    if (rc) return rc;
    const float *z = bt_engine_logits(e);
    for (int k = 0; k < batch->n_seqs; k++) {
        sweep_record r; /* its pred: the argmax the metrics use */
        sweep_record_set(&r, z + (size_t)k * x->C, x->C, -1, NAN);
        x->target[k] = o->attr_pred ? r.pred : batch->labels ? batch->labels[k] : 0;
    }
    return bt_attr_batch(&x->attr, e, batch, o->head_mask, x->target, x->attr_score, x->attr_maps, err);
}

static int pass_run(void *ctx, bt_engine *e, const bt_batch *batch, int slot, int b, double *p, bt_sweep_batch *out,
                    bt_error *err) {
    pass_ctx *x = ctx;
    const bt_sweep_options *o = x->o;
    const int LH = x->LH, backward = o->importance, attr = backward && o->method == BT_SWEEP_ATTATTR;
    /* the attribution first: the plain forward after it leaves the engine as the sink reads it */
    int rc = attr ? attr_run(x, e, batch, err) : BT_OK;
    if (!rc) rc = bt_engine_forward(e, batch, o->head_mask, o->entropy ? BT_FWD_ENTROPY : 0, err);
    if (!rc && backward) rc = bt_engine_backward(e, err);
    if (rc) {
        bt_error_prefix(err, "batch %d", b);
        return rc;
    }
    double *g = x->batch_g + (size_t)slot * LH;
    const double *gg = backward ? bt_engine_gate_grad(e) : NULL, *gt = bt_engine_gate_grad_tok(e);
    const double *en = bt_engine_entropy(e), *loss = x->labelled ? bt_engine_loss(e) : NULL;
    const float *logits = x->sequence_head ? bt_engine_logits(e) : NULL;
    const int n = batch->n_seqs;
    const int *ex = bt_plan_batch_examples(x->plan, b);
    x->rec_last = x->rec_i;
    for (int k = 0; k < n; k++) {
        for (int j = 0; j < LH && gg; j++) {
            const double v = gg[(size_t)k * LH + j];
            p[P_EX * LH + j] += attr ? x->attr_score[(size_t)k * LH + j] : fabs(v);
            p[P_TOK * LH + j] += gt[(size_t)k * LH + j];
            g[j] += v;
        }
        for (int j = 0; j < LH && o->entropy; j++) p[P_ENT * LH + j] += en[(size_t)k * LH + j];
        p[P_BLOCKS * LH + 0] += batch->lens[k];
        p[P_BLOCKS * LH + 1] += 1;
        if (loss) p[P_BLOCKS * LH + 2] += loss[k];
        if (logits) sweep_record_set(&x->rec[x->rec_i], logits + (size_t)k * x->C, x->C,
                                     x->d->labels ? batch->labels[k] : -1, x->d->targets ? batch->targets[k] : NAN);
        if (logits && o->logits_out)
            memcpy(o->logits_out + (size_t)ex[k] * x->C, logits + (size_t)k * x->C, sizeof(float) * x->C);
        x->rec_i++;
    }
    /* HF's loss is the batch mean, so its gradient is the mean of the examples' */
    for (int j = 0; j < LH && gg; j++) {
        g[j] /= n;
        p[P_BATCH * LH + j] = fabs(g[j]);
    }
    *out = (bt_sweep_batch){.n = n, .examples = ex, .logits = logits,
                            .loss = loss, .gate_grad = gg, .entropy = o->entropy ? en : NULL, .engine = e,
                            .attr_max = attr ? x->attr_score : NULL, .attributions = attr ? x->attr_maps : NULL};
    return BT_OK;
}

/* A batch's records for a checkpoint: its mean gate gradient (HF's accumulation), its examples'
 * predictions, and their logits when the caller keeps them. */
static size_t pass_state_bytes(void *ctx, const bt_plan *plan, int b) {
    const pass_ctx *x = ctx;
    const size_t n = (size_t)plan->batches[b].n_seqs;
    return sizeof(double) * x->LH + n * sizeof(sweep_record) +
           (x->o->logits_out && x->sequence_head ? n * x->C * sizeof(float) : 0);
}

static void pass_save(void *ctx, int slot, int b, void *buf) {
    const pass_ctx *x = ctx;
    const int n = x->plan->batches[b].n_seqs, C = x->C;
    char *q = buf;
    memcpy(q, x->batch_g + (size_t)slot * x->LH, sizeof(double) * x->LH);
    q += sizeof(double) * x->LH;
    memcpy(q, x->rec + x->rec_last, sizeof(sweep_record) * n);
    q += sizeof(sweep_record) * n;
    const int *ex = bt_plan_batch_examples(x->plan, b);
    for (int k = 0; x->o->logits_out && x->sequence_head && k < n; k++, q += sizeof(float) * C)
        memcpy(q, x->o->logits_out + (size_t)ex[k] * C, sizeof(float) * C);
}

static void pass_restore(void *ctx, int slot, int b, const void *buf) {
    pass_ctx *x = ctx;
    const int n = x->plan->batches[b].n_seqs, C = x->C;
    const char *q = buf;
    memcpy(x->batch_g + (size_t)slot * x->LH, q, sizeof(double) * x->LH);
    q += sizeof(double) * x->LH;
    memcpy(x->rec + x->rec_i, q, sizeof(sweep_record) * n);
    q += sizeof(sweep_record) * n;
    x->rec_last = x->rec_i;
    x->rec_i += n;
    const int *ex = bt_plan_batch_examples(x->plan, b);
    for (int k = 0; x->o->logits_out && x->sequence_head && k < n; k++, q += sizeof(float) * C)
        memcpy(x->o->logits_out + (size_t)ex[k] * C, q, sizeof(float) * C);
}

/* HF never zeroes head_mask.grad: after batch k it holds sum_{j<=k} G_j, and adds its absolute
 * value to the importance every batch. Replaces the batch block of sum on every rank. */
static int hf_accumulate(pass_ctx *x, const sweep_share *sh, double *batch_sum, bt_error *err) {
    const int LH = x->LH, nb = sh->plan.n_batches;
    bt_error local = {0};
    double *all = NULL, *run = NULL;
    if (sh->rank == 0) {
        all = bt_malloc((size_t)nb * LH, sizeof(double), "every batch's gate gradient", &local);
        run = all ? bt_calloc((size_t)LH, sizeof(double), "the accumulated gradient", &local) : NULL;
    }
    /* the gather is collective: every rank learns of rank 0's failure before it */
    int rc = bt_dist_agree(x->comm, sh->rank == 0 && !run ? BT_EINTERNAL : BT_OK, &local, err);
    if (!rc) rc = bt_dist_gather_batches(x->comm, &sh->asg, x->batch_g, LH, all, 0, err);
    if (!rc && sh->rank == 0) {
        for (int j = 0; j < LH; j++) batch_sum[j] = 0.0;
        for (int b = 0; b < nb; b++)
            for (int j = 0; j < LH; j++) {
                run[j] += all[(size_t)b * LH + j];
                batch_sum[j] += fabs(run[j]);
            }
    }
    free(all), free(run);
    if (!rc) MPI_Bcast(batch_sum, LH, MPI_DOUBLE, 0, x->comm);
    return rc;
}

static int pass_finish(void *ctx, const sweep_share *sh, const double *reduced, bt_error *err) {
    pass_ctx *x = ctx;
    const bt_sweep_options *o = x->o;
    bt_sweep_result *res = x->res;
    const int L = x->L, H = x->H, LH = x->LH, K = P_BLOCKS * LH + P_SCALARS;
    bt_error local = {0};
    double *sum = bt_malloc((size_t)K, sizeof(double), "the reduced sums", &local);
    res->n_layers = L;
    res->n_heads = H;
    if (sum) {
        memcpy(sum, reduced, sizeof(double) * K);
        res->importance_raw = bt_calloc(LH, sizeof(double), "importance", &local);
        res->importance = bt_calloc(LH, sizeof(float), "importance", &local);
        res->ranks = bt_calloc(LH, sizeof(int), "ranks", &local);
        res->entropy_raw = bt_calloc(LH, sizeof(double), "entropy", &local);
        res->entropy = bt_calloc(LH, sizeof(float), "entropy", &local);
    }
    const int ok = sum && res->importance_raw && res->importance && res->ranks && res->entropy_raw && res->entropy;
    int rc = bt_dist_agree(x->comm, ok ? BT_OK : BT_EINTERNAL, &local, err);
    if (!rc && o->hf_compat && o->importance) rc = hf_accumulate(x, sh, sum + P_BATCH * LH, err);
    if (!rc) {
        const int blk = o->granularity == BT_GRAN_TOKEN ? P_TOK : o->granularity == BT_GRAN_BATCH ? P_BATCH : P_EX;
        memcpy(res->importance_raw, sum + blk * LH, sizeof(double) * LH);
        memcpy(res->entropy_raw, sum + P_ENT * LH, sizeof(double) * LH);
        res->n_tokens = (int64_t)sum[P_BLOCKS * LH + 0];
        res->n_examples = (int64_t)sum[P_BLOCKS * LH + 1];
        res->loss_sum = sum[P_BLOCKS * LH + 2];
        bt_sweep_normalize(res->importance_raw, L, H, res->n_tokens, o->token_norm, o->layer_norm, o->global_norm,
                           res->importance);
        bt_sweep_rank(res->importance, LH, res->ranks);
        for (int j = 0; j < LH; j++)
            res->entropy[j] = (float)(res->n_tokens > 0 ? res->entropy_raw[j] / (double)res->n_tokens : 0.0);
        rc = sweep_score(x->comm, &sh->plan, &sh->asg, x->rec, o, &x->m->cfg, res, err);
    }
    free(sum);
    return rc;
}

int bt_sweep_pass(MPI_Comm comm, const bt_model *m, const bt_dataset *d, const bt_sweep_options *o,
                  bt_sweep_sink sink, void *sink_ctx, bt_sweep_result *res, bt_error *err) {
    memset(res, 0, sizeof *res);
    const bt_config *c = &m->cfg;
    const int LH = c->n_layers * c->n_heads;
    pass_ctx x = {.comm = comm, .m = m, .d = d, .o = o, .res = res, .L = c->n_layers, .H = c->n_heads, .LH = LH,
                  .C = c->n_labels,
                  /* a language model's next-token loss needs no labels */
                  .labelled = d->labels || d->targets || c->head == BT_HEAD_LM,
                  .sequence_head = c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS};
    const int attr = o->importance && o->method == BT_SWEEP_ATTATTR;
    const sweep_pass pass = {.label = "pass", .K = P_BLOCKS * LH + P_SCALARS, .backward = o->importance,
                             .attentions = o->keep_attentions, .hidden = o->keep_hidden || attr,
                             .copies = attr ? o->steps : 0, .check = pass_check,
                             .setup = pass_setup, .run = pass_run, .state_bytes = pass_state_bytes,
                             .save = pass_save, .restore = pass_restore, .finish = pass_finish};
    sweep_stats st = {0};
    const int rc = sweep_drive(comm, m, d, o, &pass, &x, sink, sink_ctx, &st, err);
    free(x.batch_g), free(x.rec), free(x.attr_score), free(x.target), free(x.attr_maps);
    bt_attr_free(&x.attr);
    if (rc) {
        bt_sweep_result_free(res);
        return rc;
    }
    res->peak_rss = st.peak_rss;
    res->n_batches = st.n_batches;
    res->n_resumed = st.n_resumed;
    res->seconds = st.seconds;
    return BT_OK;
}
