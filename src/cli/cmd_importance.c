/* bertology importance: head importance and attention entropy on a GLUE split, alone or under
 * mpirun/srun, with run.h5 written by all ranks together (the run itself: bt_run_importance). */
#include <stdio.h>

#include "bertology/run.h"
#include "commands.h"
#include "report.h"
#include "run_opts.h"

/* Where the time goes beyond the engine: the slowest rank's seconds per phase (the sweep's own
 * overhead is the pass minus the engine; see docs/sweep.md). */
static void print_timings(const bt_run *x, double t_setup, double t_start) {
    double t[2] = {x->sink_seconds, x->seconds_commit}, tmax[2];
    MPI_Reduce(t, tmax, 2, MPI_DOUBLE, MPI_MAX, 0, x->comm);
    if (x->rank == 0)
        fprintf(stderr,
                "importance: seconds: setup %.3f (model, tokenizer, data), open run.h5 %.3f, pass %.3f "
                "(of which run.h5 rows %.3f), summary+npy+commit %.3f, total %.3f\n",
                t_setup, x->seconds_open, x->seconds_pass, tmax[0], tmax[1], MPI_Wtime() - t_start);
}

int bt_cmd_importance(int argc, char **argv) {
    bt_error err = {0};
    int rank, n_ranks;
    const double t_start = MPI_Wtime();
    bt_run_options o;
    bt_run x = {0};
    int rc = run_begin(&argc, &argv, BT_CMD_IMPORTANCE, "importance", &o, &rank, &n_ranks);
    if (rc) return rc < 0 ? 0 : rc;
    bt_sweep_result res = {0};
    rc = run_open(MPI_COMM_WORLD, &o, &x);
    if (rc) goto done;
    const double t_setup = MPI_Wtime() - t_start;
    if (o.verbose && rank == 0)
        fprintf(stderr, "importance: %d examples, %lld tokens (longest %d), %d rank(s)\n", x.data.n,
                (long long)x.data.n_tokens, x.data.max_len, n_ranks);
    rc = bt_run_importance(&x, &res, &err);
    run_notice(&x);
    if (rc) {
        run_fail(rank, o.name, &err);
        goto done;
    }
    if (o.verbose) print_timings(&x, t_setup, t_start);
    if (rank == 0) {
        const int L = x.model.cfg.n_layers, H = x.model.cfg.n_heads;
        report_table_f(stdout, "Attention entropies", res.entropy, L, H);
        report_table_f(stdout, "Head importance scores", res.importance, L, H);
        report_table_i(stdout, "Head ranked by importance scores", res.ranks, L, H);
        report_summary(stdout, "importance", &res, n_ranks);
        if (o.verbose) fprintf(stderr, "importance: peak RSS %.0f MB (largest over ranks)\n", res.peak_rss / 1e6);
        fflush(stdout);
    }
done:
    bt_sweep_result_free(&res);
    bt_run_close(&x);
    run_end();
    return rc;
}
