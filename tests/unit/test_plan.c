/* Batch plan and static assignment: hand-computed small cases, invariants on the real SST-2 dev
 * lengths (word counts + [CLS], [SEP]), and LPT against the brute-force optimum. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/resource.h>

#include "bertology/dist.h"
#include "bertology/plan.h"
#include "testutil.h"

/* Word counts of the sentence column of SST-2 dev, + 2 for [CLS] and [SEP]. */
static int *sst2_lengths(int *n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/glue/SST-2/dev.tsv", tu_data_dir());
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    int cap = 1024, k = 0, *len = malloc(cap * sizeof *len);
    char line[4096];
    ck_assert(fgets(line, sizeof line, f)); /* header */
    while (fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = '\0';
        int words = 0;
        for (char *t = strtok(line, " "); t; t = strtok(NULL, " ")) words++;
        len[k++] = words + 2;
    }
    fclose(f);
    *n = k;
    return len;
}

static bt_plan_options by_tokens(int64_t batch_tokens, int max_seqs, double dense, double attn) {
    bt_plan_options o = bt_plan_options_default();
    o.batch_tokens = batch_tokens;
    o.max_seqs = max_seqs;
    o.cost = (bt_plan_cost){dense, attn};
    return o;
}

START_TEST(test_by_tokens_hand) {
    /* sorted: ex1(5) ex3(5) ex5(4) ex0(3) ex2(2) ex4(1), 20 tokens; limit 8. Greedy cuts
     * [1] [3] [5 0] [2 4] (5 5 7 3 tokens): 4 batches. Balanced over 4: shares 20/4 = 5 -> [1];
     * 15/3 = 5 -> [3]; 10/2 = 5 -> [5] (4 + 3/2 > 5); the rest [0 2 4] (6 tokens). */
    int len[] = {3, 5, 2, 5, 1, 4};
    bt_plan_options o = by_tokens(8, 0, 1.0, 0.5);
    bt_plan p;
    bt_error e;
    ck_assert_int_eq(bt_plan_build(&p, len, 6, &o, &e), BT_OK);
    ck_assert_int_eq(p.n_batches, 4);
    int order[] = {1, 3, 5, 0, 2, 4};
    for (int i = 0; i < 6; i++) ck_assert_int_eq(p.order[i], order[i]);
    int first[] = {0, 1, 2, 3}, nseq[] = {1, 1, 1, 3}, ntok[] = {5, 5, 4, 6}, maxl[] = {5, 5, 4, 3};
    /* cost(T) = T (1 + 0.5 T): 5 -> 17.5; 4 -> 12; 3 -> 7.5, 2 -> 4, 1 -> 1.5 */
    double cost[] = {17.5, 17.5, 12.0, 13.0};
    for (int b = 0; b < 4; b++) {
        ck_assert_int_eq(p.batches[b].first, first[b]);
        ck_assert_ptr_eq(bt_plan_batch_examples(&p, b), p.order + first[b]);
        ck_assert_int_eq(p.batches[b].n_seqs, nseq[b]);
        ck_assert_int_eq(p.batches[b].n_tokens, ntok[b]);
        ck_assert_int_eq(p.batches[b].max_len, maxl[b]);
        ck_assert_double_eq(p.batches[b].cost, cost[b]);
    }
    ck_assert_int_eq(p.n_tokens, 20);
    ck_assert_int_eq(p.max_len, 5);
    ck_assert_int_eq(p.max_batch_tokens, 6);
    ck_assert_int_eq(p.max_batch_seqs, 3);
    ck_assert_double_eq(p.cost, 60.0);
    bt_plan_free(&p);
}
END_TEST

START_TEST(test_balanced_remainder) {
    /* 9 examples of 100 tokens, limit 400: greedy would cut 4 + 4 + 1 (the last batch a ninth of
     * the rest); balanced over the same 3 batches: 3 + 3 + 3. A tie (share exactly half-way) goes
     * to the earlier batch: 5 x 100 tokens, limit 400 -> greedy 4 + 1, balanced 3 + 2. */
    int len[9];
    for (int i = 0; i < 9; i++) len[i] = 100;
    bt_plan_options o = by_tokens(400, 0, 1.0, 0.0);
    bt_plan p;
    ck_assert_int_eq(bt_plan_build(&p, len, 9, &o, NULL), BT_OK);
    ck_assert_int_eq(p.n_batches, 3);
    for (int b = 0; b < 3; b++) ck_assert_int_eq(p.batches[b].n_tokens, 300);
    ck_assert_int_eq(p.max_batch_tokens, 300); /* the engine's buffers shrink with it */
    bt_plan_free(&p);
    ck_assert_int_eq(bt_plan_build(&p, len, 5, &o, NULL), BT_OK);
    ck_assert_int_eq(p.n_batches, 2);
    ck_assert_int_eq(p.batches[0].n_seqs, 3);
    ck_assert_int_eq(p.batches[1].n_seqs, 2);
    bt_plan_free(&p);
    /* exactly full batches stay as they are: 64 x 128 at 2048 -> 4 x 16 */
    int full[64];
    for (int i = 0; i < 64; i++) full[i] = 128;
    o = by_tokens(2048, 0, 1.0, 0.0);
    ck_assert_int_eq(bt_plan_build(&p, full, 64, &o, NULL), BT_OK);
    ck_assert_int_eq(p.n_batches, 4);
    for (int b = 0; b < 4; b++) ck_assert_int_eq(p.batches[b].n_seqs, 16);
    bt_plan_free(&p);
}
END_TEST

START_TEST(test_balanced_fallback) {
    /* The shares can need more batches than greedy when single examples nearly fill a batch:
     * sorted 15 14 13 12 7 7 7 7 6, limit 19. Greedy: [15] [14] [13] [12 7] [7 7] [7 6], 6
     * batches. The shares (88/6 = 14.7 ...) would close [12] before its 7 and end in 7 batches:
     * the plan keeps the greedy cut, never more batches than greedy. */
    int len[] = {7, 15, 7, 13, 6, 14, 7, 12, 7};
    bt_plan_options o = by_tokens(19, 0, 1.0, 0.0);
    bt_plan p;
    ck_assert_int_eq(bt_plan_build(&p, len, 9, &o, NULL), BT_OK);
    ck_assert_int_eq(p.n_batches, 6);
    int ntok[] = {15, 14, 13, 19, 14, 13};
    for (int b = 0; b < 6; b++) ck_assert_int_eq(p.batches[b].n_tokens, ntok[b]);
    bt_plan_free(&p);
}
END_TEST

START_TEST(test_max_seqs) {
    /* 10 x 1 token, at most 3 per batch: greedy 3 3 3 1 (4 batches); balanced over 4 with
     * shares 10/4 = 2.5 (a tie: 3), 7/3 = 2.33 (2), 5/2 = 2.5 (3), 2 */
    int len[10];
    for (int i = 0; i < 10; i++) len[i] = 1;
    bt_plan_options o = by_tokens(100, 3, 1.0, 0.0);
    bt_plan p;
    ck_assert_int_eq(bt_plan_build(&p, len, 10, &o, NULL), BT_OK);
    ck_assert_int_eq(p.n_batches, 4);
    int nseq[] = {3, 2, 3, 2};
    for (int b = 0; b < 4; b++) ck_assert_int_eq(p.batches[b].n_seqs, nseq[b]);
    for (int i = 0; i < 10; i++) ck_assert_int_eq(p.order[i], i); /* equal lengths: index order */
    bt_plan_free(&p);
}
END_TEST

START_TEST(test_by_size) {
    int len[] = {3, 9, 1, 7, 7, 2, 8, 4, 6, 5};
    bt_plan_options o = bt_plan_options_default();
    o.mode = BT_PLAN_BY_SIZE;
    o.batch_size = 4;
    o.batch_tokens = 2; /* ignored by this mode */
    bt_plan p;
    ck_assert_int_eq(bt_plan_build(&p, len, 10, &o, NULL), BT_OK);
    ck_assert_int_eq(p.n_batches, 3);
    for (int i = 0; i < 10; i++) ck_assert_int_eq(p.order[i], i); /* data order, as HF */
    int nseq[] = {4, 4, 2}, ntok[] = {20, 21, 11}, maxl[] = {9, 8, 6};
    for (int b = 0; b < 3; b++) {
        ck_assert_int_eq(p.batches[b].first, 4 * b);
        ck_assert_int_eq(p.batches[b].n_seqs, nseq[b]);
        ck_assert_int_eq(p.batches[b].n_tokens, ntok[b]);
        ck_assert_int_eq(p.batches[b].max_len, maxl[b]);
    }
    bt_plan_free(&p);
}
END_TEST

START_TEST(test_errors) {
    int len[] = {3, 9, 1};
    bt_plan p;
    bt_error e;
    bt_plan_options o = by_tokens(8, 0, 1.0, 1.0);
    ck_assert_int_eq(bt_plan_build(&p, len, 3, &o, &e), BT_EINPUT);
    ck_assert_ptr_nonnull(strstr(e.msg, "example 1 has 9 tokens"));
    ck_assert_ptr_nonnull(strstr(e.msg, "batch_tokens 8"));
    ck_assert_ptr_null(p.order);
    bt_plan_free(&p); /* safe after an error */

    int zero[] = {3, 0};
    o = by_tokens(8, 0, 1.0, 1.0);
    ck_assert_int_eq(bt_plan_build(&p, zero, 2, &o, &e), BT_EINPUT);
    ck_assert_ptr_nonnull(strstr(e.msg, "example 1 has 0 tokens"));

    o = by_tokens(0, 0, 1.0, 1.0);
    ck_assert_int_eq(bt_plan_build(&p, len, 3, &o, &e), BT_EINPUT);
    ck_assert_ptr_nonnull(strstr(e.msg, "batch_tokens"));
    o = by_tokens(16, -1, 1.0, 1.0);
    ck_assert_int_eq(bt_plan_build(&p, len, 3, &o, &e), BT_EINPUT);
    ck_assert_ptr_nonnull(strstr(e.msg, "max_seqs"));
    o = by_tokens(16, 0, -1.0, 1.0);
    ck_assert_int_eq(bt_plan_build(&p, len, 3, &o, &e), BT_EINPUT);
    o = by_tokens(16, 0, 1.0, NAN);
    ck_assert_int_eq(bt_plan_build(&p, len, 3, &o, &e), BT_EINPUT);
    o.mode = BT_PLAN_BY_SIZE;
    o.batch_size = 0;
    ck_assert_int_eq(bt_plan_build(&p, len, 3, &o, &e), BT_EINPUT);
    ck_assert_ptr_nonnull(strstr(e.msg, "batch_size"));
    o.mode = 7;
    ck_assert_int_eq(bt_plan_build(&p, len, 3, &o, &e), BT_EINPUT);

    /* n = 0: a valid, empty plan, and an assignment with nothing to do */
    o = by_tokens(16, 0, 1.0, 1.0);
    ck_assert_int_eq(bt_plan_build(&p, NULL, 0, &o, &e), BT_OK);
    ck_assert_int_eq(p.n_batches, 0);
    bt_plan_assignment a;
    ck_assert_int_eq(bt_plan_assign(&a, &p, 4, &e), BT_OK);
    for (int r = 0; r < 4; r++) ck_assert_int_eq(bt_plan_rank_count(&a, r), 0);
    ck_assert_double_eq(bt_plan_imbalance(&a), 0.0);
    bt_plan_assignment_free(&a);
    ck_assert_int_eq(bt_plan_assign(&a, &p, 0, &e), BT_EINPUT);
    bt_plan_assignment_free(&a);
    bt_plan_free(&p);
}
END_TEST

START_TEST(test_cost_model) {
    /* BERT-base per token: 12 (8*768^2 + 4*768*3072) = 169869312 dense, 12*4*768 = 36864 attn */
    bt_plan_cost c = bt_plan_cost_transformer(12, 768, 3072);
    ck_assert_double_eq(c.dense, 169869312.0);
    ck_assert_double_eq(c.attn, 36864.0);
}
END_TEST

/* Invariants of a by-tokens plan, checked against the input alone. */
static void check_plan(const bt_plan *p, const int *len, int n, const bt_plan_options *o) {
    ck_assert_int_eq(p->n_examples, n);
    int *seen = calloc(n, sizeof *seen);
    int64_t tok = 0;
    for (int i = 0; i < n; i++) tok += len[i];
    ck_assert_int_eq(p->n_tokens, tok);
    int k = 0;
    for (int b = 0; b < p->n_batches; b++) {
        const bt_plan_batch *B = &p->batches[b];
        ck_assert_int_eq(B->first, k); /* batches tile the order array */
        ck_assert_int_ge(B->n_seqs, 1);
        int64_t t = 0;
        int mx = 0;
        double c = 0;
        for (int s = 0; s < B->n_seqs; s++, k++) {
            int i = p->order[k];
            ck_assert(i >= 0 && i < n);
            seen[i]++;
            t += len[i];
            if (len[i] > mx) mx = len[i];
            c += len[i] * (o->cost.dense + o->cost.attn * len[i]);
            if (k > 0) { /* longest first, ties by index */
                int j = p->order[k - 1];
                ck_assert(len[j] > len[i] || (len[j] == len[i] && j < i));
            }
        }
        ck_assert_int_eq(B->n_tokens, t);
        ck_assert_int_le(B->n_tokens, o->batch_tokens);
        if (o->max_seqs) ck_assert_int_le(B->n_seqs, o->max_seqs);
        ck_assert_int_eq(B->max_len, mx);
        ck_assert(fabs(B->cost - c) <= 1e-12 * c);
    }
    ck_assert_int_eq(k, n);
    /* as many batches as the greedy cut of the same order (each batch filled until the next
     * example does not fit), recomputed here */
    int greedy = 0;
    int64_t t = 0;
    int c = 0;
    for (int j = 0; j < n; j++) {
        const int l = len[p->order[j]];
        if (!greedy || t + l > o->batch_tokens || (o->max_seqs && c == o->max_seqs)) greedy++, t = 0, c = 0;
        t += l, c++;
    }
    ck_assert_int_eq(p->n_batches, greedy);
    for (int i = 0; i < n; i++) ck_assert_int_eq(seen[i], 1); /* every example exactly once */
    free(seen);
}

START_TEST(test_sst2_invariants) {
    int n, *len = sst2_lengths(&n);
    ck_assert_int_eq(n, 872); /* SOURCES.md: 873 lines including the header */
    int64_t limits[] = {49, 128, 512, 2048, 1 << 20};
    int seqs[] = {0, 8};
    for (int a = 0; a < 5; a++)
        for (int s = 0; s < 2; s++) {
            bt_plan_options o = by_tokens(limits[a], seqs[s], 1000.0, 1.0);
            bt_plan p;
            bt_error e;
            ck_assert_int_eq(bt_plan_build(&p, len, n, &o, &e), BT_OK);
            check_plan(&p, len, n, &o);
            if (!seqs[s]) { /* balanced: no remainder batch, every batch within one example of the rest */
                int64_t lo = INT64_MAX, hi = 0;
                for (int b = 0; b < p.n_batches; b++) {
                    lo = p.batches[b].n_tokens < lo ? p.batches[b].n_tokens : lo;
                    hi = p.batches[b].n_tokens > hi ? p.batches[b].n_tokens : hi;
                }
                ck_assert_msg(hi - lo <= p.max_len, "batch_tokens %lld: batches of %lld..%lld tokens",
                              (long long)limits[a], (long long)lo, (long long)hi);
            }
            bt_plan_free(&p);
        }
    /* the longest SST-2 dev sentence has 47 words: 49 tokens fit, 48 must be refused */
    bt_plan_options o = by_tokens(48, 0, 1.0, 1.0);
    bt_plan p;
    bt_error e;
    ck_assert_int_eq(bt_plan_build(&p, len, n, &o, &e), BT_EINPUT);
    free(len);
}
END_TEST

/* Checks that the assignment partitions the batches and that its bookkeeping adds up. */
static void check_assignment(const bt_plan *p, const bt_plan_assignment *a, int m) {
    ck_assert_int_eq(a->n_ranks, m);
    ck_assert_int_eq(a->n_batches, p->n_batches);
    int *seen = calloc(p->n_batches + 1, sizeof *seen);
    int ex = 0;
    for (int r = 0; r < m; r++) {
        const int *mine = bt_plan_rank_batches(a, r);
        double c = 0;
        for (int j = 0; j < bt_plan_rank_count(a, r); j++) {
            int b = mine[j];
            ck_assert(b >= 0 && b < p->n_batches);
            ck_assert_int_eq(a->owner[b], r);
            if (j) ck_assert_int_lt(mine[j - 1], b); /* slots in batch order */
            seen[b]++;
            c += p->batches[b].cost;
        }
        ck_assert(fabs(a->rank_cost[r] - c) <= 1e-9 * (c + 1));
        ex += bt_plan_rank_examples(p, a, r);
    }
    for (int b = 0; b < p->n_batches; b++) ck_assert_int_eq(seen[b], 1); /* exactly one rank */
    ck_assert_int_eq(ex, p->n_examples);
    free(seen);
}

START_TEST(test_assign_sst2) {
    int n, *len = sst2_lengths(&n);
    bt_plan_options o = by_tokens(512, 0, 4608.0, 1.0); /* BERT-base ratio dense/attn = 6 D */
    bt_plan p, copy;
    ck_assert_int_eq(bt_plan_build(&p, len, n, &o, NULL), BT_OK);
    ck_assert_int_eq(bt_plan_build(&copy, len, n, &o, NULL), BT_OK);
    double pmax = 0;
    for (int b = 0; b < p.n_batches; b++) pmax = fmax(pmax, p.batches[b].cost);
    int ms[] = {1, 2, 3, 4, 7, 16, 64, 256};
    for (int t = 0; t < 8; t++) {
        int m = ms[t];
        bt_plan_assignment a;
        ck_assert_int_eq(bt_plan_assign(&a, &p, m, NULL), BT_OK);
        check_assignment(&p, &a, m);
        /* Graham's bound for any greedy list schedule: max <= mean + (1 - 1/m) max job */
        double mx = 0;
        for (int r = 0; r < m; r++) mx = fmax(mx, a.rank_cost[r]);
        ck_assert(mx <= p.cost / m + (1.0 - 1.0 / m) * pmax + 1e-6 * p.cost);
        if (m == 1) ck_assert_double_eq(bt_plan_imbalance(&a), 1.0);
        bt_plan_assignment_free(&a);
    }
    /* assigning for any rank count leaves the plan untouched: the plan is rank-independent */
    ck_assert_int_eq(p.n_batches, copy.n_batches);
    ck_assert_mem_eq(p.order, copy.order, n * sizeof *p.order);
    ck_assert_mem_eq(p.batches, copy.batches, p.n_batches * sizeof *p.batches);
    bt_plan_free(&p);
    bt_plan_free(&copy);
    free(len);
}
END_TEST

/* A plan with given batch costs (assignment reads only n_batches and costs). */
static bt_plan fake_plan(const double *cost, int nb, bt_plan_batch *storage) {
    bt_plan p = {0};
    p.n_batches = nb;
    p.batches = storage;
    for (int b = 0; b < nb; b++) {
        storage[b] = (bt_plan_batch){.first = b, .n_seqs = 1, .n_tokens = 1, .max_len = 1, .cost = cost[b]};
        p.cost += cost[b];
    }
    p.n_examples = nb;
    return p;
}

START_TEST(test_assign_hand) {
    bt_plan_batch st[6];
    bt_plan_assignment a;
    /* equal costs: round robin from rank 0 (ties to the lowest rank, then lowest batch) */
    double eq[] = {1, 1, 1, 1, 1, 1};
    bt_plan p = fake_plan(eq, 6, st);
    ck_assert_int_eq(bt_plan_assign(&a, &p, 3, NULL), BT_OK);
    for (int b = 0; b < 6; b++) ck_assert_int_eq(a.owner[b], b % 3);
    bt_plan_assignment_free(&a);
    /* LPT by hand on 2 ranks: 7->r0, 5->r1, 4->r1 (9), 3(b3)->r0 (10), 3(b4)->r1 (12), 2->r0 (12) */
    double c[] = {7, 5, 4, 3, 3, 2};
    p = fake_plan(c, 6, st);
    ck_assert_int_eq(bt_plan_assign(&a, &p, 2, NULL), BT_OK);
    int owner[] = {0, 1, 1, 0, 1, 0};
    for (int b = 0; b < 6; b++) ck_assert_int_eq(a.owner[b], owner[b]);
    ck_assert_double_eq(a.rank_cost[0], 12.0);
    ck_assert_double_eq(a.rank_cost[1], 12.0);
    ck_assert_int_eq(a.rank_first[1], 3);
    ck_assert_int_eq(bt_plan_rank_batches(&a, 1)[0], 1);
    bt_plan_assignment_free(&a);
    /* more ranks than batches: the extra ranks idle */
    p = fake_plan(c, 3, st);
    ck_assert_int_eq(bt_plan_assign(&a, &p, 5, NULL), BT_OK);
    check_assignment(&p, &a, 5);
    ck_assert_int_eq(bt_plan_rank_count(&a, 3), 0);
    ck_assert_int_eq(bt_plan_rank_count(&a, 4), 0);
    bt_plan_assignment_free(&a);
}
END_TEST

/* Optimal makespan by exhaustive search (small instances only). */
static double best_makespan(const double *c, int n, int m, double *load, int k) {
    if (k == n) {
        double mx = 0;
        for (int r = 0; r < m; r++) mx = fmax(mx, load[r]);
        return mx;
    }
    double best = INFINITY;
    for (int r = 0; r < m; r++) {
        load[r] += c[k];
        best = fmin(best, best_makespan(c, n, m, load, k + 1));
        load[r] -= c[k];
        if (load[r] == 0) break; /* empty ranks are interchangeable */
    }
    return best;
}

START_TEST(test_assign_vs_optimum) {
    /* Graham (1969): LPT <= (4/3 - 1/(3m)) OPT. Random costs, fixed seed. */
    unsigned s = 12345;
    bt_plan_batch st[9];
    for (int trial = 0; trial < 40; trial++) {
        int n = 5 + trial % 5, m = 2 + trial % 3;
        double c[9], load[4] = {0};
        for (int b = 0; b < n; b++) {
            s = s * 1103515245u + 12345u;
            c[b] = 1 + (s >> 16) % 100;
        }
        bt_plan p = fake_plan(c, n, st);
        bt_plan_assignment a;
        ck_assert_int_eq(bt_plan_assign(&a, &p, m, NULL), BT_OK);
        double mx = 0;
        for (int r = 0; r < m; r++) mx = fmax(mx, a.rank_cost[r]);
        double opt = best_makespan(c, n, m, load, 0);
        ck_assert_msg(mx <= (4.0 / 3.0 - 1.0 / (3.0 * m)) * opt + 1e-9, "trial %d: LPT %g, optimum %g",
                      trial, mx, opt);
        bt_plan_assignment_free(&a);
    }
}
END_TEST

START_TEST(test_peak_rss) {
    int64_t before = bt_dist_peak_rss();
    ck_assert_int_gt(before, 0);
    size_t n = 64u << 20;
    char *big = malloc(n);
    ck_assert_ptr_nonnull(big);
    memset(big, 1, n); /* touched pages count, untouched ones do not */
    /* an optimising compiler may drop a malloc/memset/free whose memory is never read */
    __asm__ volatile("" : : "r"(big) : "memory");
    int64_t after = bt_dist_peak_rss();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    free(big);
    ck_assert_int_ge(after, before + (int64_t)(60u << 20));
    /* the kernel's other account of the same high-water mark (kB), read independently */
    ck_assert_int_le(llabs(after - (int64_t)ru.ru_maxrss * 1024), 4 << 20);
}
END_TEST

int main(void) {
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("plan");
    tcase_add_test(tc, test_by_tokens_hand);
    tcase_add_test(tc, test_balanced_remainder);
    tcase_add_test(tc, test_balanced_fallback);
    tcase_add_test(tc, test_max_seqs);
    tcase_add_test(tc, test_by_size);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_cost_model);
    tcase_add_test(tc, test_sst2_invariants);
    tcase_add_test(tc, test_assign_sst2);
    tcase_add_test(tc, test_assign_hand);
    tcase_add_test(tc, test_assign_vs_optimum);
    tcase_add_test(tc, test_peak_rss);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
