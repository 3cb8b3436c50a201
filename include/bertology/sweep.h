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

typedef struct {
    int importance;        /* run the backward pass to the gates (else forward only: eval) */
    int entropy;           /* attention entropy */
    int granularity;       /* bt_sweep_granularity */
    int hf_compat;         /* HF's never-zeroed head_mask.grad: sum_k |sum_{j<=k} G_j| (needs batch) */
    int token_norm;        /* SPEC normalisation 1: divide by the number of real tokens */
    int layer_norm;        /* 2: per-layer L2 */
    int global_norm;       /* 3: global min-max */
    bt_plan_options plan;
    const float *head_mask; /* [L, H] gates, NULL = all ones */
    const bt_metric_set *metrics; /* metrics to compute from the gathered predictions, or NULL */
    int keep_attentions, keep_hidden; /* engine buffers the sink will read */
    FILE *progress;         /* progress lines (rank 0), NULL for none */
    const char *label;      /* progress label */
} bt_sweep_options;

/* Defaults of ../shared/SPEC.md: importance + entropy, example granularity, all three
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
    const bt_engine *engine;  /* sequence k of the batch: bt_engine_copy_attention(engine, k, ...) */
} bt_sweep_batch;

/* Called once per batch this rank computes, then with n = 0 until every rank has made the same
 * number of calls (so a sink may use collective I/O). A non-zero return stops this rank's
 * computing; the error reaches every rank at the end of the pass. */
typedef int (*bt_sweep_sink)(void *ctx, const bt_sweep_batch *batch, bt_error *err);

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

#ifdef __cplusplus
}
#endif
#endif
