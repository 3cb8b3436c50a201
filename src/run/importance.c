/* The importance experiment of a run, everything but the printing (the CLI's `importance` and
 * programs embedding the library run the same code). */
#include <stdio.h>

#include "bertology/npy.h"
#include "bertology/run.h"
#include "bertology/store.h"

/* head_importance.npy and attn_entropy.npy (rank 0), float32 [L, H] as HF's script. Local. */
static int write_npys(const char *dir, const bt_sweep_result *r, bt_error *err) {
    char path[4096];
    const int64_t shape[2] = {r->n_layers, r->n_heads};
    snprintf(path, sizeof path, "%s/head_importance.npy", dir);
    int rc = bt_npy_write(path, BT_NPY_F32, 2, shape, r->importance, err);
    snprintf(path, sizeof path, "%s/attn_entropy.npy", dir);
    if (!rc) rc = bt_npy_write(path, BT_NPY_F32, 2, shape, r->entropy, err);
    return rc;
}

/* What scored the heads: /importance's `method` attribute, and for attattr /attribution (the raw
 * sums and count the normalised scores come from, the steps and the target). Collective. */
static int write_method(bt_run *x, const bt_sweep_result *r, bt_error *err) {
    const bt_run_options *o = x->o;
    bt_store *f = bt_run_store(x);
    const int attr = o->method == BT_SWEEP_ATTATTR;
    const char *method = attr ? "attattr" : "gate", *target = o->attr_pred ? "pred" : "gold";
    int rc = bt_store_write_strings(f, "/importance", "method", 1, &method, err);
    if (rc || !attr) return rc;
    const int64_t shape[2] = {r->n_layers, r->n_heads}, steps = o->steps;
    rc = bt_store_write_array(f, "/attribution/sum", BT_NPY_F64, 2, shape, r->importance_raw, err);
    if (!rc) rc = bt_store_write_array(f, "/attribution/count", BT_NPY_I64, 0, NULL, &r->n_examples, err);
    if (!rc) rc = bt_store_write_array(f, "/attribution/steps", BT_NPY_I64, 0, NULL, &steps, err);
    if (!rc) rc = bt_store_write_strings(f, "/attribution", "method", 1, &method, err);
    if (!rc) rc = bt_store_write_strings(f, "/attribution", "target", 1, &target, err);
    return rc;
}

int bt_run_importance(bt_run *x, bt_sweep_result *res, bt_error *err) {
    /* run.h5 is sized up front and refused before anything is written if too large */
    const double t0 = MPI_Wtime();
    int rc = bt_run_file_open(x, 1, err);
    x->seconds_open = MPI_Wtime() - t0;
    if (rc) return rc;
    bt_sweep_options so = bt_run_sweep_options(x);
    so.importance = 1;
    so.entropy = 1;
    rc = bt_sweep_pass(x->comm, &x->model, &x->data, &so, bt_run_sink, x, res, err);
    const double t1 = MPI_Wtime();
    x->seconds_pass = t1 - t0 - x->seconds_open;
    if (rc) return rc;
    bt_error local = {0};
    /* the summary write is collective: every rank makes it, whatever rank 0's .npy files did */
    int lrc = bt_run_file_summary(x, res, &local);
    if (!lrc) lrc = write_method(x, res, &local);
    if (!lrc && x->rank == 0) lrc = write_npys(x->o->out, res, &local);
    rc = bt_run_file_commit(x, lrc, &local, err);
    x->seconds_commit = MPI_Wtime() - t1;
    return rc;
}
