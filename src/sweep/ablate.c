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

#include "bertology/dist.h"
#include "bertology/sweep.h"
#include "batches.h"
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

typedef struct {
    sweep_inputs in;
    float *gates;
    double *partial;   /* [my batches, LH + 2]: entropy, tokens, examples of the base forward */
    sweep_record *rec; /* [configurations, my examples] */
} ablate_buffers;

static void buffers_free(ablate_buffers *b) {
    sweep_inputs_free(&b->in);
    free(b->gates), free(b->partial), free(b->rec);
}

int bt_sweep_ablate(MPI_Comm comm, const bt_model *m, const bt_dataset *d, const bt_sweep_options *o,
                    bt_sweep_sink sink, void *sink_ctx, bt_sweep_ablation *res, bt_error *err) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    memset(res, 0, sizeof *res);
    const bt_config *c = &m->cfg;
    const int L = c->n_layers, H = c->n_heads, LH = L * H, C = c->n_labels, D = c->d_model;
    /* a language model is scored by 1/mean loss: its per-configuration loss sums join the
     * partial sums (classifiers keep predictions per configuration instead) */
    const int lm = c->head == BT_HEAD_LM;
    const int n_cfg = 1 + 2 * LH, K = LH + 2 + (lm ? n_cfg : 0);
    const double t0 = MPI_Wtime();

    sweep_share sh = {0};
    bt_engine *e = NULL;
    ablate_buffers buf = {0};
    bt_error local = {0};
    int rc = BT_OK;
    if (c->head != BT_HEAD_CLASSIFY && c->head != BT_HEAD_REGRESS && !lm)
        rc = bt_error_set(&local, BT_EINPUT, "%s: ablation scores a classifier or regressor, %s has no such head", m->dir,
                          m->arch_name[0] ? m->arch_name : m->model_type);
    else if (!lm && !d->labels && !d->targets)
        rc = bt_error_set(&local, BT_EINPUT, "ablation needs labelled data (the split has no labels)");
    else if (!lm && !o->metrics)
        rc = bt_error_set(&local, BT_EINPUT, "ablation needs a metric (a GLUE task)");
    if (!rc) rc = sweep_share_build(comm, d, &o->plan, &sh, &local);
    const int my_batches = sh.my_batches, max_batches = sh.max_batches, my_examples = sh.my_examples;
    if (!rc) {
        bt_engine_limits lim = sweep_share_limits(&sh);
        lim.hidden = 1; /* every layer's input is cached for the configurations */
        rc = bt_engine_create(c, &m->params, &lim, &e, &local);
        res->cache_bytes = (size_t)(L + 1) * lim.max_tokens * D * sizeof(float);
        if (!rc) rc = sweep_inputs_alloc(&buf.in, &lim, &local);
        buf.gates = malloc((size_t)LH * sizeof(float));
        buf.partial = calloc((size_t)(my_batches ? my_batches : 1) * K, sizeof(double));
        buf.rec = calloc((size_t)n_cfg * (my_examples ? my_examples : 1), sizeof(sweep_record));
        if (!rc && (!buf.gates || !buf.partial || !buf.rec))
            rc = bt_error_set(&local, BT_EINTERNAL, "out of memory for the predictions of %d configurations x %d examples",
                              n_cfg, my_examples);
    }
    rc = bt_dist_agree(comm, rc, &local, err);
    if (rc) goto out;

    float *base = malloc(sizeof(float) * LH);
    for (int i = 0; i < LH; i++) base[i] = o->head_mask ? o->head_mask[i] : 1.0f;
    int64_t forwards = 0;
    double t_base = 0.0, t_all = 0.0;
    bt_dist_progress prog;
    const bt_plan *plan = &sh.plan;
    bt_dist_progress_begin(&prog, comm, plan, &sh.asg, o->label ? o->label : "ablate", rank == 0 ? o->progress : NULL, 0);
    const int *mine = sh.mine;
    const int stride = my_examples; /* records of configuration k start at rec + k * stride */
    int rec_i = 0;
    for (int slot = 0; slot < max_batches; slot++) {
        bt_sweep_batch out = {0};
        const int b = slot < my_batches ? mine[slot] : -1;
        const bt_plan_batch *pb = b >= 0 ? &plan->batches[b] : NULL;
        const int *ex = b >= 0 ? bt_plan_batch_examples(plan, b) : NULL;
        bt_batch batch = {0};
        const double tb = MPI_Wtime();
        if (pb && !rc) {
            batch = sweep_inputs_pack(&buf.in, d, plan, b);
            rc = bt_engine_forward(e, &batch, base, o->entropy ? BT_FWD_ENTROPY : 0, &local);
            if (rc) {
                bt_error_prefix(&local, "batch %d", b);
            } else {
                forwards += L;
                const float *logits = bt_engine_logits(e);
                const double *en = bt_engine_entropy(e);
                double *p = buf.partial + (size_t)slot * K;
                for (int k = 0; k < pb->n_seqs; k++) {
                    for (int j = 0; j < LH && o->entropy; j++) p[j] += en[(size_t)k * LH + j];
                    p[LH] += buf.in.lens[k];
                    p[LH + 1] += 1;
                    if (lm) {
                        p[LH + 2] += bt_engine_loss(e)[k];
                        continue;
                    }
                    sweep_record_set(&buf.rec[rec_i + k], logits + (size_t)k * C, C, d->labels ? buf.in.labels[k] : -1,
                                     d->targets ? buf.in.targets[k] : NAN);
                }
                out = (bt_sweep_batch){.n = pb->n_seqs, .examples = ex, .logits = logits,
                                       .entropy = o->entropy ? en : NULL, .engine = e};
            }
            t_base += MPI_Wtime() - tb;
        }
        /* the sink sees the base forward before the configurations overwrite the engine */
        if (sink) {
            const int src = sink(sink_ctx, &out, rc ? NULL : &local);
            if (!rc && src) rc = src;
        }
        if (!pb || rc) continue;
        for (int l = L - 1; l >= 0 && !rc; l--) {
            const float *x = bt_engine_hidden(e, l);
            for (int kind = 0; kind < 2 && !rc; kind++)
                for (int h = 0; h < H && !rc; h++) {
                    const int cfg = 1 + kind * LH + l * H + h;
                    config_gates(base, L, H, cfg, buf.gates);
                    rc = bt_engine_forward_from(e, &batch, buf.gates, 0, l, x, &local);
                    if (rc) {
                        bt_error_prefix(&local, "batch %d, layer %d head %d %s", b, l, h, kind ? "alone" : "masked");
                        break;
                    }
                    forwards += L - l;
                    if (lm) {
                        double *p = buf.partial + (size_t)slot * K;
                        for (int k = 0; k < pb->n_seqs; k++) p[LH + 2 + cfg] += bt_engine_loss(e)[k];
                        continue;
                    }
                    const float *logits = bt_engine_logits(e);
                    sweep_record *r = buf.rec + (size_t)cfg * stride + rec_i;
                    for (int k = 0; k < pb->n_seqs; k++)
                        sweep_record_set(&r[k], logits + (size_t)k * C, C, d->labels ? buf.in.labels[k] : -1,
                                         d->targets ? buf.in.targets[k] : NAN);
                }
        }
        rec_i += pb->n_seqs;
        t_all += MPI_Wtime() - tb;
        bt_dist_progress_batch(&prog, plan, b);
    }
    free(base);
    bt_dist_progress_finish(&prog, comm);
    rc = bt_dist_agree(comm, rc, &local, err);
    if (rc) goto out;

    /* base pass summary, as bt_sweep_pass would give it without importance */
    double *sum = calloc(K, sizeof(double));
    bt_sweep_result *bs = &res->base;
    bs->n_layers = L, bs->n_heads = H;
    bs->entropy_raw = calloc(LH, sizeof(double));
    bs->entropy = calloc(LH, sizeof(float));
    res->n_layers = L, res->n_heads = H;
    res->without = malloc(sizeof(double) * LH);
    res->delta = malloc(sizeof(double) * LH);
    res->only = malloc(sizeof(double) * LH);
    rc = bt_dist_agree(comm, sum && bs->entropy_raw && bs->entropy && res->without && res->delta && res->only
                                 ? BT_OK : bt_error_set(&local, BT_EINTERNAL, "out of memory"), &local, err);
    if (!rc) rc = bt_dist_reduce_ordered(comm, &sh.asg, buf.partial, K, sum, err);
    if (!rc) {
        memcpy(bs->entropy_raw, sum, sizeof(double) * LH);
        bs->n_tokens = (int64_t)sum[LH];
        bs->n_examples = (int64_t)sum[LH + 1];
        for (int j = 0; j < LH; j++)
            bs->entropy[j] = (float)(bs->n_tokens > 0 ? bs->entropy_raw[j] / (double)bs->n_tokens : 0.0);
    }
    for (int cfg = 0; cfg < n_cfg && !rc && lm; cfg++) {
        const double score = sum[LH + 2 + cfg] > 0 ? sweep_lm_score(sum[LH + 2 + cfg] / bs->n_examples, o->lm_perplexity)
                                                   : NAN;
        if (cfg == 0) {
            bs->loss_sum = sum[LH + 2];
            rc = sweep_score(comm, plan, &sh.asg, buf.rec, o->metrics, c, bs, err); /* loss, perplexity, ... */
            res->base_score = bs->score = score;
        } else if (cfg <= LH) {
            res->without[cfg - 1] = score, res->delta[cfg - 1] = score - res->base_score;
        } else {
            res->only[cfg - 1 - LH] = score;
        }
    }
    free(sum);
    for (int cfg = 0; cfg < n_cfg && !rc && !lm; cfg++) {
        bt_sweep_result r = {0};
        rc = sweep_score(comm, plan, &sh.asg, buf.rec + (size_t)cfg * stride, o->metrics, c, cfg ? &r : bs, err);
        if (cfg == 0) res->base_score = bs->score;
        else if (cfg <= LH) res->without[cfg - 1] = r.score, res->delta[cfg - 1] = r.score - res->base_score;
        else res->only[cfg - 1 - LH] = r.score;
    }
    int64_t sums[2] = {forwards, 0}, total[2];
    MPI_Allreduce(sums, total, 2, MPI_INT64_T, MPI_SUM, comm);
    res->layer_forwards = total[0];
    res->naive_layer_forwards = (int64_t)plan->n_batches * n_cfg * L;
    double times[2] = {t_base, t_all}, tsum[2], secs = MPI_Wtime() - t0;
    MPI_Allreduce(times, tsum, 2, MPI_DOUBLE, MPI_SUM, comm);
    MPI_Allreduce(&secs, &res->seconds, 1, MPI_DOUBLE, MPI_MAX, comm);
    res->base_forward_seconds = tsum[0];
    res->busy_seconds = tsum[1];
    int64_t rss = bt_dist_peak_rss();
    MPI_Allreduce(&rss, &bs->peak_rss, 1, MPI_INT64_T, MPI_MAX, comm);
    bs->seconds = res->seconds;
out:
    if (rc) bt_sweep_ablation_free(res);
    bt_engine_free(e);
    buffers_free(&buf);
    sweep_share_free(&sh);
    return rc;
}
