/* The ablation experiment of a run, everything but the printing: run.h5 with the base forward's
 * rows and summary, /ablation/... arrays, and head_ablation.npy / head_alone.npy (float32 [L, H]). */
#include <stdio.h>
#include <stdlib.h>

#include "bertology/common.h"
#include "bertology/npy.h"
#include "bertology/run.h"

/* Collective for the arrays; the .npy files on rank 0. Local code. */
static int write_results(const bt_run *x, const bt_run_options *o, const bt_sweep_ablation *a, int rank, bt_error *err) {
    const int L = a->n_layers, H = a->n_heads, LH = L * H;
    const int64_t shape[2] = {L, H};
    int rc = bt_store_write_array(bt_run_store(x), "/ablation/score_without_head", BT_NPY_F64, 2, shape, a->without, err);
    if (!rc) rc = bt_store_write_array(bt_run_store(x), "/ablation/score_change", BT_NPY_F64, 2, shape, a->delta, err);
    if (!rc) rc = bt_store_write_array(bt_run_store(x), "/ablation/score_only_head", BT_NPY_F64, 2, shape, a->only, err);
    if (!rc) rc = bt_store_write_array(bt_run_store(x), "/ablation/base_score", BT_NPY_F64, 0, NULL, &a->base_score, err);
    const int64_t counts[2] = {a->layer_forwards, a->naive_layer_forwards}, two = 2;
    if (!rc) rc = bt_store_write_array(bt_run_store(x), "/ablation/layer_forwards_vs_naive", BT_NPY_I64, 1, &two, counts, err);
    if (rc || rank != 0) return rc;
    /* HF-style float32 [L, H] files next to run.h5 */
    float *f = bt_malloc((size_t)LH, sizeof(float), "head_ablation.npy", err);
    if (!f) return BT_EINTERNAL;
    char path[4096];
    for (int i = 0; i < LH; i++) f[i] = (float)a->delta[i];
    snprintf(path, sizeof path, "%s/head_ablation.npy", o->out);
    rc = bt_npy_write(path, BT_NPY_F32, 2, shape, f, err);
    for (int i = 0; i < LH; i++) f[i] = (float)a->only[i];
    snprintf(path, sizeof path, "%s/head_alone.npy", o->out);
    if (!rc) rc = bt_npy_write(path, BT_NPY_F32, 2, shape, f, err);
    free(f);
    return rc;
}

int bt_run_ablate(bt_run *x, bt_sweep_ablation *ab, bt_error *err) {
    int rc = bt_run_file_open(x, 0, err);
    if (rc) return rc;
    bt_sweep_options so = bt_run_sweep_options(x);
    so.importance = 0;
    so.entropy = 1;
    rc = bt_sweep_ablate(x->comm, &x->model, &x->data, &so, bt_run_sink, x, ab, err);
    if (rc) return rc;
    bt_error local = {0};
    int lrc = bt_run_file_summary(x, &ab->base, &local);
    if (!lrc) lrc = write_results(x, x->o, ab, x->rank, &local);
    return bt_run_file_commit(x, lrc, &local, err);
}
