/* bertology mask: the masking search (HF's loop, or Michel's --percents schedule). Writes
 * head_mask.npy (float32 [L, H], 1 = keep), head_importance.npy and attn_entropy.npy of the first
 * pass (as HF's script), and run.h5 with the first pass's per-example rows and every step under
 * /masking. Prints the steps and the final mask (HF's print_2d_tensor layout). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "report.h"
#include "run_opts.h"

typedef struct {
    FILE *f;                 /* rank 0 progress, or NULL */
    const char **metric_of; /* the watched metric's name, set by bt_run_mask */
} step_log;

static void log_step(void *ctx, const bt_sweep_mask_result *r) {
    const step_log *lg = ctx;
    if (!lg->f) return;
    const int s = r->n_steps - 1, LH = r->n_layers * r->n_heads;
    fprintf(lg->f, "mask: step %d: %d of %d heads on (%.1f%% masked), %s %.6f (threshold %.6f)\n", s, r->heads_on[s], LH,
            100.0 * (LH - r->heads_on[s]) / LH, *lg->metric_of, r->scores[s], r->target);
}

static void print_outputs(const bt_sweep_mask_result *r, const bt_run_options *o, const char *metric, int n_ranks) {
    const int LH = r->n_layers * r->n_heads, last = r->n_steps - 1;
    report_table_f(stdout, "Head importance scores (first pass)", r->first.importance, r->n_layers, r->n_heads);
    printf("Masking steps (%s; original %.6f, threshold %g -> %.6f; %s)\n", metric, r->scores[0], o->threshold, r->target,
           r->per_step ? (o->scores_path ? "HF loop, ranked by --scores" : "HF loop")
           : o->scores_path ? "percents, ranked by --scores"
           : o->exact ? "percents, importance re-scored" : "percents, first importance");
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
    bt_run_mask_plan plan;
    const char *mname = NULL;
    /* option checks that need no model: same verdict on every rank, before loading anything */
    rc = bt_run_mask_prepare(&o, &plan, &err);
    if (rc) {
        run_fail(rank, o.name, &err);
        goto done;
    }
    rc = run_open(comm, &o, &x);
    if (rc) goto done;
    /* the metric's name is known once the run is open; the first step is logged after it */
    step_log lg = {.f = rank == 0 && !o.quiet ? stderr : NULL, .metric_of = &mname};
    rc = bt_run_mask(&x, &plan, log_step, &lg, &mr, &mname, &err);
    run_notice(&x);
    if (rc) {
        run_fail(rank, o.name, &err);
        goto done;
    }
    if (rank == 0) {
        print_outputs(&mr, &o, mname, n_ranks);
        fflush(stdout);
    }
done:
    bt_sweep_mask_result_free(&mr);
    bt_run_close(&x);
    run_end();
    return rc;
}
