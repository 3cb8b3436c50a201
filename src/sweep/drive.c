#include "drive.h"

#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/dist.h"

typedef struct {
    sweep_share sh;
    bt_engine *e;
    sweep_inputs in;
    double *partial; /* [my batches, K] */
} drive_state;

static void state_free(drive_state *s) {
    bt_engine_free(s->e);
    sweep_inputs_free(&s->in);
    free(s->partial);
    sweep_share_free(&s->sh);
}

/* Plan, engine and buffers. Local: the caller agrees. */
static int prepare(MPI_Comm comm, const bt_model *m, const bt_dataset *d, const bt_sweep_options *o,
                   const sweep_pass *pass, void *ctx, drive_state *s, bt_error *err) {
    int rc = pass->check ? pass->check(ctx, err) : BT_OK;
    if (!rc) rc = sweep_share_build(comm, d, &o->plan, &s->sh, err);
    if (rc) return rc;
    bt_engine_limits lim = sweep_share_limits(&s->sh);
    lim.backward = pass->backward;
    lim.attentions = pass->attentions;
    lim.hidden = pass->hidden;
    rc = bt_engine_create(&m->cfg, &m->params, &lim, &s->e, err);
    if (!rc) rc = sweep_inputs_alloc(&s->in, &lim, err);
    if (!rc && !(s->partial = bt_calloc((size_t)s->sh.my_batches * pass->K, sizeof(double), "partial sums", err)))
        rc = BT_EINTERNAL;
    if (!rc && pass->setup) rc = pass->setup(ctx, &s->sh, &lim, err);
    return rc;
}

/* This rank's slots. Every rank makes the same number of sink calls (padding calls with n = 0
 * after its own batches or after an error), so that a sink may use collective I/O. */
static int batch_loop(MPI_Comm comm, const bt_dataset *d, const bt_sweep_options *o, const sweep_pass *pass,
                      void *ctx, bt_sweep_sink sink, void *sink_ctx, drive_state *s, bt_error *local) {
    const bt_plan *plan = &s->sh.plan;
    bt_dist_progress prog;
    bt_dist_progress_begin(&prog, comm, plan, &s->sh.asg, o->label ? o->label : pass->label,
                           s->sh.rank == 0 ? o->progress : NULL, 0);
    int rc = BT_OK;
    for (int slot = 0; slot < s->sh.max_batches; slot++) {
        bt_sweep_batch out = {0};
        const int b = slot < s->sh.my_batches && !rc ? s->sh.mine[slot] : -1;
        double *p = s->partial + (size_t)slot * pass->K;
        bt_batch batch = {0};
        if (b >= 0) {
            batch = sweep_inputs_pack(&s->in, d, plan, b);
            rc = pass->run(ctx, s->e, &batch, slot, b, p, &out, local);
            /* busy time of the progress lines: the batch's compute, without the sink's writes */
            if (!rc && !pass->after_sink) bt_dist_progress_batch(&prog, plan, b);
        }
        if (sink) {
            const int src = sink(sink_ctx, &out, rc ? NULL : local);
            if (!rc && src) rc = src;
        }
        if (b < 0 || rc) continue;
        if (pass->after_sink) {
            rc = pass->after_sink(ctx, s->e, &batch, slot, b, p, local);
            if (!rc) bt_dist_progress_batch(&prog, plan, b);
        }
        if (!rc && o->batch_done) rc = o->batch_done(o->batch_done_ctx, b, p, pass->K, local);
    }
    bt_dist_progress_finish(&prog, comm);
    return rc;
}

int sweep_drive(MPI_Comm comm, const bt_model *m, const bt_dataset *d, const bt_sweep_options *o, const sweep_pass *pass,
                void *ctx, bt_sweep_sink sink, void *sink_ctx, sweep_stats *stats, bt_error *err) {
    const double t0 = MPI_Wtime();
    drive_state s = {0};
    bt_error local = {0};
    double *sum = NULL;
    int rc = bt_dist_agree(comm, prepare(comm, m, d, o, pass, ctx, &s, &local), &local, err);
    if (rc) goto out;
    rc = bt_dist_agree(comm, batch_loop(comm, d, o, pass, ctx, sink, sink_ctx, &s, &local), &local, err);
    if (rc) goto out;
    sum = bt_calloc((size_t)pass->K, sizeof(double), "the reduced sums", &local);
    rc = bt_dist_agree(comm, sum ? BT_OK : BT_EINTERNAL, &local, err);
    if (!rc) rc = bt_dist_reduce_ordered(comm, &s.sh.asg, s.partial, pass->K, sum, err);
    if (!rc) rc = pass->finish(ctx, &s.sh, sum, err);
    if (rc) goto out;
    int64_t rss = bt_dist_peak_rss();
    double secs = MPI_Wtime() - t0;
    MPI_Allreduce(&rss, &stats->peak_rss, 1, MPI_INT64_T, MPI_MAX, comm);
    MPI_Allreduce(&secs, &stats->seconds, 1, MPI_DOUBLE, MPI_MAX, comm);
    stats->n_batches = s.sh.plan.n_batches;
out:
    free(sum);
    state_free(&s);
    return rc;
}
