/* What every experiment does around the engine: build the global plan and this rank's share of
 * it, size an engine for the plan's largest batch, and pack a batch's examples into the
 * engine's input. */
#ifndef BT_SWEEP_BATCHES_H
#define BT_SWEEP_BATCHES_H

#include <mpi.h>

#include "bertology/dataset.h"
#include "bertology/engine.h"
#include "bertology/plan.h"

typedef struct {
    bt_plan plan;
    bt_plan_assignment asg;
    int rank, n_ranks;
    int my_batches;  /* this rank's batches (its "slots") */
    int max_batches; /* the most any rank has: every rank makes this many sink calls */
    int my_examples;
    const int *mine; /* [my_batches] batch indices in slot order */
} sweep_share;

/* Plan and assignment, identical on every rank (local: no communication). */
int sweep_share_build(MPI_Comm comm, const bt_dataset *d, const bt_plan_options *po, sweep_share *s,
                      bt_error *err);
void sweep_share_free(sweep_share *s);

/* Engine limits that hold every batch of the plan. */
bt_engine_limits sweep_share_limits(const sweep_share *s);

/* Packed inputs of one batch, sized from the limits once. */
typedef struct {
    int *ids, *types, *lens, *labels;
    float *targets;
} sweep_inputs;

int sweep_inputs_alloc(sweep_inputs *in, const bt_engine_limits *lim, bt_error *err);
void sweep_inputs_free(sweep_inputs *in);
/* Copies batch b's examples (in plan order) into in and returns the engine's view of them. */
bt_batch sweep_inputs_pack(sweep_inputs *in, const bt_dataset *d, const bt_plan *plan, int b);

#endif
