/* dist: MPI glue around the batch plan (plan.h): ordered reductions and gathers that make every
 * number bitwise identical for any number of ranks, agreement on errors, progress reporting.
 *
 * Rules the callers follow (docs/distribution.md):
 * - every rank reads and checks all inputs and options itself, so input errors are seen by all;
 * - every rank calls the collectives below in the same order, also after a local failure: a
 *   failed rank carries its error to the next phase boundary, where bt_dist_agree() makes all
 *   ranks stop together with the same exit code (nobody waits in a collective forever);
 * - a rank keeps the results of its batches in "slot" order: slot j is bt_plan_rank_batches(a,
 *   rank)[j], i.e. its batches in increasing batch index.
 */
#ifndef BERTOLOGY_DIST_H
#define BERTOLOGY_DIST_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bertology/error.h"
#include "bertology/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* root argument of the gathers: every rank receives the result. */
#define BT_DIST_ALL (-1)

/* MPI_Init_thread asking for MPI_THREAD_FUNNELED (OpenMP/BLAS threads never call MPI). Fails
 * with BT_EINTERNAL if the library offers less. Safe to call when MPI is already initialised. */
int bt_dist_init(int *argc, char ***argv, bt_error *err);
void bt_dist_finalize(void);

/* Sum over all batches, in global batch order 0, 1, 2, ..., of per-batch vectors of K doubles:
 *   out = ((0 + v_0) + v_1) + ... + v_{n_batches-1}
 * local is [bt_plan_rank_count(asg, rank), K] in slot order. Every rank receives out[K], the same
 * bits for any number of ranks (the sum is done by rank 0 in batch order, then broadcast).
 * Collective. Rank 0 holds all n_batches*K values briefly. */
int bt_dist_reduce_ordered(MPI_Comm comm, const bt_plan_assignment *asg, const double *local, int K,
                           double *out, bt_error *err);

/* Gathers per-batch vectors into out[n_batches, K], row b = batch b (for sums that are not plain
 * sums, e.g. HF's accumulated gradient sum_k |sum_{j<=k} G_j|). out is written on root only, or
 * on every rank if root == BT_DIST_ALL; it may be NULL elsewhere. Collective. */
int bt_dist_gather_batches(MPI_Comm comm, const bt_plan_assignment *asg, const double *local, int K,
                           double *out, int root, bt_error *err);

/* Gathers per-example records of rec_bytes bytes into example order: out[i] = record of example
 * i. local holds bt_plan_rank_examples(plan, asg, rank) records: this rank's batches in slot
 * order, within a batch in plan order (plan->order[first ..]). out as for the batch gather.
 * Collective. */
int bt_dist_gather_examples(MPI_Comm comm, const bt_plan *plan, const bt_plan_assignment *asg,
                            const void *local, size_t rec_bytes, void *out, int root, bt_error *err);

/* Phase-boundary agreement. Collective. Returns the largest code over ranks (0 if all are 0) on
 * every rank; when it is non-zero, err (on every rank) holds that code and the message of the
 * lowest-numbered failing rank, prefixed "rank R: " if R > 0 and followed by how many ranks
 * failed if more than one did. local_err is this rank's error (its message is used if it is the
 * lowest failing rank); err may be the same object as local_err. */
int bt_dist_agree(MPI_Comm comm, int local_code, const bt_error *local_err, bt_error *err);

/* Progress of a pass over the plan, printed by rank 0 only, to a stream the caller chooses.
 * Rank 0 extrapolates from its own share: static LPT gives every rank about the same
 * estimated cost, so the fraction of rank 0's cost done estimates the fraction of the pass done
 * (percentage, ETA); examples and tokens ("~") are rank 0's fractions of its own examples and
 * tokens applied to the totals; the final line is exact. No message is exchanged while batches
 * run. On a terminal one line is redrawn with '\r' (at most 5 times
 * a second); otherwise (Slurm logs) one line is written every interval_s seconds. */
typedef struct {
    FILE *out;          /* NULL on ranks other than 0 or when quiet */
    int tty;
    double interval_s;
    char label[32];
    double t0, last_print;
    int64_t total_examples, total_tokens;
    double my_cost, my_cost_done;          /* this rank's share (estimated cost) and done so far */
    int64_t my_examples, my_examples_done;
    int64_t my_tokens, my_tokens_done;
    int line_open;      /* a '\r' line is on the terminal */
    double busy_s;      /* set by finish: this rank's time from begin to finish */
    int64_t my_examples_resumed, my_tokens_resumed; /* of the done ones, restored from a checkpoint */
    double my_cost_resumed;
    int stopped;        /* set by the caller before finish: the pass stopped early */
} bt_dist_progress;

/* Local (no communication); every rank calls it. out is used on rank 0 only (NULL: silent).
 * interval_s <= 0 selects the default (10 s) for non-terminals. */
void bt_dist_progress_begin(bt_dist_progress *p, MPI_Comm comm, const bt_plan *plan,
                            const bt_plan_assignment *asg, const char *label, FILE *out,
                            double interval_s);
/* This rank finished batch b of the plan. Cheap: a clock read and, rarely, one fprintf. */
void bt_dist_progress_batch(bt_dist_progress *p, const bt_plan *plan, int b);
/* Batch b was restored from an earlier run's checkpoint: done, but not computed (rates and the
 * time left count computed work only). */
void bt_dist_progress_resumed(bt_dist_progress *p, const bt_plan *plan, int b);
/* Collective (one reduction): rank 0 prints the final line with the slowest rank's time, the
 * global rates, the measured load imbalance (max/mean of the ranks' busy times) and the
 * largest peak RSS over ranks. */
void bt_dist_progress_finish(bt_dist_progress *p, MPI_Comm comm);

/* Peak resident set size of this process in bytes (VmHWM of /proc/self/status, else
 * getrusage's ru_maxrss); 0 if neither is available. */
int64_t bt_dist_peak_rss(void);

#ifdef __cplusplus
}
#endif
#endif
