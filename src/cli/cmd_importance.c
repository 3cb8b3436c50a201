/* bertology importance: head importance and attention entropy on a GLUE split, alone or under
 * mpirun/srun, with run.h5 written by all ranks together. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/dist.h"
#include "bertology/npy.h"
#include "bertology/store.h"
#include "commands.h"
#include "run_store.h"
#include "report.h"
#include "run_opts.h"

/* Writes head_importance.npy and attn_entropy.npy (rank 0), float32 [L, H] as HF's script. */
static int write_npys(const run_opts *o, const bt_sweep_result *r, bt_error *err) {
    char path[4096];
    const int64_t shape[2] = {r->n_layers, r->n_heads};
    snprintf(path, sizeof path, "%s/head_importance.npy", o->out);
    int rc = bt_npy_write(path, BT_NPY_F32, 2, shape, r->importance, err);
    snprintf(path, sizeof path, "%s/attn_entropy.npy", o->out);
    if (!rc) rc = bt_npy_write(path, BT_NPY_F32, 2, shape, r->entropy, err);
    return rc;
}

int bt_cmd_importance(int argc, char **argv) {
    bt_error err = {0};
    int rank, n_ranks;
    MPI_Comm comm = MPI_COMM_WORLD;
    const double t_start = MPI_Wtime();
    run_opts o;
    run_ctx x;
    int rc = run_begin(&argc, &argv, CMD_IMPORTANCE, "importance", &o, &rank, &n_ranks);
    if (rc) return rc < 0 ? 0 : rc;
    run_store st = {0};
    bt_sweep_result res = {0};
    rc = run_setup(comm, &o, &x);
    if (!rc) rc = run_make_out_dir(comm, &o);
    const double t_setup = MPI_Wtime();
    /* run.h5 is sized up front and refused before anything is written if too large */
    if (!rc) rc = run_store_open(comm, &o, &x, 1, &st);
    if (rc) goto done;
    const bt_config *c = &x.model.cfg;
    const int L = c->n_layers, H = c->n_heads;
    if (o.verbose && rank == 0)
        fprintf(stderr, "importance: %d examples, %lld tokens (longest %d), %d rank(s)\n", x.data.n,
                (long long)x.data.n_tokens, x.data.max_len, n_ranks);

    const double t_open = MPI_Wtime();
    bt_sweep_options so = run_sweep_options(&o, &x);
    so.importance = 1;
    so.entropy = 1;
    rc = bt_sweep_pass(comm, &x.model, &x.data, &so, h5sink_write, &st.sink, &res, &err);
    if (rc) {
        run_fail(rank, o.name, &err);
        goto done;
    }
    const double t_pass = MPI_Wtime();
    bt_error local = {0};
    /* the summary write is collective: every rank makes it, whatever rank 0's .npy files did */
    int lrc = run_store_summary(&st, &res, &local);
    if (!lrc && rank == 0) lrc = write_npys(&o, &res, &local);
    rc = run_store_commit(comm, &o, &st, lrc, &local);
    if (rc) goto done;
    if (o.verbose) {
        /* where the time goes beyond the engine: the slowest rank's seconds per phase (the
         * sweep's own overhead is the pass minus the engine; see docs/sweep.md) */
        double t[2] = {st.sink.seconds, MPI_Wtime() - t_pass}, tmax[2];
        MPI_Reduce(t, tmax, 2, MPI_DOUBLE, MPI_MAX, 0, comm);
        if (rank == 0)
            fprintf(stderr,
                    "importance: seconds: setup %.3f (model, tokenizer, data), open run.h5 %.3f, pass %.3f "
                    "(of which run.h5 rows %.3f), summary+npy+commit %.3f, total %.3f\n",
                    t_setup - t_start, t_open - t_setup, t_pass - t_open, tmax[0], tmax[1], MPI_Wtime() - t_start);
    }
    if (rank == 0) {
        report_table_f(stdout, "Attention entropies", res.entropy, L, H);
        report_table_f(stdout, "Head importance scores", res.importance, L, H);
        report_table_i(stdout, "Head ranked by importance scores", res.ranks, L, H);
        report_summary(stdout, "importance", &res, n_ranks);
        if (o.verbose) fprintf(stderr, "importance: peak RSS %.0f MB (largest over ranks)\n", res.peak_rss / 1e6);
        fflush(stdout);
    }
done:
    run_store_free(&st);
    bt_sweep_result_free(&res);
    run_ctx_free(&x);
    run_finalize();
    return rc;
}
