/* plan: the global batch plan and its static assignment to ranks. Pure functions, no MPI.
 *
 * Every rank tokenises every example, builds the same plan from the same lengths and options,
 * and computes the same assignment: nothing here is communicated, and the plan does not depend
 * on the number of ranks. Batch b of the plan is the unit of work and of reduction order (the
 * dist floor sums per-batch results in order b = 0, 1, 2, ...).
 */
#ifndef BERTOLOGY_PLAN_H
#define BERTOLOGY_PLAN_H

#include <stdint.h>

#include "bertology/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    BT_PLAN_BY_TOKENS = 0, /* length-sorted batches of at most batch_tokens real tokens (default) */
    BT_PLAN_BY_SIZE = 1    /* batch_size examples in data order, as HF's DataLoader (`batch`) */
} bt_plan_mode;

/* Estimated cost of one sequence of T tokens: T * (dense + attn * T). dense counts the work
 * every token does alone (projections, FFN), attn the work per (query, key) pair. */
typedef struct {
    double dense;
    double attn;
} bt_plan_cost;

#define BT_PLAN_DEFAULT_BATCH_TOKENS 2048

typedef struct {
    int mode;             /* bt_plan_mode */
    int64_t batch_tokens; /* BY_TOKENS: max real tokens per batch; must be >= the longest example */
    int max_seqs;         /* BY_TOKENS: max examples per batch; 0 = no limit */
    int batch_size;       /* BY_SIZE: examples per batch (the last batch may be smaller) */
    bt_plan_cost cost;
} bt_plan_options;

typedef struct {
    int first;        /* this batch's examples are plan->order[first .. first + n_seqs) */
    int n_seqs;
    int64_t n_tokens; /* real tokens */
    int max_len;
    double cost;      /* sum over its sequences of the cost model */
} bt_plan_batch;

typedef struct {
    int n_examples;
    int n_batches;
    int64_t n_tokens;         /* all real tokens of the evaluation set */
    int max_len;              /* longest example */
    int64_t max_batch_tokens; /* largest batch: what the engine's buffers must hold */
    int max_batch_seqs;
    double cost;              /* total estimated cost */
    int *order;               /* [n_examples] example indices, batch after batch */
    bt_plan_batch *batches;   /* [n_batches] */
} bt_plan;

/* Example indices of batch b, n_seqs of them, in the order the engine should pack them. */
static inline const int *bt_plan_batch_examples(const bt_plan *p, int b) {
    return p->order + p->batches[b].first;
}

/* Flop counts of a transformer layer stack per token (forward; backward scales both terms
 * alike so the ratio, which is all that balancing needs, is the same):
 *   dense = L (8 D^2 + 4 D F)   (Q, K, V, output projections; FFN up and down)
 *   attn  = L * 4 D             (scores Q K^T and context P V, per query-key pair) */
bt_plan_cost bt_plan_cost_transformer(int n_layers, int d_model, int d_ff);

/* BY_TOKENS, BT_PLAN_DEFAULT_BATCH_TOKENS, no sequence limit, batch_size 1, BERT-base costs. */
bt_plan_options bt_plan_options_default(void);

/* Builds the plan for n examples with lengths[i] real tokens (after tokenisation, >= 1).
 * BY_TOKENS: examples sorted by length, longest first (ties by index), cut into contiguous
 * batches of at most batch_tokens tokens and max_seqs examples: as many batches as a greedy cut
 * needs, but of about equal token counts instead of full batches and a small remainder
 * (docs/distribution.md section 1); examples keep the sorted order.
 * BY_SIZE: consecutive runs of batch_size examples in data order.
 * n = 0 gives an empty plan. Errors: BT_EINPUT for a length < 1, a length above batch_tokens,
 * or a non-positive batch_tokens / batch_size / negative max_seqs / cost; BT_EINTERNAL if out
 * of memory. On error *plan is left empty (safe to free). */
int bt_plan_build(bt_plan *plan, const int *lengths, int n, const bt_plan_options *opt,
                  bt_error *err);
void bt_plan_free(bt_plan *plan);

/* Which rank computes which batch. Longest-processing-time-first: batches by estimated cost,
 * largest first (ties by batch index), each to the least-loaded rank so far (ties to the lowest
 * rank). Deterministic, so every rank computes the same assignment on its own. */
typedef struct {
    int n_ranks;
    int n_batches;
    int *owner;        /* [n_batches] rank of each batch */
    int *rank_first;   /* [n_ranks + 1]: rank r's batches are rank_batches[rank_first[r] ..
                          rank_first[r + 1]) */
    int *rank_batches; /* [n_batches], each rank's batches in increasing batch index (its "slots") */
    double *rank_cost; /* [n_ranks] estimated cost per rank */
} bt_plan_assignment;

int bt_plan_assign(bt_plan_assignment *asg, const bt_plan *plan, int n_ranks, bt_error *err);
void bt_plan_assignment_free(bt_plan_assignment *asg);

/* Number of batches of rank r and the first of them (slot 0); slot j is batch batches[j]. */
static inline int bt_plan_rank_count(const bt_plan_assignment *a, int r) {
    return a->rank_first[r + 1] - a->rank_first[r];
}
static inline const int *bt_plan_rank_batches(const bt_plan_assignment *a, int r) {
    return a->rank_batches + a->rank_first[r];
}
/* Examples in rank r's batches, in slot order: the length of the per-example arrays a rank
 * hands to bt_dist_gather_examples. */
int bt_plan_rank_examples(const bt_plan *plan, const bt_plan_assignment *a, int r);

/* max rank cost / mean rank cost (1 = perfect balance; 0 for an empty plan). */
double bt_plan_imbalance(const bt_plan_assignment *a);

#ifdef __cplusplus
}
#endif
#endif
