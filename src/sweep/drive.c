#include "drive.h"

#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/dist.h"
#include "bertology/attribution.h"

typedef struct {
    sweep_share sh;
    bt_engine *e;
    sweep_inputs in;
    double *partial; /* [my batches, K] */
    unsigned char *blob; /* one batch's checkpoint state: K partial sums, then the pass's records */
    size_t blob_cap;
    int n_resumed;       /* this rank's batches restored from a checkpoint */
} drive_state;

static void state_free(drive_state *s) {
    bt_engine_free(s->e);
    sweep_inputs_free(&s->in);
    free(s->partial);
    free(s->blob);
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
    if (pass->copies > 0) lim = bt_attr_limits(lim, pass->copies);
    rc = bt_engine_create(&m->cfg, &m->params, &lim, &s->e, err);
    /* a stop request abandons the batch in flight at the next layer (run_slot) */
    if (!rc) bt_engine_set_stop(s->e, o->checkpoint ? o->checkpoint->stop : NULL);
    if (!rc) rc = sweep_inputs_alloc(&s->in, &lim, err);
    if (!rc && !(s->partial = bt_calloc((size_t)s->sh.my_batches * pass->K, sizeof(double), "partial sums", err)))
        rc = BT_EINTERNAL;
    if (!rc && pass->setup) rc = pass->setup(ctx, &s->sh, &lim, err);
    return rc;
}

/* What the ranks agree on before each slot, one slot late: a small non-blocking allreduce is
 * posted before a batch runs and completed before the next, so a rank waits only for a rank more
 * than a batch behind it, and every rank acts on the same answer at the same slot. */
enum { CTL_FAILED, CTL_STOP, CTL_SYNC, CTL_N };
typedef struct {
    int local[CTL_N], all[CTL_N];
    MPI_Request req;
    double last_sync;
} control;

static void control_post(MPI_Comm comm, control *c, int rc, const bt_sweep_checkpoint *ck, int rank) {
    c->local[CTL_FAILED] = rc != BT_OK;
    c->local[CTL_STOP] = ck && ck->stop && *ck->stop;
    /* rank 0's clock alone decides, so that one answer comes back */
    c->local[CTL_SYNC] = ck && rank == 0 && ck->every_s > 0 && MPI_Wtime() - c->last_sync >= ck->every_s;
    MPI_Iallreduce(c->local, c->all, CTL_N, MPI_INT, MPI_MAX, comm, &c->req);
}

/* A sync of the checkpoint, then the stop if one was agreed on. Collective: every rank syncs, also
 * one whose last batch failed (rc: it keeps its own error). The sync's error is agreed already
 * (every rank holds it): rank 0 alone carries it to the pass's agreement, so that it is not
 * counted as every rank's failure; the others set *agreed_elsewhere. Returns this rank's code. */
static int sync_now(const bt_sweep_checkpoint *ck, int rank, int rc, int stop, int *agreed_elsewhere, bt_error *local) {
    bt_error scratch = {0};
    const int src = ck->sync(ck->ctx, rc ? &scratch : local);
    if (!rc && src) {
        if (rank == 0) rc = src;
        else *agreed_elsewhere = src;
    }
    if (!rc && !*agreed_elsewhere && stop)
        rc = bt_error_set(local, BT_EINTERRUPTED, "interrupted: the work so far is saved; run the same command again "
                          "to resume");
    return rc;
}

/* The state of the batch just run in this slot, handed to the checkpoint. Local. */
static int save_batch(const sweep_pass *pass, void *ctx, const bt_sweep_options *o, drive_state *s, int slot, int b,
                      const double *p, bt_error *err) {
    const bt_sweep_checkpoint *ck = o->checkpoint;
    const size_t extra = pass->state_bytes ? pass->state_bytes(ctx, &s->sh.plan, b) : 0;
    const size_t n = sizeof(double) * (size_t)pass->K + extra;
    if (bt_grow((void **)&s->blob, &s->blob_cap, n, 1, "a batch's checkpoint state", err)) return BT_EINTERNAL;
    memcpy(s->blob, p, sizeof(double) * (size_t)pass->K);
    if (pass->save) pass->save(ctx, slot, b, s->blob + sizeof(double) * (size_t)pass->K);
    return ck->save(ck->ctx, o->checkpoint_pass, b, s->blob, n, err);
}

/* Batch b from an earlier run's checkpoint, if it has it: 1 = restored, 0 = to compute, < 0 on
 * error (set in err). Local. */
static int restore_batch(const sweep_pass *pass, void *ctx, const bt_sweep_options *o, drive_state *s, int slot,
                         int b, double *p, bt_error *err) {
    const bt_sweep_checkpoint *ck = o->checkpoint;
    size_t n = 0;
    const unsigned char *st = ck ? ck->find(ck->ctx, o->checkpoint_pass, b, &n) : NULL;
    if (!st) return 0;
    const size_t extra = pass->state_bytes ? pass->state_bytes(ctx, &s->sh.plan, b) : 0;
    const size_t want = sizeof(double) * (size_t)pass->K + extra;
    if (n != want) {
        bt_error_set(err, BT_EINPUT, "checkpoint: pass %d batch %d holds %zu bytes, this run needs %zu (a checkpoint "
                     "of another version?)", o->checkpoint_pass, b, n, want);
        return -1;
    }
    memcpy(p, st, sizeof(double) * (size_t)pass->K);
    if (pass->restore) pass->restore(ctx, slot, b, st + sizeof(double) * (size_t)pass->K);
    return 1;
}

/* One slot: batch b restored or computed (b < 0: none left here, or an error: the sink's
 * padding call only). Local. */
static int run_slot(const bt_dataset *d, const bt_sweep_options *o, const sweep_pass *pass, void *ctx,
                    bt_sweep_sink sink, void *sink_ctx, drive_state *s, bt_dist_progress *prog, int slot, int b,
                    int rc, bt_error *local) {
    const bt_plan *plan = &s->sh.plan;
    double *p = s->partial + (size_t)slot * pass->K;
    bt_sweep_batch out = {0};
    bt_batch batch = {0};
    int restored = 0;
    if (b >= 0) {
        restored = restore_batch(pass, ctx, o, s, slot, b, p, local);
        if (restored < 0) rc = BT_EINPUT;
    }
    if (b >= 0 && !rc && restored) {
        s->n_resumed++;
        bt_dist_progress_resumed(prog, plan, b);
    } else if (b >= 0 && !rc) {
        batch = sweep_inputs_pack(&s->in, d, plan, b);
        rc = pass->run(ctx, s->e, &batch, slot, b, p, &out, local);
        if (rc == BT_EINTERRUPTED) {
            /* the engine abandoned the batch for a stop request: not done, not saved (a resumed
             * run computes it); the sink gets a padding call, the stop is agreed next slot */
            out = (bt_sweep_batch){0};
            rc = BT_OK;
            b = -1;
        } else if (!rc && !pass->after_sink) {
            /* busy time of the progress lines: the batch's compute, without the sink's writes */
            bt_dist_progress_batch(prog, plan, b);
        }
    }
    if (sink) { /* also for a restored batch: every rank makes the same number of calls */
        const int src = sink(sink_ctx, &out, rc ? NULL : local);
        if (!rc && src) rc = src;
    }
    if (b < 0 || rc || restored) return rc;
    if (pass->after_sink) {
        rc = pass->after_sink(ctx, s->e, &batch, slot, b, p, local);
        /* abandoned for a stop request: not done, not saved; the stop is agreed next slot */
        if (rc == BT_EINTERRUPTED) return BT_OK;
        if (!rc) bt_dist_progress_batch(prog, plan, b);
    }
    if (!rc && o->checkpoint) rc = save_batch(pass, ctx, o, s, slot, b, p, local);
    return rc;
}

/* This rank's slots. Every rank makes the same number of sink calls (padding calls with n = 0
 * after its own batches), so that a sink may use collective I/O, and every rank leaves the loop
 * at the same slot (after a failure anywhere, or a stop). */
static int batch_loop(MPI_Comm comm, const bt_dataset *d, const bt_sweep_options *o, const sweep_pass *pass,
                      void *ctx, bt_sweep_sink sink, void *sink_ctx, drive_state *s, bt_error *local) {
    const bt_plan *plan = &s->sh.plan;
    const bt_sweep_checkpoint *ck = o->checkpoint;
    bt_dist_progress prog;
    bt_dist_progress_begin(&prog, comm, plan, &s->sh.asg, o->label ? o->label : pass->label,
                           s->sh.rank == 0 ? o->progress : NULL, 0);
    control c = {.req = MPI_REQUEST_NULL, .last_sync = MPI_Wtime()};
    int rc = BT_OK, slot = 0, agreed_elsewhere = 0;
    for (; slot < s->sh.max_batches; slot++) {
        if (slot > 0) {
            MPI_Wait(&c.req, MPI_STATUS_IGNORE);
            if (c.all[CTL_FAILED]) break; /* the failing rank carries its error to the agreement */
            if (ck && (c.all[CTL_STOP] || c.all[CTL_SYNC])) {
                rc = sync_now(ck, s->sh.rank, rc, c.all[CTL_STOP], &agreed_elsewhere, local);
                c.last_sync = MPI_Wtime();
                if (rc || agreed_elsewhere) break;
            }
        }
        control_post(comm, &c, rc, ck, s->sh.rank);
        /* a stop seen here is in the control just posted: every rank stops at the next slot, so
         * this one need not compute (a padding call keeps the sink calls even) */
        const int stopping = c.local[CTL_STOP]; /* what the others will see: the same read */
        const int b = slot < s->sh.my_batches && !rc && !stopping ? s->sh.mine[slot] : -1;
        rc = run_slot(d, o, pass, ctx, sink, sink_ctx, s, &prog, slot, b, rc, local);
    }
    const int ran_through = slot == s->sh.max_batches; /* not left at a stop or a failure */
    if (c.req != MPI_REQUEST_NULL) MPI_Wait(&c.req, MPI_STATUS_IGNORE);
    /* Every batch done is made durable before the reduction, the summary and the commit: a run
     * killed in them (mpirun's SIGKILL a second after ^C) loses no batch. A stop posted with the
     * last slot (that slot's batch was skipped somewhere), or asked during it (its batch may have
     * been abandoned: the last control was posted before), ends the pass here. */
    const int at_end = ck && ran_through && s->sh.max_batches > 0 && !c.all[CTL_FAILED]; /* the same everywhere */
    int last[2] = {rc != BT_OK, c.all[CTL_STOP] || (ck && ck->stop && *ck->stop)}; /* {failed, stop} */
    if (at_end) MPI_Allreduce(MPI_IN_PLACE, last, 2, MPI_INT, MPI_MAX, comm);
    /* after a failure no sync: the pass's agreement carries the error */
    if (at_end && !last[0]) rc = sync_now(ck, s->sh.rank, rc, last[1], &agreed_elsewhere, local);
    prog.stopped = rc == BT_EINTERRUPTED;
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
    MPI_Allreduce(&s.n_resumed, &stats->n_resumed, 1, MPI_INT, MPI_SUM, comm);
out:
    free(sum);
    state_free(&s);
    return rc;
}
