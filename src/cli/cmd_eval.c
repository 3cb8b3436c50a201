/* bertology eval: score a model, optionally head-masked, on a GLUE split (forward only). With
 * --out DIR: DIR/run.h5 (per-example logits and attention entropy, metrics; no importance) and
 * DIR/predictions.tsv (index, predicted label, gold label), as HF's run_glue writes them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/dist.h"
#include "commands.h"
#include "report.h"
#include "run_opts.h"

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
    const int bad = ferror(f) | (fclose(f) != 0);
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return bt_error_set(err, BT_EINTERNAL, "%s: write failed", path);
    }
    return BT_OK;
}

int bt_cmd_eval(int argc, char **argv) {
    bt_error err = {0};
    int rank, n_ranks;
    MPI_Comm comm = MPI_COMM_WORLD;
    bt_run_options o;
    bt_run x;
    int rc = run_begin(&argc, &argv, BT_CMD_EVAL, "eval", &o, &rank, &n_ranks);
    if (rc) return rc < 0 ? 0 : rc;
    bt_sweep_result res = {0};
    float *logits = NULL, *all = NULL;
    rc = run_open(comm, &o, &x);
    if (!rc && o.out) rc = run_file_open(&x, 0);
    if (rc) goto done;
    const bt_config *c = &x.model.cfg;
    const int C = c->n_labels > 0 ? c->n_labels : 1, n = x.data.n;
    logits = calloc((size_t)(n ? n : 1) * C, sizeof(float));
    all = rank == 0 ? calloc((size_t)(n ? n : 1) * C, sizeof(float)) : NULL;
    bt_error local = {0};
    rc = bt_dist_agree(comm, !logits || (rank == 0 && !all)
                                 ? bt_error_set(&local, BT_EINTERNAL, "out of memory for %d predictions", n) : BT_OK,
                       &local, &err);
    if (rc) {
        run_fail(rank, o.name, &err);
        goto done;
    }
    bt_sweep_logits sink = {.logits = logits, .n_classes = C, .next = o.out ? bt_run_sink : NULL, .next_ctx = &x};
    bt_sweep_options so = bt_run_sweep_options(&x);
    so.importance = 0;
    so.entropy = o.out != NULL; /* only run.h5 keeps it */
    rc = bt_sweep_pass(comm, &x.model, &x.data, &so, bt_sweep_keep_logits, &sink, &res, &err);
    if (rc) {
        run_fail(rank, o.name, &err);
        goto done;
    }
    /* every example was computed by exactly one rank: the sum of the ranks' rows is that row */
    MPI_Reduce(logits, all, n * C, MPI_FLOAT, MPI_SUM, 0, comm);
    if (o.out) {
        int lrc = bt_run_file_summary(&x, &res, &local);
        if (!lrc && rank == 0 && (c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS))
            lrc = write_predictions(o.out, &x, all, &local);
        rc = run_file_commit(&x, lrc, &local);
        if (rc) goto done;
    }
    if (rank == 0) {
        if (x.head_mask) {
            int on = 0;
            for (int i = 0; i < c->n_layers * c->n_heads; i++) on += x.head_mask[i] != 0.0f;
            printf("head mask %s: %d of %d heads on\n", o.head_mask_path, on, c->n_layers * c->n_heads);
        }
        if (res.n_metrics == 0) printf("no metrics: the split has no labels\n");
        report_summary(stdout, "eval", &res, n_ranks);
        if (o.verbose) fprintf(stderr, "eval: peak RSS %.0f MB (largest over ranks)\n", res.peak_rss / 1e6);
        fflush(stdout);
    }
done:
    free(logits), free(all);
    bt_sweep_result_free(&res);
    bt_run_close(&x);
    bt_dist_finalize();
    return rc;
}
