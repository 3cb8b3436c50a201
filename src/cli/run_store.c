#include "run_store.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/dist.h"

#define BT_VERSION "0.1.0"

void run_versions(char *buf, size_t n) {
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    char mpi[MPI_MAX_LIBRARY_VERSION_STRING];
    int len;
    MPI_Get_library_version(mpi, &len);
    char *cut = strchr(mpi, ','); /* Open MPI goes on with repository revision and date */
    if (cut) *cut = '\0';
    snprintf(buf, n, "bertology %s; HDF5 %u.%u.%u; %s; GEMM %s", BT_VERSION, maj, min, rel, mpi,
             bt_engine_gemm_info());
}

int run_store_open(MPI_Comm comm, const run_opts *o, const run_ctx *x, int has_loss, run_store *s) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s/run.h5", o->out);
    char ver[1024];
    run_versions(ver, sizeof ver);
    s->opts_json = run_opts_json(o);
    s->sink = (h5sink){.x = x, .save_attentions = o->save_attentions, .save_hidden = o->save_hidden};
    bt_store_layout layout = h5sink_layout(o, x, has_loss);
    bt_store_meta meta = {.task = x->task ? x->task->name : "text", .split = o->text ? o->text : o->split, .model_dir = o->model,
                          .model_config_json = x->model.config_json, .options_json = s->opts_json,
                          .command_line = o->command_line, .program_version = ver,
                          .openblas_version = bt_gemm_info(BT_GEMM_BLAS)};
    bt_error local = {0}, err = {0};
    /* the estimate is the same on every rank, so all skip the collective open together */
    const double gb = bt_store_estimate_bytes(&layout, &meta) / 1e9;
    int lrc = gb > o->max_output_gb
                  ? bt_error_set(&local, BT_EINPUT, "%s would be %.3g GB, above --max-output-gb %g (fewer --layers, "
                                 "--dtype f16 or --subset)", s->path, gb, o->max_output_gb)
                  : bt_store_open(s->path, comm, &layout, &meta, &s->sink.store, &local);
    const int rc = bt_dist_agree(comm, lrc, &local, &err);
    if (rc) {
        if (s->sink.store) bt_store_abort(s->sink.store);
        s->sink.store = NULL;
        run_fail(rank, o->name, &err);
    }
    return rc;
}

int run_store_summary(run_store *s, const bt_sweep_result *r, bt_error *err) {
    const char *names[8];
    for (int k = 0; k < r->n_metrics; k++) names[k] = r->metric_names[k];
    bt_store_summary sum = {.importance_raw = r->importance_raw, .importance_norm = r->importance,
                            .importance_rank = r->importance ? r->ranks : NULL, .entropy_raw = r->entropy_raw,
                            .entropy_norm = r->entropy, .n_tokens = r->n_tokens, .n_examples = r->n_examples,
                            .n_metrics = r->n_metrics, .metric_names = names, .metric_values = r->metric_values};
    return bt_store_write_summary(s->sink.store, &sum, err);
}

int run_store_commit(MPI_Comm comm, const run_opts *o, run_store *s, int lrc, const bt_error *local) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    bt_error err = {0};
    int rc = bt_dist_agree(comm, lrc, local, &err);
    if (rc) {
        bt_store_abort(s->sink.store);
    } else {
        rc = bt_store_commit(s->sink.store, &err);
    }
    s->sink.store = NULL;
    if (rc) run_fail(rank, o->name, &err);
    return rc;
}

void run_store_free(run_store *s) {
    if (s->sink.store) bt_store_abort(s->sink.store);
    h5sink_free(&s->sink);
    free(s->opts_json);
    memset(s, 0, sizeof *s);
}
