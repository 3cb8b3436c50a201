/* bertology syntax: Clark et al.'s syntactic heads on a CoNLL-U treebank (docs/syntax.md), alone
 * or under mpirun/srun; stopped and resumed like every pass (the run itself: bt_run_syntax). */
#include <stdio.h>

#include "bertology/run.h"
#include "commands.h"
#include "run_opts.h"

#define NAME "syntax"

/* Clark et al.'s Figure 5 as text: per relation with enough arcs, most frequent first (ties in
 * relation order), the best (layer, head, direction) and the best offset baseline. Layers and
 * heads count from 1. */
static void print_table(FILE *f, const bt_run_syntax_result *d, int min_arcs) {
    const bt_syntax_result *r = &d->counts;
    const size_t LH2 = (size_t)r->L * r->H * 2;
    fprintf(f, "Syntactic heads (Clark et al. 2019): the best head per relation (at least %d arcs)\n", min_arcs);
    fprintf(f, "%-12s %8s  %-10s %-9s %8s  %8s %6s\n", "relation", "arcs", "layer-head", "direction", "accuracy",
            "baseline", "offset");
    for (int k = 0; k < r->R; k++) {
        const int q = d->by_arcs[k];
        if (r->arcs[q] < min_arcs || r->arcs[q] == 0) continue;
        size_t best = 0;
        for (size_t j = 1; j < LH2; j++)
            if (r->correct[q * LH2 + j] > r->correct[q * LH2 + best]) best = j;
        const int l = (int)(best / (2 * r->H)), h = (int)(best / 2 % r->H), dir = (int)(best % 2);
        char lh[32];
        snprintf(lh, sizeof lh, "%d-%d", l + 1, h + 1);
        fprintf(f, "%-12s %8lld  %-10s %-9s %8.3f  %8.3f %+6d\n", d->relations[q], (long long)r->arcs[q], lh,
                dir ? "head->dep" : "dep->head", d->accuracy[q * LH2 + best], d->baseline_accuracy[q],
                d->baseline_offset[q]);
    }
}

int bt_cmd_syntax(int argc, char **argv) {
    bt_error err = {0};
    int rank, n_ranks;
    bt_run_options o;
    bt_run x = {0};
    int rc = run_begin(&argc, &argv, BT_CMD_SYNTAX, NAME, &o, &rank, &n_ranks);
    if (rc) return rc < 0 ? 0 : rc;
    bt_run_syntax_result res = {0};
    /* bt_run_open reads the treebank (--task ud) and keeps every layer (no --layers) */
    rc = run_open(MPI_COMM_WORLD, &o, &x);
    if (rc) goto done;
    rc = bt_run_syntax(&x, &res, &err);
    run_notice(&x);
    if (rc) {
        run_fail(rank, o.name, &err);
        goto done;
    }
    if (rank == 0) {
        const bt_syntax_result *r = &res.counts;
        print_table(stdout, &res, o.min_arcs);
        printf("syntax: %lld sentences, %lld arcs, %lld tokens, %.2f s, %d rank%s", (long long)r->n_examples,
               (long long)r->arcs[r->R - 1], (long long)r->n_tokens, r->seconds, n_ranks, n_ranks == 1 ? "" : "s");
        if (r->n_resumed > 0) printf(", %d of %d batches resumed from the checkpoint", r->n_resumed, r->n_batches);
        putchar('\n');
        if (o.verbose) fprintf(stderr, "syntax: peak RSS %.0f MB (largest over ranks)\n", r->peak_rss / 1e6);
        fflush(stdout);
    }
done:
    bt_run_syntax_result_free(&res);
    bt_run_close(&x);
    run_end();
    return rc;
}
