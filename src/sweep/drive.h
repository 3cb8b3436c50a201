/* The one sweep driver (docs/architecture.md "The sweep driver"): every pass of every experiment
 * (importance, eval, each masking step, the ablation's configurations) is
 *
 *   check -> plan and this rank's share -> engine and buffers -> agree
 *   -> for each slot: control (stop? sync? a failure?) -> pack batch
 *                     -> run (engine, partial sums, records) -> sink -> after_sink
 *                     -> save the batch's state (checkpoint) -> progress
 *      (a batch an earlier run made durable is restored instead of computed)
 *   -> agree -> ordered reduction of the partial sums -> finish (normalise, score) -> statistics
 *
 * and an experiment supplies only what differs, as a sweep_pass. The partial sums of a batch
 * (K doubles) and its records (state_bytes) are the whole state a batch leaves behind besides
 * the sink's rows: that is what a checkpoint saves and what a resumed run reduces, so a resumed
 * pass gives the same bits as an uninterrupted one for any number of ranks. */
#ifndef BT_SWEEP_DRIVE_H
#define BT_SWEEP_DRIVE_H

#include <mpi.h>

#include "batches.h"
#include "bertology/sweep.h"

typedef struct {
    const char *label; /* progress label when the options give none */
    int K;             /* partial sums per batch */
    int backward, attentions, hidden; /* engine limits beyond the plan's */
    int copies; /* > 0: the engine also holds that many copies of the longest example in one
                   batch, with the attention gradient (the attribution, bertology/attribution.h) */
    /* Local checks of model, data and options before anything is allocated (may be NULL). */
    int (*check)(void *ctx, bt_error *err);
    /* The pass's own buffers, once the plan and the engine are known (may be NULL). Local. */
    int (*setup)(void *ctx, const sweep_share *sh, const bt_engine_limits *lim, bt_error *err);
    /* Batch b of the plan, packed in batch, in this rank's slot: runs the engine, adds to p[K]
     * (zeroed), and describes for the sink what the engine holds (out). Local. */
    int (*run)(void *ctx, bt_engine *e, const bt_batch *batch, int slot, int b, double *p, bt_sweep_batch *out,
               bt_error *err);
    /* After the sink has read the batch's engine outputs: more work on the same batch that
     * overwrites them (the ablation's configurations). May be NULL. Local. */
    int (*after_sink)(void *ctx, bt_engine *e, const bt_batch *batch, int slot, int b, double *p, bt_error *err);
    /* A batch's records beyond its partial sums, for a checkpoint (state_bytes NULL or 0: none).
     * save copies out the records of the batch just run in this slot, restore puts them back
     * in place of running it. Local. */
    size_t (*state_bytes)(void *ctx, const bt_plan *plan, int b);
    void (*save)(void *ctx, int slot, int b, void *buf);
    void (*restore)(void *ctx, int slot, int b, const void *buf);
    /* sum[K]: the partial sums of every batch added in global batch order (identical on every
     * rank for any number of ranks). Normalises and scores. Collective. */
    int (*finish)(void *ctx, const sweep_share *sh, const double *sum, bt_error *err);
} sweep_pass;

typedef struct {
    double seconds;   /* wall time of the whole pass, slowest rank */
    int64_t peak_rss; /* largest peak RSS over ranks */
    int n_batches;    /* of the global plan */
    int n_resumed;    /* of them restored from a checkpoint */
} sweep_stats;

/* Collective over comm; on error every rank returns the same code. */
int sweep_drive(MPI_Comm comm, const bt_model *m, const bt_dataset *d, const bt_sweep_options *o, const sweep_pass *pass,
                void *ctx, bt_sweep_sink sink, void *sink_ctx, sweep_stats *stats, bt_error *err);

#endif
