#include "batches.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
int sweep_share_build(MPI_Comm comm, const bt_dataset *d, const bt_plan_options *po, sweep_share *s,
                      bt_error *err) {
    memset(s, 0, sizeof *s);
    MPI_Comm_rank(comm, &s->rank);
    MPI_Comm_size(comm, &s->n_ranks);
    int rc = bt_plan_build(&s->plan, d->len, d->n, po, err);
    /* the engine counts a batch's tokens in int; the plan is the same on every rank, so is this */
    if (!rc && s->plan.max_batch_tokens > INT_MAX)
        rc = bt_error_set(err, BT_EINPUT, "a batch of %lld tokens is more than the engine takes (%d): use a "
                          "smaller batch", (long long)s->plan.max_batch_tokens, INT_MAX);
    if (!rc) rc = bt_plan_assign(&s->asg, &s->plan, s->n_ranks, err);
    if (rc) return rc;
    s->my_batches = bt_plan_rank_count(&s->asg, s->rank);
    s->my_examples = bt_plan_rank_examples(&s->plan, &s->asg, s->rank);
    s->mine = bt_plan_rank_batches(&s->asg, s->rank);
    for (int r = 0; r < s->n_ranks; r++) {
        const int k = bt_plan_rank_count(&s->asg, r);
        s->max_batches = k > s->max_batches ? k : s->max_batches;
    }
    return BT_OK;
}

void sweep_share_free(sweep_share *s) {
    bt_plan_assignment_free(&s->asg);
    bt_plan_free(&s->plan);
    memset(s, 0, sizeof *s);
}

bt_engine_limits sweep_share_limits(const sweep_share *s) {
    const bt_plan *p = &s->plan;
    /* sweep_share_build refused plans whose batches exceed INT_MAX tokens */
    return (bt_engine_limits){.max_tokens = p->max_batch_tokens > 0 ? (int)p->max_batch_tokens : 1,
                              .max_seqs = p->max_batch_seqs > 0 ? p->max_batch_seqs : 1,
                              .max_len = p->max_len > 0 ? p->max_len : 1};
}

int sweep_inputs_alloc(sweep_inputs *in, const bt_engine_limits *lim, bt_error *err) {
    const size_t T = (size_t)lim->max_tokens, B = (size_t)lim->max_seqs;
    if ((in->ids = bt_malloc(T, sizeof(int), "a batch's token ids", err)) &&
        (in->types = bt_malloc(T, sizeof(int), "a batch's token types", err)) &&
        (in->lens = bt_malloc(B, sizeof(int), "a batch's lengths", err)) &&
        (in->labels = bt_malloc(B, sizeof(int), "a batch's labels", err)) &&
        (in->targets = bt_malloc(B, sizeof(float), "a batch's targets", err)))
        return BT_OK;
    sweep_inputs_free(in);
    return BT_EINTERNAL;
}

void sweep_inputs_free(sweep_inputs *in) {
    free(in->ids), free(in->types), free(in->lens), free(in->labels), free(in->targets);
    memset(in, 0, sizeof *in);
}

bt_batch sweep_inputs_pack(sweep_inputs *in, const bt_dataset *d, const bt_plan *plan, int b) {
    const bt_plan_batch *pb = &plan->batches[b];
    const int *ex = bt_plan_batch_examples(plan, b);
    int pos = 0;
    for (int k = 0; k < pb->n_seqs; k++) {
        const int i = ex[k];
        memcpy(in->ids + pos, d->ids + d->off[i], sizeof(int) * d->len[i]);
        memcpy(in->types + pos, d->types + d->off[i], sizeof(int) * d->len[i]);
        in->lens[k] = d->len[i];
        if (d->labels) in->labels[k] = d->labels[i];
        if (d->targets) in->targets[k] = d->targets[i];
        pos += d->len[i];
    }
    return (bt_batch){.n_seqs = pb->n_seqs, .lens = in->lens, .ids = in->ids, .types = in->types,
                      .labels = d->labels ? in->labels : NULL, .targets = d->targets ? in->targets : NULL};
}
