/* bertology importance: head importance and attention entropy on a GLUE split, alone or under
 * mpirun/srun, with run.h5 written by all ranks together. */
#include <cblas.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/dist.h"
#include "bertology/npy.h"
#include "bertology/store.h"
#include "commands.h"
#include "h5sink.h"
#include "report.h"
#include "run_opts.h"

#define BT_VERSION "0.1.0"

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

static void versions(char *buf, size_t n) {
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    char mpi[MPI_MAX_LIBRARY_VERSION_STRING];
    int len;
    MPI_Get_library_version(mpi, &len);
    char *nl = strchr(mpi, ','); /* Open MPI's string goes on with repo revision and date */
    if (nl) *nl = '\0';
    snprintf(buf, n, "bertology %s; HDF5 %u.%u.%u; %s; OpenBLAS %s", BT_VERSION, maj, min, rel, mpi, openblas_get_config());
}

int bt_cmd_importance(int argc, char **argv) {
    bt_error err = {0};
    if (bt_dist_init(&argc, &argv, &err)) {
        fprintf(stderr, "bertology importance: %s\n", err.msg);
        return 1;
    }
    MPI_Comm comm = MPI_COMM_WORLD;
    const double t_start = MPI_Wtime();
    int rank, n_ranks;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &n_ranks);
    run_opts o;
    run_ctx x;
    int rc = run_opts_parse(&o, CMD_IMPORTANCE, "importance", argc, argv, rank);
    if (rc) {
        bt_dist_finalize();
        return rc < 0 ? 0 : rc;
    }
    rc = run_setup(comm, &o, &x);
    if (!rc) rc = run_make_out_dir(comm, &o);
    if (rc) {
        run_ctx_free(&x);
        bt_dist_finalize();
        return rc;
    }
    const bt_config *c = &x.model.cfg;
    const int L = c->n_layers, H = c->n_heads;

    /* run.h5: sized up front, refused before anything is written if too large */
    char h5path[4096], ver[1024];
    snprintf(h5path, sizeof h5path, "%s/run.h5", o.out);
    versions(ver, sizeof ver);
    char *opts_json = run_opts_json(&o);
    bt_store_layout layout = h5sink_layout(&o, &x, 1);
    bt_store_meta meta = {.task = x.task ? x.task->name : "text", .split = o.text ? o.text : o.split, .model_dir = o.model,
                          .model_config_json = x.model.config_json, .options_json = opts_json,
                          .command_line = o.command_line, .program_version = ver,
                          .openblas_version = openblas_get_config()};
    const double gb = bt_store_estimate_bytes(&layout, &meta) / 1e9;
    h5sink sink = {.x = &x, .save_attentions = o.save_attentions, .save_hidden = o.save_hidden};
    bt_sweep_result res = {0};
    if (gb > o.max_output_gb) {
        rc = bt_error_set(&err, BT_EINPUT, "%s would be %.3g GB, above --max-output-gb %g (fewer --layers, --dtype f16 or --subset)",
                          h5path, gb, o.max_output_gb);
        run_fail(rank, o.name, &err);
        goto done;
    }
    if (o.verbose && rank == 0)
        fprintf(stderr, "importance: %d examples, %lld tokens (longest %d), run.h5 about %.3f GB, %d rank(s)\n",
                x.data.n, (long long)x.data.n_tokens, x.data.max_len, gb, n_ranks);
    const double t_setup = MPI_Wtime();
    bt_error local = {0};
    int lrc = bt_store_open(h5path, comm, &layout, &meta, &sink.store, &local);
    rc = bt_dist_agree(comm, lrc, &local, &err);
    if (rc) {
        if (!lrc) bt_store_abort(sink.store);
        run_fail(rank, o.name, &err);
        goto done;
    }

    const double t_open = MPI_Wtime();
    bt_sweep_options so = run_sweep_options(&o, &x);
    so.importance = 1;
    so.entropy = 1;
    rc = bt_sweep_pass(comm, &x.model, &x.data, &so, h5sink_write, &sink, &res, &err);
    if (rc) {
        bt_store_abort(sink.store);
        run_fail(rank, o.name, &err);
        goto done;
    }
    const double t_pass = MPI_Wtime();
    lrc = 0;
    if (rank == 0) lrc = write_npys(&o, &res, &local);
    const char *names[8];
    for (int k = 0; k < res.n_metrics; k++) names[k] = res.metric_names[k];
    bt_store_summary sum = {.importance_raw = res.importance_raw, .importance_norm = res.importance,
                            .importance_rank = res.ranks, .entropy_raw = res.entropy_raw, .entropy_norm = res.entropy,
                            .n_tokens = res.n_tokens, .n_examples = res.n_examples, .n_metrics = res.n_metrics,
                            .metric_names = names, .metric_values = res.metric_values};
    if (!lrc) lrc = bt_store_write_summary(sink.store, &sum, &local);
    rc = bt_dist_agree(comm, lrc, &local, &err);
    if (rc) {
        bt_store_abort(sink.store);
        run_fail(rank, o.name, &err);
        goto done;
    }
    rc = bt_store_commit(sink.store, &err);
    if (rc) {
        run_fail(rank, o.name, &err);
        goto done;
    }
    if (o.verbose) {
        /* where the time goes beyond the engine: the slowest rank's seconds per phase (the
         * sweep's own overhead is the pass minus the engine; see docs/sweep.md) */
        double t[2] = {sink.seconds, MPI_Wtime() - t_pass}, tmax[2];
        MPI_Reduce(t, tmax, 2, MPI_DOUBLE, MPI_MAX, 0, comm);
        if (rank == 0)
            fprintf(stderr,
                    "importance: seconds: setup %.3f (model, tokenizer, data), open run.h5 %.3f, pass %.3f "
                    "(of which run.h5 rows %.3f), summary+npy+commit %.3f, total %.3f; run.h5 %.1f MB\n",
                    t_setup - t_start, t_open - t_setup, t_pass - t_open, tmax[0], tmax[1],
                    MPI_Wtime() - t_start, gb * 1e3);
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
    h5sink_free(&sink);
    bt_sweep_result_free(&res);
    free(opts_json);
    run_ctx_free(&x);
    bt_dist_finalize();
    return rc;
}
