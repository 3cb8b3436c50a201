#include "report.h"

#include "bertology/engine.h"

static void header(FILE *f, const char *title, int H) {
    if (title) fprintf(f, "%s\n", title);
    fprintf(f, "lv, h >");
    for (int h = 0; h < H; h++) fprintf(f, "\t%d", h + 1);
    fprintf(f, "\n");
}

void report_table_f(FILE *f, const char *title, const float *v, int L, int H) {
    header(f, title, H);
    for (int l = 0; l < L; l++) {
        fprintf(f, "layer %d:", l + 1);
        for (int h = 0; h < H; h++) fprintf(f, "\t%.5f", v[l * H + h]);
        fprintf(f, "\n");
    }
}

void report_table_i(FILE *f, const char *title, const int *v, int L, int H) {
    header(f, title, H);
    for (int l = 0; l < L; l++) {
        fprintf(f, "layer %d:", l + 1);
        for (int h = 0; h < H; h++) fprintf(f, "\t%d", v[l * H + h]);
        fprintf(f, "\n");
    }
}

void report_summary(FILE *f, const char *what, const bt_sweep_result *r, int n_ranks) {
    for (int k = 0; k < r->n_metrics; k++) fprintf(f, "%s = %.6f\n", r->metric_names[k], r->metric_values[k]);
    fprintf(f, "%s: %lld examples, %lld tokens, %.2f s, %.0f tokens/s, %d rank%s", what,
            (long long)r->n_examples, (long long)r->n_tokens, r->seconds,
            r->seconds > 0 ? r->n_tokens / r->seconds : 0.0, n_ranks, n_ranks == 1 ? "" : "s");
    /* the rate above counts them as if computed in this run */
    if (r->n_resumed > 0) fprintf(f, ", %d of %d batches resumed from the checkpoint", r->n_resumed, r->n_batches);
    fputc('\n', f);
    /* after a successful run, so that a failing one still prints exactly one line */
    if (r->n_batches > 0 && r->n_batches < 4 * n_ranks && n_ranks > 1)
        fprintf(stderr, "bertology: note: %d batches for %d ranks: ranks idle part of the time; a smaller "
                "--batch-tokens (the plan does not depend on the ranks) balances better\n", r->n_batches, n_ranks);
    static int warned;
    const char *warn = bt_engine_blas_warning();
    if (warn && !warned++) fprintf(stderr, "bertology: warning: %s\n", warn);
}
