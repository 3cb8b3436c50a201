/* run.h5 of a run: open (sized up front and refused before anything is written if too large),
 * summary, commit; each step agreed by all ranks. */
#include <math.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/engine.h"
#include "bertology/dist.h"
#include "bertology/version.h"
#include "run_internal.h"


void bt_run_versions(char *buf, size_t n) {
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

/* A new file: sized up front and refused before anything is written if too large or if it does
 * not fit on the file system. */
static int create_new(bt_run *x, const bt_store_layout *layout, const bt_store_meta *meta, bt_error *err) {
    const bt_run_options *o = x->o;
    struct bt_run_file *s = x->file;
    /* the estimate is the same on every rank, so all skip the collective open together */
    const uint64_t bytes = bt_store_estimate_bytes(layout, meta);
    const double gb = bytes / 1e9;
    if (gb > o->max_output_gb)
        return bt_error_set(err, BT_EINPUT, "%s would be %.3g GB, above `max_output_gb` %g (fewer `layers`, "
                            "`dtype` f16 or `subset`)", s->path, gb, o->max_output_gb);
    /* the free space is rank 0's to measure (a node-local view of a shared file system would
     * differ); all ranks agree on it before the collective open */
    bt_error space = {0};
    const int src = x->rank == 0 ? bt_store_check_space(o->out, bytes, &space) : BT_OK;
    if (bt_dist_agree(x->comm, src, &space, err)) return err->code;
    return bt_store_open(s->path, x->comm, layout, meta, &s->store, err);
}

/* The file's state, then a new file or the reopened one of an interrupted run. Collective. */
static int open_file(bt_run *x, int has_loss, bt_error *err) {
    const bt_run_options *o = x->o;
    bt_error local = {0};
    struct bt_run_file *s = x->file = bt_calloc(1, sizeof *s, "run.h5", &local);
    if (s) {
        snprintf(s->path, sizeof s->path, "%s/run.h5", o->out);
        s->save_attentions = o->save_attentions;
        s->save_hidden = o->save_hidden;
        s->save_rollout = o->save_rollout;
        s->opts_json = bt_run_options_json(o);
    }
    int rc = bt_dist_agree(x->comm, !s ? BT_EINTERNAL : !s->opts_json ? bt_error_set(&local, BT_EINTERNAL,
                           "out of memory for the options of run.h5") : BT_OK, &local, err);
    if (!rc && bt_run_resumable(o)) rc = bt_run_resume_prepare(x, err);
    if (rc) return rc;
    char ver[1024];
    bt_run_versions(ver, sizeof ver);
    bt_store_layout layout = bt_run_layout(x, has_loss);
    bt_store_meta meta = {.task = x->meta_task ? x->meta_task : x->task ? x->task->name : "text",
                          .split = x->meta_split ? x->meta_split : o->text ? o->text : o->split,
                          .model_dir = o->model, .model_config_json = x->model.config_json,
                          .options_json = s->opts_json, .command_line = o->command_line, .program_version = ver,
                          .openblas_version = bt_gemm_info(BT_GEMM_BLAS), .checkpoint_id = bt_run_resume_id(x)};
    if (bt_run_resume_continuing(x)) {
        char tmp[4400];
        snprintf(tmp, sizeof tmp, "%s/%s", o->out, bt_run_resume_tmp(x));
        rc = bt_store_reopen(tmp, s->path, x->comm, &layout, bt_run_resume_id(x), &s->store, &local);
        if (rc == BT_EINPUT) { /* not this run's file */
            char why[BT_ERROR_MSG_MAX];
            snprintf(why, sizeof why, "%s", local.msg);
            bt_error_set(&local, rc, "%.900s; `restart` starts over", why);
        }
        rc = bt_dist_agree(x->comm, rc, &local, err);
    } else {
        rc = bt_dist_agree(x->comm, create_new(x, &layout, &meta, &local), &local, err);
    }
    if (!rc && bt_run_resumable(o)) rc = bt_run_resume_start(x, bt_store_tmp_path(s->store), err);
    return rc;
}

int bt_run_file_open(bt_run *x, int has_loss, bt_error *err) {
    bt_error local = {0};
    int lrc = x->rank == 0 ? bt_mkdir_p(x->o->out, BT_EINPUT, &local) : BT_OK;
    /* mkdir -p on rank 0 only, then every rank opens */
    int rc = bt_dist_agree(x->comm, lrc, &local, err);
    if (rc) return rc;
    rc = open_file(x, has_loss, err);
    /* a resumed run's file has them already */
    if (!rc && x->is_ud && !bt_run_resume_continuing(x)) rc = bt_dist_agree(x->comm, bt_run_write_words(x, &local), &local, err);
    if (!rc && x->is_code && !bt_run_resume_continuing(x)) rc = bt_run_write_code(x, err);
    if (rc) bt_run_file_free(x);
    return rc;
}

int bt_run_write_entropy_summary(bt_store *st, int L, int H, const double *entropy_raw, int64_t n_tokens,
                                 int64_t n_examples, bt_error *err) {
    const int LH = L * H;
    float ent[BT_MAX_LAYERS * BT_MAX_HEADS], nan_norm[BT_MAX_LAYERS * BT_MAX_HEADS];
    double nan_raw[BT_MAX_LAYERS * BT_MAX_HEADS];
    int no_rank[BT_MAX_LAYERS * BT_MAX_HEADS];
    for (int j = 0; j < LH; j++) {
        ent[j] = (float)(n_tokens ? entropy_raw[j] / (double)n_tokens : 0.0);
        nan_raw[j] = NAN, nan_norm[j] = NAN, no_rank[j] = -1;
    }
    const bt_store_summary sum = {.entropy_raw = entropy_raw, .entropy_norm = ent, .n_tokens = n_tokens,
                                  .n_examples = n_examples, .importance_raw = nan_raw,
                                  .importance_norm = nan_norm, .importance_rank = no_rank};
    return bt_store_write_summary(st, &sum, err);
}

int bt_run_file_summary(bt_run *x, const bt_sweep_result *r, bt_error *err) {
    if (!x->file || !x->file->store) return bt_error_set(err, BT_EINTERNAL, "run.h5 is not open");
    const char *names[8];
    for (int k = 0; k < r->n_metrics; k++) names[k] = r->metric_names[k];
    bt_store_summary sum = {.importance_raw = r->importance_raw, .importance_norm = r->importance,
                            .importance_rank = r->importance ? r->ranks : NULL, .entropy_raw = r->entropy_raw,
                            .entropy_norm = r->entropy, .n_tokens = r->n_tokens, .n_examples = r->n_examples,
                            .n_metrics = r->n_metrics, .metric_names = names, .metric_values = r->metric_values};
    return bt_store_write_summary(x->file->store, &sum, err);
}

int bt_run_file_commit(bt_run *x, int lrc, const bt_error *local, bt_error *err) {
    struct bt_run_file *s = x->file;
    int rc = bt_dist_agree(x->comm, lrc || !s || !s->store ? (lrc ? lrc : BT_EINTERNAL) : BT_OK, local, err);
    if (rc) {
        if (s && s->store) bt_store_abort(s->store);
    } else {
        bt_run_resume_before_commit(x, s->store);
        rc = bt_store_commit(s->store, err);
        if (!rc) bt_run_resume_done(x);
    }
    if (s) s->store = NULL;
    return rc;
}

bt_store *bt_run_store(const bt_run *x) { return x->file ? x->file->store : NULL; }

void bt_run_file_free(bt_run *x) {
    struct bt_run_file *s = x->file;
    if (!s) {
        bt_run_resume_free(x);
        return;
    }
    /* a stopped run's file stays, to be reopened by the run that resumes it; collective, as the
     * close is (a signal may have reached some ranks only: rank 0 writes the status) */
    if (s->store) {
        int asked = x->o->stop && *x->o->stop && bt_run_resume_hooks(x), any = 0;
        MPI_Allreduce(&asked, &any, 1, MPI_INT, MPI_MAX, x->comm);
        if (any) bt_store_suspend(s->store);
        else bt_store_abort(s->store);
    }
    bt_run_resume_free(x);
    free(s->rows), free(s->tokens), free(s->labels), free(s->targets), free(s->attn), free(s->hidden), free(s->rollout);
    free(s->opts_json);
    free(s);
    x->file = NULL;
}
