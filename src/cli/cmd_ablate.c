/* bertology ablate: Michel et al.'s single-head ablation ([L, H] score change when only head
 * (l, h) is masked) and their "only one head left in layer l" table ([L, H] score when layer l
 * keeps only head h), in run.h5 (/ablation/...) and printed. */
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "report.h"
#include "run_opts.h"

static void print_results(const bt_sweep_ablation *a, const char *metric, int n_ranks) {
    const int L = a->n_layers, H = a->n_heads, LH = L * H;
    float f[BT_MAX_LAYERS * BT_MAX_HEADS];
    char title[160];
    for (int i = 0; i < LH; i++) f[i] = (float)a->delta[i];
    snprintf(title, sizeof title, "Score change when only this head is masked (%s, base %.6f)", metric, a->base_score);
    report_table_f(stdout, title, f, L, H);
    for (int i = 0; i < LH; i++) f[i] = (float)a->only[i];
    snprintf(title, sizeof title, "Score when the layer keeps only this head (%s)", metric);
    report_table_f(stdout, title, f, L, H);
    const bt_sweep_result *b = &a->base;
    for (int k = 0; k < b->n_metrics; k++) printf("%s = %.6f\n", b->metric_names[k], b->metric_values[k]);
    printf("ablate: %lld examples, %lld tokens, %.2f s, %d rank%s\n", (long long)b->n_examples,
           (long long)b->n_tokens, a->seconds, n_ranks, n_ranks == 1 ? "" : "s");
    const double saved = a->layer_forwards > 0 ? (double)a->naive_layer_forwards / a->layer_forwards : 0.0;
    printf("ablate: %d configurations; %lld layer forwards instead of %lld for full passes (%.2fx fewer)\n", 1 + 2 * LH,
           (long long)a->layer_forwards, (long long)a->naive_layer_forwards, saved);
    if (a->busy_seconds > 0)
        printf("ablate: %.2f s of compute; %d full passes at the measured base-forward cost would take %.2f s "
               "(%.2fx; the base forwards include warm-up)\n",
               a->busy_seconds, 1 + 2 * LH, a->base_forward_seconds * (1 + 2 * LH),
               a->base_forward_seconds * (1 + 2 * LH) / a->busy_seconds);
    printf("ablate: hidden-state cache (L+1) x batch tokens x D floats = %.1f MB per rank\n", a->cache_bytes / 1e6);
}

int bt_cmd_ablate(int argc, char **argv) {
    bt_error err = {0};
    int rank, n_ranks;
    MPI_Comm comm = MPI_COMM_WORLD;
    bt_run_options o;
    bt_run x;
    int rc = run_begin(&argc, &argv, BT_CMD_ABLATE, "ablate", &o, &rank, &n_ranks);
    if (rc) return rc < 0 ? 0 : rc;
    bt_sweep_ablation ab = {0};
    rc = run_open(comm, &o, &x);
    if (rc) goto done;
    rc = bt_run_ablate(&x, &ab, &err);
    run_notice(&x);
    if (rc) {
        run_fail(rank, o.name, &err);
        goto done;
    }
    if (rank == 0) {
        print_results(&ab, x.task ? bt_metric_name(x.task->metrics.default_metric) : "inv_loss", n_ranks);
        fflush(stdout);
    }
done:
    bt_sweep_ablation_free(&ab);
    bt_run_close(&x);
    run_end();
    return rc;
}
