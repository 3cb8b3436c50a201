/* One pass of the engine over the evaluation set, shared by importance, eval, masking and
 * ablation. Each rank runs its batches of the global plan; per-batch partial sums (double) are
 * reduced in global batch order, so the result does not depend on the number of ranks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/dist.h"
#include "bertology/sweep.h"
#include "batches.h"
#include "score.h"

/* Layout of one batch's partial sums. */
enum { P_EX = 0, P_TOK = 1, P_BATCH = 2, P_ENT = 3, P_BLOCKS = 4 };
#define P_SCALARS 3 /* n_tokens, n_examples, loss_sum */

bt_sweep_options bt_sweep_options_default(void) {
    bt_sweep_options o;
    memset(&o, 0, sizeof o);
    o.importance = 1;
    o.entropy = 1;
    o.granularity = BT_GRAN_EXAMPLE;
    o.token_norm = o.layer_norm = o.global_norm = 1;
    o.plan = bt_plan_options_default();
    o.label = "importance";
    return o;
}

void bt_sweep_result_free(bt_sweep_result *r) {
    free(r->importance_raw), free(r->importance), free(r->ranks), free(r->entropy_raw), free(r->entropy);
    memset(r, 0, sizeof *r);
}

/* Work buffers of one rank, sized from the plan once. */
typedef struct {
    sweep_inputs in;
    double *partial;   /* [my batches, K] */
    double *batch_g;   /* [my batches, L*H] mean gate gradient of each batch (HF accumulation) */
    sweep_record *rec; /* [my examples] predictions for the metrics */
} pass_buffers;

static void buffers_free(pass_buffers *b) {
    sweep_inputs_free(&b->in);
    free(b->partial), free(b->batch_g), free(b->rec);
}

static int check_options(const bt_model *m, const bt_dataset *d, const bt_sweep_options *o, bt_error *err) {
    if (o->hf_compat && o->granularity != BT_GRAN_BATCH)
        return bt_error_set(err, BT_EINPUT, "--hf-compat reproduces HF's per-batch gradient: it needs --granularity batch");
    if (o->granularity == BT_GRAN_BATCH && o->plan.mode != BT_PLAN_BY_SIZE)
        return bt_error_set(err, BT_EINPUT, "--granularity batch needs --batch-size (batches in data order)");
    const int lm = m->cfg.head == BT_HEAD_LM;
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

int bt_sweep_pass(MPI_Comm comm, const bt_model *m, const bt_dataset *d, const bt_sweep_options *o,
                  bt_sweep_sink sink, void *sink_ctx, bt_sweep_result *res, bt_error *err) {
    memset(res, 0, sizeof *res);
    const bt_config *c = &m->cfg;
    const int L = c->n_layers, H = c->n_heads, LH = L * H, C = c->n_labels;
    const int K = P_BLOCKS * LH + P_SCALARS;
    const double t0 = MPI_Wtime();

    sweep_share sh = {0};
    bt_engine *e = NULL;
    pass_buffers buf = {0};
    bt_error local = {0};
    const int backward = o->importance;
    const int sequence_head = c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS;
    /* a language model's next-token loss needs no labels */
    const int labelled = d->labels || d->targets || c->head == BT_HEAD_LM;
    int rc = check_options(m, d, o, &local);
    if (!rc) rc = sweep_share_build(comm, d, &o->plan, &sh, &local);
    if (!rc) {
        bt_engine_limits lim = sweep_share_limits(&sh);
        lim.backward = backward;
        lim.attentions = o->keep_attentions;
        lim.hidden = o->keep_hidden;
        rc = bt_engine_create(c, &m->params, &lim, &e, &local);
        if (!rc) rc = sweep_inputs_alloc(&buf.in, &lim, &local);
        buf.partial = calloc((size_t)(sh.my_batches ? sh.my_batches : 1) * K, sizeof(double));
        buf.batch_g = calloc((size_t)(sh.my_batches ? sh.my_batches : 1) * LH, sizeof(double));
        buf.rec = calloc((size_t)(sh.my_examples ? sh.my_examples : 1), sizeof(sweep_record));
        if (!rc && (!buf.partial || !buf.batch_g || !buf.rec))
            rc = bt_error_set(&local, BT_EINTERNAL, "out of memory for %d batches", sh.my_batches);
    }
    rc = bt_dist_agree(comm, rc, &local, err);
    if (rc) goto out;
    const bt_plan *plan = &sh.plan;
    const int rank = sh.rank;

    bt_dist_progress prog;
    bt_dist_progress_begin(&prog, comm, plan, &sh.asg, o->label ? o->label : "pass", rank == 0 ? o->progress : NULL, 0);
    int rec_i = 0;
    for (int slot = 0; slot < sh.max_batches; slot++) {
        bt_sweep_batch out = {0};
        if (slot < sh.my_batches && !rc) {
            const int b = sh.mine[slot];
            const bt_plan_batch *pb = &plan->batches[b];
            const int *ex = bt_plan_batch_examples(plan, b);
            const bt_batch batch = sweep_inputs_pack(&buf.in, d, plan, b);
            rc = bt_engine_forward(e, &batch, o->head_mask, o->entropy ? BT_FWD_ENTROPY : 0, &local);
            if (!rc && backward) rc = bt_engine_backward(e, &local);
            if (rc) {
                bt_error_prefix(&local, "batch %d", b);
            } else {
                double *p = buf.partial + (size_t)slot * K, *g = buf.batch_g + (size_t)slot * LH;
                const double *gg = backward ? bt_engine_gate_grad(e) : NULL, *gt = bt_engine_gate_grad_tok(e);
                const double *en = bt_engine_entropy(e), *loss = labelled ? bt_engine_loss(e) : NULL;
                const float *logits = sequence_head ? bt_engine_logits(e) : NULL;
                for (int k = 0; k < pb->n_seqs; k++) {
                    for (int j = 0; j < LH && gg; j++) {
                        const double v = gg[(size_t)k * LH + j];
                        p[P_EX * LH + j] += fabs(v);
                        p[P_TOK * LH + j] += gt[(size_t)k * LH + j];
                        g[j] += v;
                    }
                    for (int j = 0; j < LH && o->entropy; j++) p[P_ENT * LH + j] += en[(size_t)k * LH + j];
                    p[P_BLOCKS * LH + 0] += buf.in.lens[k];
                    p[P_BLOCKS * LH + 1] += 1;
                    if (loss) p[P_BLOCKS * LH + 2] += loss[k];
                    if (logits) sweep_record_set(&buf.rec[rec_i], logits + (size_t)k * C, C,
                                                 d->labels ? buf.in.labels[k] : -1, d->targets ? buf.in.targets[k] : NAN);
                    rec_i++;
                }
                /* HF's loss is the batch mean, so its gradient is the mean of the examples' */
                for (int j = 0; j < LH && gg; j++) {
                    g[j] /= pb->n_seqs;
                    p[P_BATCH * LH + j] = fabs(g[j]);
                }
                out = (bt_sweep_batch){.n = pb->n_seqs, .examples = ex, .logits = logits, .loss = loss,
                                       .gate_grad = gg, .entropy = o->entropy ? en : NULL, .engine = e};
            }
            bt_dist_progress_batch(&prog, plan, b);
        }
        /* padding calls keep collective sinks in step on every rank */
        if (sink) {
            const int src = sink(sink_ctx, &out, rc ? NULL : &local);
            if (!rc && src) rc = src;
        }
    }
    bt_dist_progress_finish(&prog, comm);
    rc = bt_dist_agree(comm, rc, &local, err);
    if (rc) goto out;

    /* reductions in global batch order */
    double *sum = calloc(K, sizeof(double));
    res->n_layers = L;
    res->n_heads = H;
    res->importance_raw = calloc(LH, sizeof(double));
    res->importance = calloc(LH, sizeof(float));
    res->ranks = calloc(LH, sizeof(int));
    res->entropy_raw = calloc(LH, sizeof(double));
    res->entropy = calloc(LH, sizeof(float));
    rc = bt_dist_reduce_ordered(comm, &sh.asg, buf.partial, K, sum, err);
    if (!rc && o->hf_compat && backward) {
        double *all = rank == 0 ? malloc(sizeof(double) * (size_t)(plan->n_batches ? plan->n_batches : 1) * LH) : NULL;
        rc = bt_dist_gather_batches(comm, &sh.asg, buf.batch_g, LH, all, 0, err);
        if (!rc && rank == 0) {
            /* HF never zeroes head_mask.grad: after batch k it holds sum_{j<=k} G_j, and adds its
             * absolute value to the importance every batch. */
            double *run = calloc(LH, sizeof(double));
            for (int j = 0; j < LH; j++) sum[P_BATCH * LH + j] = 0.0;
            for (int b = 0; b < plan->n_batches; b++)
                for (int j = 0; j < LH; j++) {
                    run[j] += all[(size_t)b * LH + j];
                    sum[P_BATCH * LH + j] += fabs(run[j]);
                }
            free(run);
        }
        free(all);
        MPI_Bcast(sum + P_BATCH * LH, LH, MPI_DOUBLE, 0, comm);
    }
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
        rc = sweep_score(comm, plan, &sh.asg, buf.rec, o->metrics, c, res, err);
        if (c->head == BT_HEAD_LM && res->n_examples > 0)
            res->score = sweep_lm_score(res->loss_sum / (double)res->n_examples, o->lm_perplexity);
    }
    free(sum);
    int64_t rss = bt_dist_peak_rss(), max_rss = 0;
    double secs = MPI_Wtime() - t0, max_secs = 0;
    MPI_Allreduce(&rss, &max_rss, 1, MPI_INT64_T, MPI_MAX, comm);
    MPI_Allreduce(&secs, &max_secs, 1, MPI_DOUBLE, MPI_MAX, comm);
    res->peak_rss = max_rss;
    res->n_batches = sh.plan.n_batches;
    res->seconds = max_secs;
out:
    if (rc) bt_sweep_result_free(res);
    bt_engine_free(e);
    buffers_free(&buf);
    sweep_share_free(&sh);
    return rc;
}
