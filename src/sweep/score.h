/* Predictions of one example, gathered to rank 0 for the GLUE metrics. */
#ifndef BT_SWEEP_SCORE_H
#define BT_SWEEP_SCORE_H

#include <mpi.h>

#include "bertology/engine.h"
#include "bertology/metrics.h"
#include "bertology/plan.h"
#include "bertology/sweep.h"

typedef struct {
    int pred;     /* argmax of the logits (first maximum, as numpy.argmax) */
    int label;    /* gold class or -1 */
    float value;  /* the logit itself for regression */
    float target; /* regression target or NaN */
} sweep_record;

void sweep_record_set(sweep_record *r, const float *logits, int C, int label, float target);

/* The one place where a pass's score is decided. A language model: its loss metrics from
 * res->loss_sum and res->n_examples, and res->score = sweep_lm_score(mean loss,
 * o->lm_perplexity). A classifier or regressor: gathers every rank's records into example order
 * on rank 0, computes the metrics of o->metrics (NULL: none) there and broadcasts them into
 * res; res->score = the set's default metric. Collective. */
int sweep_score(MPI_Comm comm, const bt_plan *plan, const bt_plan_assignment *asg, const sweep_record *mine,
                const bt_sweep_options *o, const bt_config *cfg, bt_sweep_result *res, bt_error *err);
/* The score a language model is judged by: 1/mean loss, or 1/perplexity (larger is better, as
 * for every GLUE metric). */
double sweep_lm_score(double mean_loss, int perplexity);

#endif
