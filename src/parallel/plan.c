/* The global batch plan: the same on every rank, whatever the number of ranks. */
#include "bertology/plan.h"

#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
bt_plan_cost bt_plan_cost_transformer(int n_layers, int d_model, int d_ff) {
    double L = n_layers, D = d_model, F = d_ff;
    return (bt_plan_cost){.dense = L * (8.0 * D * D + 4.0 * D * F), .attn = L * 4.0 * D};
}

bt_plan_options bt_plan_options_default(void) {
    return (bt_plan_options){.mode = BT_PLAN_BY_TOKENS,
                             .batch_tokens = BT_PLAN_DEFAULT_BATCH_TOKENS,
                             .max_seqs = 0,
                             .batch_size = 1,
                             .cost = bt_plan_cost_transformer(12, 768, 3072)};
}

static double seq_cost(const bt_plan_cost *c, int T) { return T * (c->dense + c->attn * T); }

typedef struct {
    int len, idx;
} len_idx;

/* qsort is not stable, so the comparison itself breaks ties by index: the order is total and
 * the same on every rank. */
static int by_length_desc(const void *a, const void *b) {
    const len_idx *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static int check_options(const bt_plan_options *o, bt_error *err) {
    if (o->mode == BT_PLAN_BY_TOKENS) {
        if (o->batch_tokens < 1)
            return bt_error_set(err, BT_EINPUT, "batch plan: batch_tokens must be >= 1, got %lld",
                                (long long)o->batch_tokens);
        if (o->max_seqs < 0)
            return bt_error_set(err, BT_EINPUT, "batch plan: max_seqs must be >= 0 (0 = no limit), got %d",
                                o->max_seqs);
    } else if (o->mode == BT_PLAN_BY_SIZE) {
        if (o->batch_size < 1)
            return bt_error_set(err, BT_EINPUT, "batch plan: batch_size must be >= 1, got %d", o->batch_size);
    } else {
        return bt_error_set(err, BT_EINPUT, "batch plan: unknown mode %d", o->mode);
    }
    if (!(o->cost.dense >= 0.0) || !(o->cost.attn >= 0.0))
        return bt_error_set(err, BT_EINPUT, "batch plan: cost model terms must be >= 0 (dense %g, attn %g)",
                            o->cost.dense, o->cost.attn);
    return BT_OK;
}

/* Next-fit cut of the ordered list into plan->batches; returns the number of batches. A batch
 * is closed once the next example does not fit and never revisited, so each batch is a
 * contiguous run of similar lengths (first-fit would fill batches a little better but mixes long
 * and short sequences in one batch).
 *
 * n_share = 0: each batch is filled to the limits (greedy). n_share > 0 (by tokens, balanced):
 * batch j also takes the next example only if that brings it nearer its share of the tokens not
 * yet in a closed batch, left / (n_share - j): tokens + len / 2 <= share, in integers. With
 * n_share = the greedy count, the batches come out about equal instead of full batches and a
 * small remainder, whose products would run at a fraction of their speed (docs/distribution.md
 * section 1). */
static int cut(bt_plan *plan, const int *lengths, int n, const bt_plan_options *opt, int n_share) {
    int64_t left = 0; /* tokens from the open batch's first example on */
    for (int k = 0; k < n; k++) left += lengths[plan->order[k]];
    int nb = 0;
    bt_plan_batch *cur = NULL;
    for (int k = 0; k < n; k++) {
        const int len = lengths[plan->order[k]];
        int fits;
        if (!cur) fits = 0;
        else if (opt->mode == BT_PLAN_BY_SIZE) fits = cur->n_seqs < opt->batch_size;
        else fits = cur->n_tokens + len <= opt->batch_tokens &&
                    (opt->max_seqs == 0 || cur->n_seqs < opt->max_seqs);
        if (fits && n_share > 0) {
            const int64_t m = n_share - (nb - 1) > 1 ? n_share - (nb - 1) : 1; /* batches left */
            fits = m * (2 * cur->n_tokens + len) <= 2 * left;
        }
        if (!fits) {
            if (cur) left -= cur->n_tokens;
            cur = &plan->batches[nb++];
            *cur = (bt_plan_batch){.first = k};
        }
        cur->n_seqs++;
        cur->n_tokens += len;
        if (len > cur->max_len) cur->max_len = len;
        cur->cost += seq_cost(&opt->cost, len);
    }
    return nb;
}

int bt_plan_build(bt_plan *plan, const int *lengths, int n, const bt_plan_options *opt,
                  bt_error *err) {
    memset(plan, 0, sizeof *plan);
    int rc = check_options(opt, err);
    if (rc) return rc;
    if (n < 0) return bt_error_set(err, BT_EINPUT, "batch plan: negative example count %d", n);
    if (n > 0 && !lengths)
        return bt_error_set(err, BT_EINTERNAL, "batch plan: no lengths for %d examples", n);
    for (int i = 0; i < n; i++) {
        if (lengths[i] < 1)
            return bt_error_set(err, BT_EINPUT, "batch plan: example %d has %d tokens (need >= 1)", i,
                                lengths[i]);
        if (opt->mode == BT_PLAN_BY_TOKENS && lengths[i] > opt->batch_tokens)
            return bt_error_set(err, BT_EINPUT,
                                "batch plan: example %d has %d tokens, more than batch_tokens %lld "
                                "(batch_tokens must be at least the longest example)",
                                i, lengths[i], (long long)opt->batch_tokens);
    }
    if (n == 0) return BT_OK;

    plan->order = bt_malloc((size_t)n, sizeof *plan->order, "the batch plan", NULL);
    /* n batches is the worst case (one example each); shrunk below. */
    plan->batches = bt_malloc((size_t)n, sizeof *plan->batches, "the batch plan", NULL);
    if (!plan->order || !plan->batches) {
        bt_plan_free(plan);
        return bt_error_set(err, BT_EINTERNAL, "batch plan: out of memory for %d examples", n);
    }
    for (int i = 0; i < n; i++) plan->order[i] = i;
    if (opt->mode == BT_PLAN_BY_TOKENS) {
        len_idx *key = bt_malloc((size_t)n, sizeof *key, "the batch plan", NULL);
        if (!key) {
            bt_plan_free(plan);
            return bt_error_set(err, BT_EINTERNAL, "batch plan: out of memory for %d examples", n);
        }
        for (int i = 0; i < n; i++) key[i] = (len_idx){lengths[i], i};
        qsort(key, (size_t)n, sizeof *key, by_length_desc);
        for (int i = 0; i < n; i++) plan->order[i] = key[i].idx;
        free(key);
    }

    int nb = cut(plan, lengths, n, opt, 0);
    if (opt->mode == BT_PLAN_BY_TOKENS && nb > 1) {
        const int greedy = nb;
        nb = cut(plan, lengths, n, opt, greedy);
        if (nb > greedy) nb = cut(plan, lengths, n, opt, 0); /* the shares did not fit: greedy */
    }

    plan->n_examples = n;
    plan->n_batches = nb;
    for (int b = 0; b < nb; b++) {
        const bt_plan_batch *B = &plan->batches[b];
        plan->n_tokens += B->n_tokens;
        plan->cost += B->cost;
        if (B->max_len > plan->max_len) plan->max_len = B->max_len;
        if (B->n_tokens > plan->max_batch_tokens) plan->max_batch_tokens = B->n_tokens;
        if (B->n_seqs > plan->max_batch_seqs) plan->max_batch_seqs = B->n_seqs;
    }
    bt_plan_batch *shrunk = bt_realloc(plan->batches, (size_t)nb, sizeof *shrunk, "the batch plan", NULL);
    if (shrunk) plan->batches = shrunk;
    return BT_OK;
}

void bt_plan_free(bt_plan *plan) {
    if (!plan) return;
    free(plan->order);
    free(plan->batches);
    memset(plan, 0, sizeof *plan);
}
