/* The masking search of a run (HF's loop, or Michel's --percents schedule), everything but the
 * printing: head_mask.npy (float32 [L, H], 1 = keep), head_importance.npy and attn_entropy.npy of
 * the first pass (as HF's script), and run.h5 with the first pass's rows and every step under
 * /masking. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/dist.h"
#include "bertology/npy.h"
#include "bertology/run.h"

/* "10,20,30" -> increasing distinct values (Michel's script sorts its list too). */
static int parse_percents(const char *s, double *out, int *n, bt_error *err) {
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        const double v = strtod(p, &end);
        if (end == p || (*end && *end != ',') || !(v > 0.0 && v <= 100.0))
            return bt_error_set(err, BT_EINPUT, "`percents` %s: expected a list like 10,20,30 of values in (0, 100]", s);
        if (*n == BT_RUN_MAX_PERCENTS) return bt_error_set(err, BT_EINPUT, "`percents` %s: more than %d values", s, BT_RUN_MAX_PERCENTS);
        out[(*n)++] = v;
        p = *end ? end + 1 : end;
    }
    if (!*n) return bt_error_set(err, BT_EINPUT, "`percents` is empty");
    for (int i = 1; i < *n; i++) /* insertion sort: a handful of values */
        for (int j = i; j > 0 && out[j] < out[j - 1]; j--) {
            const double t = out[j];
            out[j] = out[j - 1], out[j - 1] = t;
        }
    int k = 1;
    for (int i = 1; i < *n; i++)
        if (out[i] != out[k - 1]) out[k++] = out[i];
    *n = k;
    return BT_OK;
}

int bt_run_mask_prepare(const bt_run_options *o, bt_run_mask_plan *p, bt_error *err) {
    memset(p, 0, sizeof *p);
    int rc = o->percents ? parse_percents(o->percents, p->percents, &p->n_percents, err) : BT_OK;
    if (rc) return rc;
    /* language models (--text): 1/loss as the Python GPT-2 script, or 1/perplexity */
    p->lm_metric = o->metric && (!strcmp(o->metric, "inv_loss") || !strcmp(o->metric, "inv_perplexity"));
    p->lm_perplexity = p->lm_metric && !strcmp(o->metric, "inv_perplexity");
    /* --task ud, --task code: only a language model has a score on them (src/run/ud.c, code.c) */
    const int lm_data = o->text || (o->task && (!strcmp(o->task, "ud") || !strcmp(o->task, "code")));
    if (o->metric && lm_data && !p->lm_metric)
        return bt_error_set(err, BT_EINPUT, "`metric` %s: a language model (`text`, `task` ud) is scored by inv_loss or "
                            "inv_perplexity", o->metric);
    if (o->metric && !lm_data) return bt_metric_find(o->metric, &p->metric, err);
    return BT_OK;
}

/* The metrics of every pass: the task's, with --metric watched (and stored) instead of its
 * default. A language model (--text) is scored by 1/loss or 1/perplexity: no GLUE metric. */
static int mask_metrics(const bt_run *x, const bt_run_mask_plan *p, bt_metric_set *ms, bt_error *err) {
    const bt_run_options *o = x->o;
    *ms = x->task ? x->task->metrics : (bt_metric_set){0};
    if (!o->metric || !x->task) return BT_OK;
    const int regress = x->model.cfg.head == BT_HEAD_REGRESS;
    int rc = BT_OK;
    if (bt_metric_is_regression(p->metric) != regress)
        rc = bt_error_set(err, BT_EINPUT, "`metric` %s: %s needs %s predictions", o->metric, o->metric,
                          bt_metric_is_regression(p->metric) ? "real-valued (regression)" : "class");
    ms->default_metric = p->metric;
    int known = 0;
    for (int k = 0; k < ms->n; k++) known |= ms->ids[k] == p->metric;
    if (!known && ms->n < BT_METRIC_SET_MAX) ms->ids[ms->n++] = p->metric; /* so that run.h5 has it too */
    return rc;
}

/* Collective for the arrays, the .npy files on rank 0; local code. */
static int write_outputs(const bt_run *x, const bt_run_options *o, const bt_sweep_mask_result *r, int rank, bt_error *err) {
    const int L = r->n_layers, H = r->n_heads, LH = L * H, S = r->n_steps;
    const float *final = r->masks + (size_t)r->final_step * LH;
    bt_error local = {0};
    double *pct = bt_malloc((size_t)S, sizeof(double), "the masked percentages", &local);
    /* the array writes are collective: every rank learns of a failure before them */
    int rc = bt_dist_agree(x->comm, pct ? BT_OK : BT_EINTERNAL, &local, err);
    if (rc) return rc;
    for (int s = 0; s < S; s++) pct[s] = 100.0 * (LH - r->heads_on[s]) / LH;
    const int64_t sh3[3] = {S, L, H}, sh1[1] = {S}, sh2[2] = {L, H}, fin = r->final_step;
    bt_store *f = bt_run_store(x);
    rc = bt_store_write_array(f, "/masking/mask", BT_NPY_F32, 3, sh3, r->masks, err);
    if (!rc) rc = bt_store_write_array(f, "/masking/importance", BT_NPY_F32, 3, sh3, r->importance, err);
    if (!rc) rc = bt_store_write_array(f, "/masking/score", BT_NPY_F64, 1, sh1, r->scores, err);
    if (!rc) rc = bt_store_write_array(f, "/masking/heads_remaining", BT_NPY_I32, 1, sh1, r->heads_on, err);
    if (!rc) rc = bt_store_write_array(f, "/masking/percent_masked", BT_NPY_F64, 1, sh1, pct, err);
    if (!rc) rc = bt_store_write_array(f, "/masking/final_mask", BT_NPY_F32, 2, sh2, final, err);
    if (!rc) rc = bt_store_write_array(f, "/masking/final_step", BT_NPY_I64, 0, NULL, &fin, err);
    if (!rc) rc = bt_store_write_array(f, "/masking/threshold_score", BT_NPY_F64, 0, NULL, &r->target, err);
    /* what ranked the heads: the gate importance, the attribution (docs/spec.md) or a file of scores */
    const char *method[2] = {x->scores ? "scores" : o->method == BT_SWEEP_ATTATTR ? "attattr" : "gate",
                             x->scores ? o->scores_path : ""};
    if (!rc) rc = bt_store_write_strings(f, "/masking", "method", 1, method, err);
    if (!rc) rc = bt_store_write_strings(f, "/masking", "scores_file", 1, method + 1, err);
    if (!rc && x->scores) rc = bt_store_write_array(f, "/masking/rank_scores", BT_NPY_F32, 2, sh2, x->scores, err);
    free(pct);
    if (rc || rank != 0) return rc;
    char path[4096];
    snprintf(path, sizeof path, "%s/head_mask.npy", o->out);
    rc = bt_npy_write(path, BT_NPY_F32, 2, sh2, final, err);
    snprintf(path, sizeof path, "%s/head_importance.npy", o->out);
    if (!rc) rc = bt_npy_write(path, BT_NPY_F32, 2, sh2, r->first.importance, err);
    snprintf(path, sizeof path, "%s/attn_entropy.npy", o->out);
    if (!rc) rc = bt_npy_write(path, BT_NPY_F32, 2, sh2, r->first.entropy, err);
    return rc;
}

int bt_run_mask(bt_run *x, const bt_run_mask_plan *p, bt_sweep_mask_step_fn on_step, void *step_ctx,
                bt_sweep_mask_result *mr, const char **metric_name, bt_error *err) {
    const bt_run_options *o = x->o;
    const bt_config *c = &x->model.cfg;
    bt_metric_set ms;
    int rc = mask_metrics(x, p, &ms, err);
    bt_sweep_options so = bt_run_sweep_options(x);
    so.metrics = &ms;
    so.lm_perplexity = p->lm_perplexity;
    so.entropy = 1;
    bt_sweep_mask_options mo = {.threshold = o->threshold, .amount = o->amount, .percents = o->percents ? p->percents : NULL,
                                .n_percents = p->n_percents, .exact = o->exact,
                                .min_heads_per_layer = o->min_heads_per_layer, .rank_scores = x->scores, .pass = so};
    if (!rc) rc = bt_sweep_mask_check(&mo, c->n_layers, c->n_heads, err);
    if (rc) return rc; /* before run.h5 exists: a bad option leaves no file behind */
    *metric_name = x->task ? bt_metric_name(ms.default_metric) : so.lm_perplexity ? "inv_perplexity" : "inv_loss";
    rc = bt_run_file_open(x, 1, err);
    mo.pass.checkpoint = bt_run_resume_hooks(x); /* run.h5 (and its checkpoint) is open now */
    if (!rc) rc = bt_sweep_mask(x->comm, &x->model, &x->data, &mo, bt_run_sink, x, on_step, step_ctx, mr, err);
    if (rc) return rc;
    bt_error local = {0};
    int lrc = bt_run_file_summary(x, &mr->first, &local);
    if (!lrc) lrc = write_outputs(x, o, mr, x->rank, &local);
    return bt_run_file_commit(x, lrc, &local, err);
}
