/* sweep: the experiments, each a loop over the global batch plan calling the engine on this
 * rank's batches, with the per-batch partial sums reduced in global batch order (dist floor) so
 * that every number is bitwise identical for any number of ranks.
 *
 * The sweep knows nothing of file formats: per-batch results go to a caller's sink (the CLI
 * writes them to run.h5), and the summary comes back in bt_sweep_result.
 */
#ifndef BERTOLOGY_SWEEP_H
#define BERTOLOGY_SWEEP_H

#include <mpi.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "bertology/dataset.h"
#include "bertology/engine.h"
#include "bertology/error.h"
#include "bertology/metrics.h"
#include "bertology/model.h"
#include "bertology/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    BT_GRAN_EXAMPLE = 0, /* sum_x |g(x)|: the paper's E_x |dL/dxi| (default) */
    BT_GRAN_TOKEN = 1,   /* sum_x sum_t |<dL/d(xi ctx)_t, ctx_t>|: Michel's released code */
    BT_GRAN_BATCH = 2    /* sum_b |mean_{x in b} g(x)|: HF with --batch_size */
} bt_sweep_granularity;

/* Checkpoint and resume (docs/resume.md), supplied by the caller (the run floor keeps the
 * state on disk; the sweep knows nothing of files). A batch's state is an opaque blob: its
 * partial sums and the pass's per-batch records. Every pass of an experiment has its number
 * (bt_sweep_options.checkpoint_pass), so a masking search resumes inside its steps. */
typedef struct {
    /* Batch `batch` of pass `pass` is done on this rank (its sink call made): keep its state. It
     * counts as done only once a later sync has made it durable. Local. */
    int (*save)(void *ctx, int pass, int batch, const void *state, size_t n, bt_error *err);
    /* The durable state of (pass, batch) from an earlier run, or NULL. Local. */
    const void *(*find)(void *ctx, int pass, int batch, size_t *n);
    /* Makes everything saved so far durable, with the sink's output. Collective, called by every
     * rank at the same batch boundary; same code on every rank. */
    int (*sync)(void *ctx, bt_error *err);
    void *ctx;
    double every_s;                   /* seconds between syncs (rank 0's clock); <= 0: only at a stop */
    const volatile sig_atomic_t *stop;        /* non-zero (bertology/signals.h): the engine abandons
                                         the batch in flight, the ranks stop at the next batch
                                         boundary they agree on, sync, BT_EINTERRUPTED */
} bt_sweep_checkpoint;

/* What a head's importance measures (docs/attribution.md). */
typedef enum {
    BT_SWEEP_GATE = 0,   /* Michel et al.: |dL/dxi|, one forward and one backward per batch */
    BT_SWEEP_ATTATTR = 1 /* Hao et al.: max_ij of the integrated gradient along alpha*A of the
                            head's probabilities; m*sum_l (L-l) layer passes per example */
} bt_sweep_method;

typedef struct {
    int importance;        /* run the backward pass to the gates (else forward only: eval) */
    int method;            /* bt_sweep_method of importance */
    int steps;             /* attattr: Riemann steps m >= 1 */
    int attr_pred;         /* attattr: the predicted class is the target (else the gold label) */
    int save_attributions; /* attattr: hand every example's [L, H, T, T] map to the sink */
    int entropy;           /* attention entropy */
    int granularity;       /* bt_sweep_granularity */
    int hf_compat;         /* HF's never-zeroed head_mask.grad: sum_k |sum_{j<=k} G_j| (needs batch) */
    int token_norm;        /* SPEC normalisation 1: divide by the number of real tokens */
    int layer_norm;        /* 2: per-layer L2 */
    int global_norm;       /* 3: global min-max */
    bt_plan_options plan;
    const float *head_mask; /* [L, H] gates, NULL = all ones */
    const bt_metric_set *metrics; /* metrics to compute from the gathered predictions, or NULL */
    int lm_perplexity;      /* language models: score = 1/perplexity instead of 1/loss */
    int keep_attentions, keep_hidden; /* engine buffers the sink will read */
    FILE *progress;         /* progress lines (rank 0), NULL for none */
    const char *label;      /* progress label */
    const bt_sweep_checkpoint *checkpoint; /* NULL: nothing saved, nothing resumed */
    int checkpoint_pass;    /* which pass of the experiment this is (a masking step's number) */
    float *logits_out;      /* [n_examples, C] or NULL: this rank's examples' logits are stored at
                               their rows (also those resumed from a checkpoint) */
} bt_sweep_options;

/* Defaults of docs/spec.md: importance + entropy, example granularity, all three
 * normalisations, batches of BT_PLAN_DEFAULT_BATCH_TOKENS tokens. */
bt_sweep_options bt_sweep_options_default(void);

/* One batch's per-example results, handed to the sink on the rank that computed them. */
typedef struct {
    int n;                    /* examples in the batch; 0 = a padding call (see bt_sweep_sink) */
    const int *examples;      /* [n] example indices (into bt_dataset), in engine order */
    const float *logits;      /* [n, C] (NULL when the model has no sequence head) */
    const double *loss;       /* [n] (NULL without labels) */
    const double *gate_grad;  /* [n, L, H] (NULL without importance) */
    const double *entropy;    /* [n, L, H] (NULL without entropy) */
    const double *attr_max;   /* [n, L, H] attattr: max_ij of each head's attribution (else NULL) */
    const float *attributions; /* per example [L, H, T, T] concatenated, attattr with
                                  save_attributions (else NULL) */
    const bt_engine *engine;  /* sequence k of the batch: bt_engine_copy_attention(engine, k, ...) */
} bt_sweep_batch;

/* Called once per batch this rank computes, then with n = 0 until every rank has made the same
 * number of calls (so a sink may use collective I/O). A non-zero return stops this rank's
 * computing; the error reaches every rank at the end of the pass. */
typedef int (*bt_sweep_sink)(void *ctx, const bt_sweep_batch *batch, bt_error *err);

/* A sink that keeps every logit this rank computes at its example's row of logits [n, C]
 * (rows of other ranks' examples untouched), then hands the batch on to next (may be NULL). */
typedef struct {
    float *logits;
    int n_classes;
    bt_sweep_sink next;
    void *next_ctx;
} bt_sweep_logits;
int bt_sweep_keep_logits(void *ctx, const bt_sweep_batch *batch, bt_error *err);

typedef struct {
    int n_layers, n_heads;
    double *importance_raw;  /* [L, H] by the granularity asked for */
    float *importance;       /* [L, H] normalised */
    int *ranks;              /* [L, H] 0 = most important */
    double *entropy_raw;     /* [L, H] sum over query tokens and examples */
    float *entropy;          /* [L, H] divided by the number of real tokens */
    int64_t n_tokens, n_examples;
    double loss_sum;         /* sum of per-example losses */
    int n_metrics;
    char metric_names[8][32];
    double metric_values[8];
    double score;            /* value of the task's default metric (NaN if none) */
    double seconds;          /* wall time of the pass (slowest rank) */
    int n_batches;           /* batches of the global plan (fewer than a few per rank: poor balance) */
    int n_resumed;           /* of them taken from the checkpoint of an earlier run */
    int64_t peak_rss;        /* largest peak RSS over ranks, bytes */
} bt_sweep_result;

void bt_sweep_result_free(bt_sweep_result *r);

/* One pass over the data set. Collective over comm: every rank calls it with the same model,
 * data and options. On error every rank returns the same code; err holds rank 0's view of the
 * lowest failing rank's message. */
int bt_sweep_pass(MPI_Comm comm, const bt_model *m, const bt_dataset *d, const bt_sweep_options *o,
                  bt_sweep_sink sink, void *sink_ctx, bt_sweep_result *res, bt_error *err);

/* SPEC normalisation of raw importance (in place into out[L*H]) and head ranks. Exposed for
 * tests and for experiments that re-normalise. */
void bt_sweep_normalize(const double *raw, int L, int H, int64_t n_tokens, int token_norm,
                        int layer_norm, int global_norm, float *out);
void bt_sweep_rank(const float *importance, int n, int *ranks);

/* ---- masking search (docs/spec.md "Masking search"; mask_search.c) --------------------- */

typedef enum {
    BT_MASK_STOP_THRESHOLD = 0, /* a step scored below threshold * s0: the step before is returned */
    BT_MASK_STOP_NAN = 1,       /* a step scored NaN (e.g. constant STS-B predictions): as below */
    BT_MASK_STOP_HEADS = 2,     /* fewer than n heads could still be masked */
    BT_MASK_STOP_SCHEDULE = 3,  /* Michel's --percents list is done */
    BT_MASK_STOP_NAN_START = 4  /* the starting mask scores NaN: nothing to compare against */
} bt_sweep_mask_stop;

typedef struct {
    double threshold;        /* keep masking while score >= threshold * s0; inside (0, 1) */
    double amount;           /* HF: n = max(1, floor(L*H*amount)) heads per step; inside (0, 1) */
    const double *percents;  /* Michel's schedule: percent of all heads masked after each step,
                                increasing, in (0, 100]; NULL = the HF loop */
    int n_percents;
    int exact;               /* with percents: re-compute importance after every step (else the
                                first pass's importance ranks every step) */
    int min_heads_per_layer; /* never leave a layer with fewer heads on (0 = no limit) */
    const float *rank_scores; /* [L, H] finite: rank every step by these (lowest masked first)
                                 instead of importance; the steps then run forward only */
    bt_sweep_options pass;   /* options of every pass; pass.head_mask is the starting mask (NULL =
                                all on) and pass.metrics->default_metric the metric watched */
} bt_sweep_mask_options;

typedef struct {
    int n_layers, n_heads;
    int n_steps;          /* step 0 is the starting mask */
    float *masks;         /* [n_steps, L, H] 1 on, 0 masked */
    float *importance;    /* [n_steps, L, H] normalised importance at that mask (NaN if not computed) */
    double *scores;       /* [n_steps] the watched metric */
    int *heads_on;        /* [n_steps] */
    int final_step;       /* the step whose mask is the answer */
    int stop;             /* bt_sweep_mask_stop */
    int per_step;         /* heads masked per step (HF loop), 0 for a schedule */
    double target;        /* threshold * s0 */
    bt_sweep_result first; /* the first pass: importance, entropy, metrics of the starting mask */
    double seconds;
} bt_sweep_mask_result;

void bt_sweep_mask_result_free(bt_sweep_mask_result *r);

/* Checks the options against a model of L x H heads (threshold, amount, percents, the
 * --min-heads-per-layer constraint against the schedule and the starting mask). */
int bt_sweep_mask_check(const bt_sweep_mask_options *o, int L, int H, bt_error *err);

/* Switches off, in mask [L, H], the n heads still on with the lowest importance (ties: lower
 * (layer, head) first; NaN counts as most important), skipping in every layer the
 * min_per_layer heads still on with the highest importance (ties: lower head kept). Returns n;
 * when fewer than n heads can go, returns how many could and leaves mask unchanged. */
int bt_sweep_mask_select(const float *importance, int L, int H, int n, int min_per_layer, float *mask);
/* How many heads bt_sweep_mask_select could switch off at most. */
int bt_sweep_mask_candidates(const float *mask, int L, int H, int min_per_layer);

/* The search. The first pass (backward, entropy as in o->pass) goes through sink; later passes
 * have no sink and no entropy. Every step's head choice is made on rank 0 and broadcast.
 * on_step (may be NULL) is called on every rank after every step, for progress lines.
 * Collective, errors as bt_sweep_pass. */
typedef void (*bt_sweep_mask_step_fn)(void *ctx, const bt_sweep_mask_result *r);
int bt_sweep_mask(MPI_Comm comm, const bt_model *m, const bt_dataset *d, const bt_sweep_mask_options *o,
                  bt_sweep_sink sink, void *sink_ctx, bt_sweep_mask_step_fn on_step, void *step_ctx,
                  bt_sweep_mask_result *res, bt_error *err);

/* ---- single-head ablation (ablate_pass.c) ------------------------------------------------ */

typedef struct {
    int n_layers, n_heads;
    double base_score;    /* the task's default metric at the base mask (o->head_mask or all on) */
    double *without;      /* [L, H] score with head (l, h) masked on top of the base mask */
    double *delta;        /* [L, H] without - base_score */
    double *only;         /* [L, H] score when layer l keeps only head h (Michel's table) */
    bt_sweep_result base; /* entropy, counts and metrics of the base forward (no importance) */
    int64_t layer_forwards;       /* encoder layers run, summed over batches and ranks */
    int64_t naive_layer_forwards; /* what 1 + 2*L*H full passes would run */
    size_t cache_bytes;           /* hidden states kept per rank: (L+1) * batch tokens * D floats */
    double base_forward_seconds;  /* time of the base forwards, summed over ranks */
    double busy_seconds;          /* time of base forwards + configurations, summed over ranks */
    double seconds;               /* wall time (slowest rank) */
} bt_sweep_ablation;

void bt_sweep_ablation_free(bt_sweep_ablation *r);

/* Every batch of the plan runs once unmasked (keeping the input of every layer), then, for
 * l = L-1 down to 0, the 2*H configurations that differ from the base only from layer l up run
 * from layer l's cached input: bt_engine_forward_from(first = l). Predictions of each
 * configuration are gathered in example order, so results do not depend on the number of ranks.
 * The base forward's per-example results (logits, entropy) go through sink. Forward only:
 * o->importance is ignored. Collective, errors as bt_sweep_pass. */
int bt_sweep_ablate(MPI_Comm comm, const bt_model *m, const bt_dataset *d, const bt_sweep_options *o,
                    bt_sweep_sink sink, void *sink_ctx, bt_sweep_ablation *res, bt_error *err);

#ifdef __cplusplus
}
#endif
#endif
