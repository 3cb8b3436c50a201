/* Static assignment of batches to ranks: longest-processing-time-first (LPT) on the estimated
 * cost. Why static and why LPT: docs/distribution.md. */
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/plan.h"

typedef struct {
    double cost;
    int batch;
} cost_batch;

static int by_cost_desc(const void *a, const void *b) {
    const cost_batch *x = a, *y = b;
    if (x->cost != y->cost) return x->cost > y->cost ? -1 : 1;
    return (x->batch > y->batch) - (x->batch < y->batch);
}

/* Min-heap of ranks keyed by (load, rank): the lowest rank wins ties, so the result is a
 * function of the costs alone. */
static int heap_less(const double *load, int a, int b) {
    return load[a] < load[b] || (load[a] == load[b] && a < b);
}

static void heap_down(int *h, int n, const double *load, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && heap_less(load, h[l], h[m])) m = l;
        if (r < n && heap_less(load, h[r], h[m])) m = r;
        if (m == i) return;
        int t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

int bt_plan_assign(bt_plan_assignment *asg, const bt_plan *plan, int n_ranks, bt_error *err) {
    memset(asg, 0, sizeof *asg);
    if (n_ranks < 1) return bt_error_set(err, BT_EINPUT, "batch assignment: %d ranks (need >= 1)", n_ranks);
    int nb = plan->n_batches;
    asg->n_ranks = n_ranks;
    asg->n_batches = nb;
    asg->owner = bt_malloc((size_t)nb, sizeof *asg->owner, "the assignment", NULL);
    asg->rank_first = bt_calloc((size_t)n_ranks + 1, sizeof *asg->rank_first, "the assignment", NULL);
    asg->rank_batches = bt_malloc((size_t)nb, sizeof *asg->rank_batches, "the assignment", NULL);
    asg->rank_cost = bt_calloc((size_t)n_ranks, sizeof *asg->rank_cost, "the assignment", NULL);
    cost_batch *jobs = bt_malloc((size_t)nb, sizeof *jobs, "the assignment", NULL);
    int *heap = bt_malloc((size_t)n_ranks, sizeof *heap, "the assignment", NULL);
    if (!asg->owner || !asg->rank_first || !asg->rank_batches || !asg->rank_cost || !jobs || !heap) {
        free(jobs);
        free(heap);
        bt_plan_assignment_free(asg);
        return bt_error_set(err, BT_EINTERNAL, "batch assignment: out of memory (%d batches, %d ranks)",
                            nb, n_ranks);
    }

    for (int b = 0; b < nb; b++) jobs[b] = (cost_batch){plan->batches[b].cost, b};
    qsort(jobs, (size_t)nb, sizeof *jobs, by_cost_desc);
    for (int r = 0; r < n_ranks; r++) heap[r] = r; /* all loads 0: already a heap */
    for (int k = 0; k < nb; k++) {
        int r = heap[0];
        asg->owner[jobs[k].batch] = r;
        asg->rank_cost[r] += jobs[k].cost;
        heap_down(heap, n_ranks, asg->rank_cost, 0);
    }

    /* Counting sort by owner keeps each rank's batches in increasing batch index. */
    for (int b = 0; b < nb; b++) asg->rank_first[asg->owner[b] + 1]++;
    for (int r = 0; r < n_ranks; r++) asg->rank_first[r + 1] += asg->rank_first[r];
    memcpy(heap, asg->rank_first, (size_t)n_ranks * sizeof *heap); /* reuse as fill cursors */
    for (int b = 0; b < nb; b++) asg->rank_batches[heap[asg->owner[b]]++] = b;

    free(jobs);
    free(heap);
    return BT_OK;
}

void bt_plan_assignment_free(bt_plan_assignment *asg) {
    if (!asg) return;
    free(asg->owner);
    free(asg->rank_first);
    free(asg->rank_batches);
    free(asg->rank_cost);
    memset(asg, 0, sizeof *asg);
}

int bt_plan_rank_examples(const bt_plan *plan, const bt_plan_assignment *a, int r) {
    int n = 0;
    const int *mine = bt_plan_rank_batches(a, r);
    for (int j = 0; j < bt_plan_rank_count(a, r); j++) n += plan->batches[mine[j]].n_seqs;
    return n;
}

double bt_plan_imbalance(const bt_plan_assignment *a) {
    double max = 0.0, sum = 0.0;
    for (int r = 0; r < a->n_ranks; r++) {
        sum += a->rank_cost[r];
        if (a->rank_cost[r] > max) max = a->rank_cost[r];
    }
    return sum > 0.0 ? max / (sum / a->n_ranks) : 0.0;
}
