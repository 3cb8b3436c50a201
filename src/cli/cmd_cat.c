/* bertology cat: CAT-probing of a code model on CodeSearchNet JSON lines (docs/cat.md), alone or
 * under mpirun/srun; stopped and resumed like every pass (the run itself: bt_run_cat). */
#include <math.h>
#include <stdio.h>

#include "bertology/run.h"
#include "commands.h"
#include "run_opts.h"

#define NAME "cat"

/* Per layer (from 1): the best head and its score, and the layer's score (heads averaged first),
 * for each language present and for all of them pooled. */
static void print_table(FILE *f, const bt_cat_result *r) {
    const int L = r->L, H = r->H;
    fprintf(f, "CAT-scores (Chen et al. 2022): per layer, the best head and the layer (heads averaged first)\n");
    for (int g = 0; g < BT_CAT_GROUPS; g++) {
        if (r->examples[g] == 0) continue;
        fprintf(f, "%s: %lld examples, %lld with fewer than 2 leaves, %lld trees with errors\n",
                g < BT_CODE_N_LANGS ? bt_code_lang_name(g) : "all", (long long)r->examples[g],
                (long long)r->too_few[g], (long long)r->tree_errors[g]);
        fprintf(f, "  %5s  %-9s %8s  %8s\n", "layer", "best head", "score", "layer");
        for (int l = 0; l < L; l++) {
            const double *hs = r->head_score + ((size_t)g * L + l) * H;
            int best = -1;
            for (int h = 0; h < H; h++)
                if (!isnan(hs[h]) && (best < 0 || hs[h] > hs[best])) best = h;
            char lh[32] = "-";
            if (best >= 0) snprintf(lh, sizeof lh, "%d-%d", l + 1, best + 1);
            fprintf(f, "  %5d  %-9s %8.4f  %8.4f\n", l + 1, lh, best >= 0 ? hs[best] : NAN,
                    r->layer_score[(size_t)g * L + l]);
        }
    }
}

int bt_cmd_cat(int argc, char **argv) {
    bt_error err = {0};
    int rank, n_ranks;
    bt_run_options o;
    bt_run x = {0};
    int rc = run_begin(&argc, &argv, BT_CMD_CAT, NAME, &o, &rank, &n_ranks);
    if (rc) return rc < 0 ? 0 : rc;
    bt_cat_result res = {0};
    rc = run_open(MPI_COMM_WORLD, &o, &x);
    if (rc) goto done;
    rc = bt_run_cat(&x, &res, &err);
    run_notice(&x);
    if (rc) {
        run_fail(rank, o.name, &err);
        goto done;
    }
    if (rank == 0) {
        print_table(stdout, &res);
        printf("cat: %lld examples, %lld tokens, %.2f s, %d rank%s", (long long)res.examples[BT_CODE_N_LANGS],
               (long long)res.n_tokens, res.seconds, n_ranks, n_ranks == 1 ? "" : "s");
        if (x.code.skipped) printf(", %zu bad lines skipped", x.code.skipped);
        if (res.n_resumed > 0) printf(", %d of %d batches resumed from the checkpoint", res.n_resumed, res.n_batches);
        putchar('\n');
        if (o.verbose) fprintf(stderr, "cat: peak RSS %.0f MB (largest over ranks)\n", res.peak_rss / 1e6);
        fflush(stdout);
    }
done:
    bt_cat_result_free(&res);
    bt_run_close(&x);
    run_end();
    return rc;
}
