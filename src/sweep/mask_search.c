/* The masking search of docs/spec.md: HF's mask_heads loop (with its dead guard fixed) and
 * Michel et al.'s percent schedule. Every step is one bt_sweep_pass over the whole data set; the
 * heads to switch off are chosen on rank 0 and broadcast, so that every rank runs the next pass
 * with the same mask even if a future change made the choice depend on rank-local state. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/dist.h"
#include "bertology/sweep.h"

void bt_sweep_mask_result_free(bt_sweep_mask_result *r) {
    free(r->masks), free(r->importance), free(r->scores), free(r->heads_on);
    bt_sweep_result_free(&r->first);
    memset(r, 0, sizeof *r);
}

static int heads_on(const float *mask, int n) {
    int k = 0;
    for (int i = 0; i < n; i++) k += mask[i] != 0.0f;
    return k;
}

/* NaN ranks as the most important head: a broken score must not decide what goes first. */
static float key_of(float v) { return isnan(v) ? INFINITY : v; }

typedef struct {
    float key;
    int idx;
} ranked;

static int by_key_then_index(const void *pa, const void *pb) {
    const ranked *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

int bt_sweep_mask_candidates(const float *mask, int L, int H, int min_per_layer) {
    int n = 0;
    for (int l = 0; l < L; l++) {
        const int on = heads_on(mask + l * H, H);
        n += on > min_per_layer ? on - min_per_layer : 0;
    }
    return n;
}

int bt_sweep_mask_select(const float *importance, int L, int H, int n, int min_per_layer, float *mask) {
    const int LH = L * H;
    unsigned char keep[BT_MAX_LAYERS * BT_MAX_HEADS] = {0};
    /* protect each layer's min_per_layer most important heads still on */
    for (int l = 0; l < L; l++)
        for (int k = 0; k < min_per_layer; k++) {
            int best = -1;
            for (int h = 0; h < H; h++) {
                const int i = l * H + h;
                if (mask[i] == 0.0f || keep[i]) continue;
                if (best < 0 || key_of(importance[i]) > key_of(importance[best])) best = i;
            }
            if (best >= 0) keep[best] = 1;
        }
    ranked cand[BT_MAX_LAYERS * BT_MAX_HEADS];
    int m = 0;
    for (int i = 0; i < LH; i++)
        if (mask[i] != 0.0f && !keep[i]) cand[m++] = (ranked){key_of(importance[i]), i};
    if (m < n) return m;
    /* HF sets masked heads to +inf and sorts everything; sorting only the heads still on, with
     * the index as tie-break, picks the same heads and is deterministic */
    qsort(cand, (size_t)m, sizeof cand[0], by_key_then_index);
    for (int k = 0; k < n; k++) mask[cand[k].idx] = 0.0f;
    return n;
}

/* Michel: int(total_heads * percent / 100), in that order of operations. */
static int heads_for_percent(int LH, double p) { return (int)floor((double)LH * p / 100.0); }

int bt_sweep_mask_check(const bt_sweep_mask_options *o, int L, int H, bt_error *err) {
    const int LH = L * H, K = o->min_heads_per_layer;
    if (!(o->threshold > 0.0 && o->threshold < 1.0))
        return bt_error_set(err, BT_EINPUT, "masking threshold %g must be inside (0, 1)", o->threshold);
    if (!o->percents && !(o->amount > 0.0 && o->amount < 1.0))
        return bt_error_set(err, BT_EINPUT, "masking amount %g must be inside (0, 1)", o->amount);
    if (o->percents && o->n_percents < 1) return bt_error_set(err, BT_EINPUT, "the list of percents is empty");
    if (o->exact && !o->percents) return bt_error_set(err, BT_EINPUT, "exact re-scoring goes with a list of percents");
    if (o->exact && o->rank_scores)
        return bt_error_set(err, BT_EINPUT, "exact re-scoring and fixed head scores exclude each other");
    if (!o->pass.metrics) return bt_error_set(err, BT_EINPUT, "masking needs a metric to watch (a GLUE task)");
    if (K < 0 || K > H)
        return bt_error_set(err, BT_EINPUT, "`min_heads_per_layer` %d: a layer has %d heads", K, H);
    for (int i = 0; o->percents && i < o->n_percents; i++) {
        const double p = o->percents[i];
        if (!(p > 0.0 && p <= 100.0))
            return bt_error_set(err, BT_EINPUT, "`percents`: %g is not inside (0, 100]", p);
        if (i && !(p > o->percents[i - 1]))
            return bt_error_set(err, BT_EINPUT, "`percents`: %g follows %g; the list must increase", p,
                                o->percents[i - 1]);
        const int n = heads_for_percent(LH, p);
        if (n > LH - K * L)
            return bt_error_set(err, BT_EINPUT,
                                "`percents` %g masks %d of %d heads, but `min_heads_per_layer` %d keeps %d of them",
                                p, n, LH, K, K * L);
    }
    for (int l = 0; o->pass.head_mask && l < L; l++) {
        const int on = heads_on(o->pass.head_mask + l * H, H);
        if (on < K)
            return bt_error_set(err, BT_EINPUT, "the starting head mask leaves layer %d with %d heads, fewer than "
                                "`min_heads_per_layer` %d", l, on, K);
    }
    return BT_OK;
}

static void record(bt_sweep_mask_result *r, int step, const float *mask, const float *importance, double score) {
    const int LH = r->n_layers * r->n_heads;
    memcpy(r->masks + (size_t)step * LH, mask, sizeof(float) * LH);
    if (importance) memcpy(r->importance + (size_t)step * LH, importance, sizeof(float) * LH);
    r->scores[step] = score;
    r->heads_on[step] = heads_on(mask, LH);
    r->n_steps = step + 1;
}

/* The result's arrays for at most cap steps and the two masks; agreed. */
static int alloc_search(MPI_Comm comm, bt_sweep_mask_result *res, int cap, int LH, float **current, float **next,
                        bt_error *err) {
    bt_error local = {0};
    res->masks = bt_malloc((size_t)cap * LH, sizeof(float), "the masks of every step", &local);
    res->importance = bt_malloc((size_t)cap * LH, sizeof(float), "the importance of every step", &local);
    res->scores = bt_malloc((size_t)cap, sizeof(double), "the scores of every step", &local);
    res->heads_on = bt_malloc((size_t)cap, sizeof(int), "the heads of every step", &local);
    *current = bt_malloc((size_t)LH, sizeof(float), "a head mask", &local);
    *next = bt_malloc((size_t)LH, sizeof(float), "a head mask", &local);
    const int ok = res->masks && res->importance && res->scores && res->heads_on && *current && *next;
    if (!ok) bt_error_set(&local, BT_EINTERNAL, "out of memory for %d masking steps", cap);
    return bt_dist_agree(comm, ok ? BT_OK : BT_EINTERNAL, &local, err);
}

/* How many more heads step `step` masks, or -1 when the search stops before it (res->stop set). */
static int heads_to_mask(const bt_sweep_mask_options *o, bt_sweep_mask_result *res, const float *current, int step) {
    const int L = res->n_layers, H = res->n_heads, LH = L * H;
    if (o->percents) {
        if (step > o->n_percents) {
            res->stop = BT_MASK_STOP_SCHEDULE;
            return -1;
        }
        const int want = heads_for_percent(LH, o->percents[step - 1]) - (LH - heads_on(current, LH));
        return want > 0 ? want : 0;
    }
    if (bt_sweep_mask_candidates(current, L, H, o->min_heads_per_layer) < res->per_step) {
        res->stop = BT_MASK_STOP_HEADS;
        return -1;
    }
    return res->per_step;
}

/* Steps 1, 2, ... after the first pass, until the threshold, the heads or the schedule stop them. */
static int search_steps(MPI_Comm comm, const bt_model *m, const bt_dataset *d, const bt_sweep_mask_options *o,
                        bt_sweep_options *po, char *label, size_t label_size, float *current, float *next,
                        bt_sweep_mask_step_fn on_step, void *step_ctx, bt_sweep_mask_result *res, bt_error *err) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    const int L = res->n_layers, H = res->n_heads, LH = L * H;
    /* what picks the next heads: the first importance, later importance, or the fixed scores */
    const float *rank_by = o->rank_scores ? o->rank_scores : res->importance;
    for (int step = 1;; step++) {
        const int want = heads_to_mask(o, res, current, step);
        if (want < 0) return BT_OK;
        memcpy(next, current, sizeof(float) * LH);
        if (rank == 0) bt_sweep_mask_select(rank_by, L, H, want, o->min_heads_per_layer, next); /* checked: enough candidates */
        MPI_Bcast(next, LH, MPI_FLOAT, 0, comm);

        bt_sweep_result r;
        snprintf(label, label_size, "mask step %d", step);
        po->head_mask = next;
        po->checkpoint_pass = step; /* a resumed search finds the steps done in the checkpoint */
        /* Michel without --exact, and fixed scores, score forward only */
        po->importance = !o->rank_scores && (!o->percents || o->exact);
        const int rc = bt_sweep_pass(comm, m, d, po, NULL, NULL, &r, err);
        if (rc) return rc;
        record(res, step, next, po->importance ? r.importance : NULL, r.score);
        res->seconds += r.seconds;
        bt_sweep_result_free(&r);
        memcpy(current, next, sizeof(float) * LH);
        const double s = res->scores[step];
        const float *imp = res->importance + (size_t)step * LH;
        if (o->percents) {
            /* the answer is the most heads masked while still within the threshold */
            if (s >= res->target) res->final_step = step;
            if (o->exact) rank_by = imp;
        } else if (s >= res->target) {
            res->final_step = step;
            if (!o->rank_scores) rank_by = imp;
        } else {
            res->stop = isnan(s) ? BT_MASK_STOP_NAN : BT_MASK_STOP_THRESHOLD;
            if (on_step) on_step(step_ctx, res);
            return BT_OK;
        }
        if (on_step) on_step(step_ctx, res);
    }
}

int bt_sweep_mask(MPI_Comm comm, const bt_model *m, const bt_dataset *d, const bt_sweep_mask_options *o,
                  bt_sweep_sink sink, void *sink_ctx, bt_sweep_mask_step_fn on_step, void *step_ctx,
                  bt_sweep_mask_result *res, bt_error *err) {
    memset(res, 0, sizeof *res);
    const int L = m->cfg.n_layers, H = m->cfg.n_heads, LH = L * H;
    int rc = bt_sweep_mask_check(o, L, H, err); /* same verdict on every rank: no agreement needed */
    if (rc) return rc;

    /* HF masks at least one head per step, so at most LH steps follow the first */
    const int cap = o->percents ? o->n_percents + 1 : LH + 1;
    res->n_layers = L, res->n_heads = H;
    float *current = NULL, *next = NULL;
    rc = alloc_search(comm, res, cap, LH, &current, &next, err);
    if (rc) goto fail;
    for (size_t i = 0; i < (size_t)cap * LH; i++) res->importance[i] = NAN;
    for (int i = 0; i < LH; i++) current[i] = o->pass.head_mask ? o->pass.head_mask[i] : 1.0f;

    char label[48] = "mask step 0";
    bt_sweep_options po = o->pass;
    po.importance = 1;
    po.head_mask = current;
    po.label = label;
    po.checkpoint_pass = 0;
    rc = bt_sweep_pass(comm, m, d, &po, sink, sink_ctx, &res->first, err);
    if (rc) goto fail;
    record(res, 0, current, res->first.importance, res->first.score);
    res->seconds = res->first.seconds;
    res->target = o->threshold * res->first.score;
    res->per_step = o->percents ? 0 : (int)floor((double)LH * o->amount);
    if (res->per_step < 1 && !o->percents) res->per_step = 1;
    if (isnan(res->first.score)) res->stop = BT_MASK_STOP_NAN_START;
    if (on_step) on_step(step_ctx, res);
    if (!isnan(res->first.score)) {
        po.entropy = 0;
        po.keep_attentions = po.keep_hidden = 0;
        rc = search_steps(comm, m, d, o, &po, label, sizeof label, current, next, on_step, step_ctx, res, err);
        if (rc) goto fail;
    }
    free(current), free(next);
    return BT_OK;
fail:
    free(current), free(next);
    bt_sweep_mask_result_free(res);
    return rc;
}
