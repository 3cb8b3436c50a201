/* bt_syntax_pass (bertology/syntax.h): forward only over this rank's batches of the global plan,
 * each sentence's attention maps turned into arc counts as soon as the batch is done, so memory
 * is one batch's attention plus the [R, L, H, 2] counters, whatever the number of sentences.
 * Integer counts make the reduction exact: one MPI_Allreduce, the same result for any number of
 * ranks and any batch order. */
#include <stdlib.h>
#include <string.h>

#include "bertology/dist.h"
#include "bertology/syntax.h"
#include "batches.h"

void bt_syntax_result_free(bt_syntax_result *r) {
    free(r->correct), free(r->arcs), free(r->base), free(r->entropy_raw);
    memset(r, 0, sizeof *r);
}

/* Per-rank scratch: one sequence's attention for one layer, word maps, predictions. */
typedef struct {
    float *attn;    /* [H, T, T] */
    double *colsum; /* [T, m] */
    double *W;      /* [m, m] */
    int *pred;      /* [n] */
} scratch;

static int scratch_alloc(scratch *s, int H, int T, int extra_words, bt_error *err) {
    const size_t m = (size_t)T + (size_t)extra_words; /* a word has at least one piece */
    s->attn = malloc(sizeof(float) * (size_t)H * T * T);
    s->colsum = malloc(sizeof(double) * (size_t)T * m);
    s->W = malloc(sizeof(double) * m * m);
    s->pred = malloc(sizeof(int) * (size_t)T);
    if (s->attn && s->colsum && s->W && s->pred) return BT_OK;
    return bt_error_set(err, BT_EINTERNAL, "out of memory for attention maps of %d tokens", T);
}

static void scratch_free(scratch *s) {
    free(s->attn), free(s->colsum), free(s->W), free(s->pred);
    memset(s, 0, sizeof *s);
}

/* The words of example i as a sentence of the statistic. */
static bt_syntax_sentence sentence_of(const bt_syntax_words *w, const bt_dataset *d, int i) {
    const int64_t w0 = w->word_off[i];
    return (bt_syntax_sentence){.n_words = (int)(w->word_off[i + 1] - w0), .n_tokens = d->len[i],
                                .n_prefix = w->n_prefix, .n_suffix = w->n_suffix, .first = w->first + w0,
                                .count = w->count + w0, .head = w->head + w0, .rel = w->rel + w0};
}

static int check_words(const bt_syntax_words *w, const bt_dataset *d, bt_error *err) {
    for (int i = 0; i < d->n; i++) {
        const bt_syntax_sentence s = sentence_of(w, d, i);
        int next = s.n_prefix;
        for (int k = 0; k < s.n_words; k++) {
            if (s.first[k] != next || s.count[k] < 1)
                return bt_error_set(err, BT_EINTERNAL, "example %d: word %d's pieces do not follow the previous word's", i, k + 1);
            if (s.head[k] < 0 || s.head[k] > s.n_words || s.rel[k] < 0 || s.rel[k] >= w->n_relations)
                return bt_error_set(err, BT_EINTERNAL, "example %d: word %d has head %d / relation %d out of range", i,
                                    k + 1, s.head[k], s.rel[k]);
            next += s.count[k];
        }
        if (next + s.n_suffix != s.n_tokens)
            return bt_error_set(err, BT_EINTERNAL, "example %d: words cover %d of %d tokens", i, next + s.n_suffix,
                                s.n_tokens);
    }
    return BT_OK;
}

/* Counts of every sequence of the batch just computed. */
static int count_batch(const bt_engine *e, const bt_dataset *d, const bt_syntax_words *w, const int *ex, int n_seqs,
                       int R, int L, int H, scratch *sc, int64_t *correct, int64_t *arcs, int64_t *base, bt_error *err) {
    for (int k = 0; k < n_seqs; k++) {
        const bt_syntax_sentence s = sentence_of(w, d, ex[k]);
        const size_t TT = (size_t)s.n_tokens * s.n_tokens;
        bt_syntax_count_arcs(&s, R, arcs, base);
        for (int l = 0; l < L; l++) {
            int rc = bt_engine_copy_attention(e, k, l, sc->attn, err);
            if (rc) return rc;
            for (int h = 0; h < H; h++) {
                bt_syntax_word_attention(sc->attn + h * TT, &s, sc->colsum, sc->W);
                for (int dir = 0; dir < 2; dir++) {
                    bt_syntax_predict(sc->W, &s, dir, sc->pred);
                    bt_syntax_count(sc->pred, &s, R, correct + ((size_t)l * H + h) * 2 + dir, (ptrdiff_t)L * H * 2);
                }
            }
        }
    }
    return BT_OK;
}

int bt_syntax_pass(MPI_Comm comm, const bt_model *m, const bt_dataset *d, const bt_syntax_words *w,
                   const bt_syntax_options *o, bt_sweep_sink sink, void *sink_ctx, bt_syntax_result *res,
                   bt_error *err) {
    memset(res, 0, sizeof *res);
    const bt_config *c = &m->cfg;
    const int L = c->n_layers, H = c->n_heads, R = w->n_relations + 1;
    const size_t n_corr = (size_t)R * L * H * 2, K = n_corr + (size_t)R * (1 + BT_SYNTAX_N_OFFSETS) + 2;
    const double t0 = MPI_Wtime();
    sweep_share sh = {0};
    bt_engine *e = NULL;
    sweep_inputs in = {0};
    scratch sc = {0};
    bt_error local = {0};
    /* one buffer: correct, arcs, baselines, n_examples, n_tokens (reduced at once) */
    int64_t *cnt = calloc(K, sizeof *cnt), *sum = calloc(K, sizeof *sum);
    double *ent = NULL; /* [my batches, L*H] entropy sums, reduced in batch order */
    res->entropy_raw = malloc(sizeof(double) * L * H);
    int rc = cnt && sum && res->entropy_raw ? BT_OK : bt_error_set(&local, BT_EINTERNAL, "out of memory for %zu counters", K);
    if (!rc) rc = check_words(w, d, &local);
    if (!rc) rc = sweep_share_build(comm, d, &o->plan, &sh, &local);
    if (!rc) {
        bt_engine_limits lim = sweep_share_limits(&sh);
        lim.attentions = 1;
        lim.hidden = o->keep_hidden;
        rc = bt_engine_create(c, &m->params, &lim, &e, &local);
        if (!rc) bt_engine_set_stop(e, o->stop);
        if (!rc) rc = sweep_inputs_alloc(&in, &lim, &local);
        if (!rc) rc = scratch_alloc(&sc, H, lim.max_len, w->n_prefix + w->n_suffix, &local);
        ent = calloc((size_t)(sh.my_batches ? sh.my_batches : 1) * L * H, sizeof *ent);
        if (!rc && !ent) rc = bt_error_set(&local, BT_EINTERNAL, "out of memory for %d batches", sh.my_batches);
    }
    rc = bt_dist_agree(comm, rc, &local, err);
    if (rc) goto out;

    int64_t *correct = cnt, *arcs = cnt + n_corr, *base = arcs + R, *totals = base + (size_t)R * BT_SYNTAX_N_OFFSETS;
    bt_dist_progress prog;
    bt_dist_progress_begin(&prog, comm, &sh.plan, &sh.asg, o->label ? o->label : "syntax",
                           sh.rank == 0 ? o->progress : NULL, 0);
    /* a stop request is agreed one slot late, as in the sweep driver: posted before a batch,
     * completed before the next, so that every rank leaves at the same slot */
    int stop_mine = 0, stop_all = 0;
    MPI_Request stop_req = MPI_REQUEST_NULL;
    for (int slot = 0; slot < sh.max_batches; slot++) {
        bt_sweep_batch out = {0};
        if (o->stop) {
            if (slot > 0) MPI_Wait(&stop_req, MPI_STATUS_IGNORE);
            if (stop_all) break;
            stop_mine = *o->stop != 0;
            MPI_Iallreduce(&stop_mine, &stop_all, 1, MPI_INT, MPI_MAX, comm, &stop_req);
        }
        if (slot < sh.my_batches && !rc && !stop_mine) {
            const int b = sh.mine[slot];
            const bt_plan_batch *pb = &sh.plan.batches[b];
            const int *ex = bt_plan_batch_examples(&sh.plan, b);
            const bt_batch batch = sweep_inputs_pack(&in, d, &sh.plan, b);
            rc = bt_engine_forward(e, &batch, o->head_mask, BT_FWD_ENTROPY, &local);
            const int abandoned = rc == BT_EINTERRUPTED; /* for a stop: agreed next slot */
            if (abandoned) rc = BT_OK;
            if (!rc && !abandoned) rc = count_batch(e, d, w, ex, pb->n_seqs, R, L, H, &sc, correct, arcs, base, &local);
            if (rc) bt_error_prefix(&local, "batch %d", b);
            else if (!abandoned) {
                totals[0] += pb->n_seqs;
                totals[1] += pb->n_tokens;
                const double *en = bt_engine_entropy(e);
                for (int k = 0; k < pb->n_seqs; k++)
                    for (int j = 0; j < L * H; j++) ent[(size_t)slot * L * H + j] += en[(size_t)k * L * H + j];
                out = (bt_sweep_batch){.n = pb->n_seqs, .examples = ex, .entropy = bt_engine_entropy(e), .engine = e};
            }
            if (!abandoned) bt_dist_progress_batch(&prog, &sh.plan, b);
        }
        if (sink) { /* padding calls keep collective sinks in step */
            const int src = sink(sink_ctx, &out, rc ? NULL : &local);
            if (!rc && src) rc = src;
        }
    }
    if (stop_req != MPI_REQUEST_NULL) MPI_Wait(&stop_req, MPI_STATUS_IGNORE);
    if (o->stop) { /* asked during the last slot, whose batch may have been abandoned */
        stop_mine = stop_all || *o->stop;
        MPI_Allreduce(&stop_mine, &stop_all, 1, MPI_INT, MPI_MAX, comm);
    }
    prog.stopped = stop_all;
    bt_dist_progress_finish(&prog, comm);
    rc = bt_dist_agree(comm, rc, &local, err); /* a failure wins over a stop */
    if (!rc && stop_all)
        rc = bt_error_set(err, BT_EINTERRUPTED, "interrupted: syntax saves no partial work yet; the same command "
                          "starts over");
    if (rc) goto out;
    MPI_Allreduce(cnt, sum, (int)K, MPI_INT64_T, MPI_SUM, comm);

    res->R = R, res->L = L, res->H = H;
    rc = bt_dist_reduce_ordered(comm, &sh.asg, ent, L * H, res->entropy_raw, err);
    if (rc) goto out;
    res->correct = malloc(sizeof(int64_t) * n_corr);
    res->arcs = malloc(sizeof(int64_t) * R);
    res->base = malloc(sizeof(int64_t) * (size_t)R * BT_SYNTAX_N_OFFSETS);
    if (!res->correct || !res->arcs || !res->base) {
        rc = bt_error_set(err, BT_EINTERNAL, "out of memory for the results");
        goto out;
    }
    memcpy(res->correct, sum, sizeof(int64_t) * n_corr);
    memcpy(res->arcs, sum + n_corr, sizeof(int64_t) * R);
    memcpy(res->base, sum + n_corr + R, sizeof(int64_t) * (size_t)R * BT_SYNTAX_N_OFFSETS);
    res->n_examples = sum[K - 2];
    res->n_tokens = sum[K - 1];
    res->n_batches = sh.plan.n_batches;
    int64_t rss = bt_dist_peak_rss();
    double secs = MPI_Wtime() - t0;
    MPI_Allreduce(&rss, &res->peak_rss, 1, MPI_INT64_T, MPI_MAX, comm);
    MPI_Allreduce(&secs, &res->seconds, 1, MPI_DOUBLE, MPI_MAX, comm);
out:
    if (rc) bt_syntax_result_free(res);
    free(cnt), free(sum), free(ent);
    scratch_free(&sc);
    sweep_inputs_free(&in);
    bt_engine_free(e);
    sweep_share_free(&sh);
    return rc;
}
