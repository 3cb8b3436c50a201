/* The eval experiment of a run (forward only), everything but the printing: with --out, run.h5
 * (per-example logits and entropy, metrics; no importance) and predictions.tsv (index, predicted
 * label, gold label) as HF's run_glue writes them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/dist.h"
#include "bertology/run.h"

static int argmax(const float *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

/* Rank 0: one line per example in data order. */
static int write_predictions(const char *dir, const bt_run *x, const float *logits, bt_error *err) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/predictions.tsv", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return bt_error_set(err, BT_EINPUT, "%s: cannot write", tmp);
    const bt_glue_task *t = x->task;
    const bt_dataset *d = &x->data;
    const int C = x->model.cfg.n_labels, labelled = d->labels || d->targets;
    fprintf(f, "index\tprediction%s\n", labelled ? "\tlabel" : "");
    for (int i = 0; i < d->n; i++) {
        const float *z = logits + (size_t)i * C;
        if (t->is_regression) {
            fprintf(f, "%d\t%.6f", i, z[0]);
            if (d->targets) fprintf(f, "\t%.6f", d->targets[i]);
        } else {
            fprintf(f, "%d\t%s", i, t->labels[argmax(z, C)]);
            if (d->labels) fprintf(f, "\t%s", t->labels[d->labels[i]]);
        }
        fputc('\n', f);
    }
    const int bad = ferror(f) | (fclose(f) != 0), e = errno; /* the failed write's or close's */
    if (bad || rename(tmp, path) != 0) {
        const int why = bad ? e : errno;
        remove(tmp);
        return bt_error_set(err, BT_EINTERNAL, "%s: write failed: %s", path, strerror(why));
    }
    return BT_OK;
}

/* The pass, keeping every logit this rank computes (and the rows of run.h5 with --out). all:
 * [n, C] on rank 0, the logits of every example. Collective. */
static int eval_pass(bt_run *x, float *mine, float *all, bt_sweep_result *res, bt_error *err) {
    const bt_run_options *o = x->o;
    const int C = x->model.cfg.n_labels > 0 ? x->model.cfg.n_labels : 1, n = x->data.n;
    bt_sweep_options so = bt_run_sweep_options(x);
    so.importance = 0;
    so.entropy = o->out != NULL; /* only run.h5 keeps it */
    so.logits_out = mine;        /* in the pass, so that a resumed run has the logits of restored batches */
    int rc = bt_sweep_pass(x->comm, &x->model, &x->data, &so, o->out ? bt_run_sink : NULL, x, res, err);
    if (rc) return rc;
    /* every example was computed by exactly one rank: the sum of the ranks' rows is that row */
    MPI_Reduce(mine, all, n * C, MPI_FLOAT, MPI_SUM, 0, x->comm);
    return BT_OK;
}

int bt_run_eval(bt_run *x, bt_sweep_result *res, bt_error *err) {
    const bt_run_options *o = x->o;
    const bt_config *c = &x->model.cfg;
    const int C = c->n_labels > 0 ? c->n_labels : 1, n = x->data.n;
    int rc = o->out ? bt_run_file_open(x, 0, err) : BT_OK;
    if (rc) return rc;
    bt_error local = {0};
    float *mine = bt_calloc((size_t)n * C, sizeof(float), "the predictions", &local);
    float *all = x->rank == 0 ? bt_calloc((size_t)n * C, sizeof(float), "the predictions", &local) : NULL;
    rc = bt_dist_agree(x->comm, !mine || (x->rank == 0 && !all) ? BT_EINTERNAL : BT_OK, &local, err);
    if (!rc) rc = eval_pass(x, mine, all, res, err);
    if (!rc && o->out) {
        int lrc = bt_run_file_summary(x, res, &local);
        /* a treebank (--task ud) has no task labels to name the predictions with */
        if (!lrc && x->rank == 0 && x->task && (c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS))
            lrc = write_predictions(o->out, x, all, &local);
        rc = bt_run_file_commit(x, lrc, &local, err);
    }
    free(mine), free(all);
    return rc;
}
