/* The sweep's sink that writes per-example results and tensors into run.h5 (store floor). */
#ifndef BT_CLI_H5SINK_H
#define BT_CLI_H5SINK_H

#include "bertology/store.h"
#include "bertology/sweep.h"
#include "run_opts.h"

typedef struct {
    bt_store *store;
    const run_ctx *x;
    int save_attentions, save_hidden;
    /* scratch, grown to the largest batch and kept */
    int64_t *rows;
    int *tokens, *labels;
    float *targets, *attn, *hidden;
    size_t cap_rows, cap_tokens, cap_attn, cap_hidden;
    double seconds; /* spent in h5sink_write on this rank (copies + collective writes) */
} h5sink;

/* The store layout of a run over ctx's data. */
bt_store_layout h5sink_layout(const run_opts *o, const run_ctx *x, int has_loss);
int h5sink_write(void *sink, const bt_sweep_batch *b, bt_error *err);
void h5sink_free(h5sink *s);

#endif
