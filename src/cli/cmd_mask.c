/* bertology mask: the masking search (HF's loop, or Michel's --percents schedule). Writes
 * head_mask.npy (float32 [L, H], 1 = keep), head_importance.npy and attn_entropy.npy of the first
 * pass (as HF's script), and run.h5 with the first pass's per-example rows and every step under
 * /masking. Prints the steps and the final mask (HF's print_2d_tensor layout). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/dist.h"
#include "bertology/npy.h"
#include "commands.h"
#include "report.h"
#include "run_opts.h"

#define MAX_PERCENTS 256

/* "10,20,30" -> increasing distinct values (Michel's script sorts its list too). */
static int parse_percents(const char *s, double *out, int *n, bt_error *err) {
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        const double v = strtod(p, &end);
        if (end == p || (*end && *end != ',') || !(v > 0.0 && v <= 100.0))
            return bt_error_set(err, BT_EINPUT, "--percents %s: expected a list like 10,20,30 of values in (0, 100]", s);
        if (*n == MAX_PERCENTS) return bt_error_set(err, BT_EINPUT, "--percents %s: more than %d values", s, MAX_PERCENTS);
        out[(*n)++] = v;
        p = *end ? end + 1 : end;
    }
    if (!*n) return bt_error_set(err, BT_EINPUT, "--percents is empty");
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

typedef struct {
    const char *metric;
    FILE *f; /* rank 0 progress, or NULL */
} step_log;

static void log_step(void *ctx, const bt_sweep_mask_result *r) {
    const step_log *lg = ctx;
    if (!lg->f) return;
    const int s = r->n_steps - 1, LH = r->n_layers * r->n_heads;
    fprintf(lg->f, "mask: step %d: %d of %d heads on (%.1f%% masked), %s %.6f (threshold %.6f)\n", s, r->heads_on[s], LH,
            100.0 * (LH - r->heads_on[s]) / LH, lg->metric, r->scores[s], r->target);
}

static int write_outputs(const bt_run *x, const bt_run_options *o, const bt_sweep_mask_result *r, int rank, bt_error *err) {
    const int L = r->n_layers, H = r->n_heads, LH = L * H, S = r->n_steps;
    const float *final = r->masks + (size_t)r->final_step * LH;
    double *pct = malloc(sizeof(double) * S);
    if (!pct) return bt_error_set(err, BT_EINTERNAL, "out of memory");
    for (int s = 0; s < S; s++) pct[s] = 100.0 * (LH - r->heads_on[s]) / LH;
    const int64_t sh3[3] = {S, L, H}, sh1[1] = {S}, sh2[2] = {L, H}, fin = r->final_step;
    bt_store *f = bt_run_store(x);
    int rc = bt_store_write_array(f, "/masking/mask", BT_NPY_F32, 3, sh3, r->masks, err);
    if (!rc) rc = bt_store_write_array(f, "/masking/importance", BT_NPY_F32, 3, sh3, r->importance, err);
    if (!rc) rc = bt_store_write_array(f, "/masking/score", BT_NPY_F64, 1, sh1, r->scores, err);
    if (!rc) rc = bt_store_write_array(f, "/masking/heads_remaining", BT_NPY_I32, 1, sh1, r->heads_on, err);
    if (!rc) rc = bt_store_write_array(f, "/masking/percent_masked", BT_NPY_F64, 1, sh1, pct, err);
    if (!rc) rc = bt_store_write_array(f, "/masking/final_mask", BT_NPY_F32, 2, sh2, final, err);
    if (!rc) rc = bt_store_write_array(f, "/masking/final_step", BT_NPY_I64, 0, NULL, &fin, err);
    if (!rc) rc = bt_store_write_array(f, "/masking/threshold_score", BT_NPY_F64, 0, NULL, &r->target, err);
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

static void print_outputs(const bt_sweep_mask_result *r, const bt_run_options *o, const char *metric, int n_ranks) {
    const int LH = r->n_layers * r->n_heads, last = r->n_steps - 1;
    report_table_f(stdout, "Head importance scores (first pass)", r->first.importance, r->n_layers, r->n_heads);
    printf("Masking steps (%s; original %.6f, threshold %g -> %.6f; %s)\n", metric, r->scores[0], o->threshold, r->target,
           r->per_step ? "HF loop" : o->exact ? "percents, importance re-scored" : "percents, first importance");
    printf("step\theads\tmasked %%\t%s\n", metric);
    for (int s = 0; s < r->n_steps; s++)
        printf("%d\t%d\t%.1f\t%.6f%s\n", s, r->heads_on[s], 100.0 * (LH - r->heads_on[s]) / LH, r->scores[s],
               s == r->final_step ? "\t<- final" : "");
    switch (r->stop) {
    case BT_MASK_STOP_THRESHOLD:
        printf("stopped: step %d scored %.6f < %.6f; keeping the mask of step %d\n", last, r->scores[last], r->target,
               r->final_step);
        break;
    case BT_MASK_STOP_NAN:
        printf("stopped: step %d scored NaN (constant predictions?), counted as below the threshold; keeping the mask "
               "of step %d\n", last, r->final_step);
        break;
    case BT_MASK_STOP_HEADS:
        printf("stopped: fewer than %d heads %s; keeping the mask of step %d\n", r->per_step,
               o->min_heads_per_layer ? "can still be masked (--min-heads-per-layer)" : "remain on", r->final_step);
        break;
    case BT_MASK_STOP_SCHEDULE:
        printf("schedule done: the mask of step %d masks the most heads within the threshold\n", r->final_step);
        break;
    case BT_MASK_STOP_NAN_START:
        printf("the starting mask scores NaN (constant predictions?): every step would count as below the threshold; "
               "nothing masked\n");
        break;
    }
    printf("Final head mask\n");
    report_table_f(stdout, NULL, r->masks + (size_t)r->final_step * LH, r->n_layers, r->n_heads);
    printf("mask: %d passes, %.2f s, %d rank%s\n", r->n_steps, r->seconds, n_ranks, n_ranks == 1 ? "" : "s");
}

int bt_cmd_mask(int argc, char **argv) {
    bt_error err = {0};
    int rank, n_ranks;
    MPI_Comm comm = MPI_COMM_WORLD;
    bt_run_options o;
    bt_run x = {0};
    int rc = run_begin(&argc, &argv, BT_CMD_MASK, "mask", &o, &rank, &n_ranks);
    if (rc) return rc < 0 ? 0 : rc;
    bt_sweep_mask_result mr = {0};
    double percents[MAX_PERCENTS];
    int n_percents = 0;
    bt_metric_id metric = 0;
    /* option checks that need no model: same verdict on every rank */
    if (o.percents) rc = parse_percents(o.percents, percents, &n_percents, &err);
    /* language models (--text): 1/loss as the Python GPT-2 script, or 1/perplexity */
    const int lm_metric = o.metric && (!strcmp(o.metric, "inv_loss") || !strcmp(o.metric, "inv_perplexity"));
    if (!rc && o.metric && o.text && !lm_metric)
        rc = bt_error_set(&err, BT_EINPUT, "--metric %s: a language model (--text) is scored by inv_loss or inv_perplexity",
                          o.metric);
    else if (!rc && o.metric && !o.text) rc = bt_metric_find(o.metric, &metric, &err);
    if (rc) {
        run_fail(rank, o.name, &err);
        goto done;
    }
    rc = run_open(comm, &o, &x);
    if (rc) goto done;
    const bt_config *c = &x.model.cfg;
    /* a language model (--text) is scored by 1/loss, as the Python GPT-2 script: no GLUE metric */
    bt_metric_set ms = x.task ? x.task->metrics : (bt_metric_set){0};
    if (o.metric && x.task) {
        if (bt_metric_is_regression(metric) != (c->head == BT_HEAD_REGRESS))
            rc = bt_error_set(&err, BT_EINPUT, "--metric %s: %s needs %s predictions", o.metric, o.metric,
                              bt_metric_is_regression(metric) ? "real-valued (regression)" : "class");
        ms.default_metric = metric;
        int known = 0;
        for (int k = 0; k < ms.n; k++) known |= ms.ids[k] == metric;
        if (!known && ms.n < BT_METRIC_SET_MAX) ms.ids[ms.n++] = metric; /* so that run.h5 has it too */
    }
    bt_sweep_options so = bt_run_sweep_options(&x);
    so.metrics = &ms;
    so.lm_perplexity = lm_metric && !strcmp(o.metric, "inv_perplexity");
    so.entropy = 1;
    bt_sweep_mask_options mo = {.threshold = o.threshold, .amount = o.amount, .percents = o.percents ? percents : NULL,
                                .n_percents = n_percents, .exact = o.exact,
                                .min_heads_per_layer = o.min_heads_per_layer, .pass = so};
    if (!rc) rc = bt_sweep_mask_check(&mo, c->n_layers, c->n_heads, &err);
    if (rc) { /* before run.h5 exists: a bad option leaves no file behind */
        run_fail(rank, o.name, &err);
        goto done;
    }
    rc = run_file_open(&x, 1);
    if (rc) goto done;
    const char *mname = x.task ? bt_metric_name(ms.default_metric) : so.lm_perplexity ? "inv_perplexity" : "inv_loss";
    step_log lg = {.metric = mname, .f = rank == 0 && !o.quiet ? stderr : NULL};
    rc = bt_sweep_mask(comm, &x.model, &x.data, &mo, bt_run_sink, &x, log_step, &lg, &mr, &err);
    if (rc) {
        run_fail(rank, o.name, &err);
        goto done;
    }
    bt_error local = {0};
    int lrc = bt_run_file_summary(&x, &mr.first, &local);
    if (!lrc) lrc = write_outputs(&x, &o, &mr, rank, &local);
    rc = run_file_commit(&x, lrc, &local);
    if (rc) goto done;
    if (rank == 0) {
        print_outputs(&mr, &o, mname, n_ranks);
        fflush(stdout);
    }
done:
    bt_sweep_mask_result_free(&mr);
    bt_run_close(&x);
    bt_dist_finalize();
    return rc;
}
