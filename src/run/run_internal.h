/* The run floor's own state: run.h5 while it is open. */
#ifndef BT_RUN_INTERNAL_H
#define BT_RUN_INTERNAL_H

#include "bertology/run.h"
#include "bertology/store.h"

struct bt_run_file {
    bt_store *store; /* NULL once committed or aborted */
    char path[4096];
    char *opts_json;
    int save_attentions, save_hidden, save_rollout;
    /* the sink's scratch, grown to the largest batch and kept */
    int64_t *rows;
    int *tokens, *labels;
    float *targets, *attn, *hidden, *rollout; /* rollout: [sum T] like tokens */
    size_t cap_rows, cap_tokens, cap_attn, cap_hidden, cap_rollout;
};

/* Checkpoint and resume (resume.c, docs/resume.md), for the commands that have them.
 * prepare: reads OUT/checkpoint/state.json (refusing other options, data or weights) and the
 * journals of an earlier run, or clears the way for a new one. start: this rank's journal and
 * the first state.json, once run.h5 is open. Both collective. */
int bt_run_resume_prepare(bt_run *x, bt_error *err);
int bt_run_resume_start(bt_run *x, const char *tmp_path, bt_error *err);
int bt_run_resume_continuing(const bt_run *x); /* an earlier run's state is continued */
const char *bt_run_resume_id(const bt_run *x);  /* NULL without a checkpoint */
const char *bt_run_resume_tmp(const bt_run *x); /* the resumed run's tmp file, relative to --out */
/* Rank 0, after the commit: removes the checkpoint and stale tmp files. */
void bt_run_resume_done(bt_run *x);
/* Test fault injection (BT_TEST_SIGNAL_AFTER=commit:SIG): the summary flushed, then the signal.
 * Collective. */
void bt_run_resume_before_commit(bt_run *x, bt_store *st);
void bt_run_resume_free(bt_run *x);

/* Threads, GEMM backend and oneDNN's instruction set, the same on every rank (kernels.c):
 * before anything runs a product. Collective. */
int bt_run_agree_kernels(MPI_Comm comm, const bt_run_options *o, bt_error *err);

/* The store layout of a run over r's data (has_loss: loss and gate_grad rows). */
bt_store_layout bt_run_layout(const bt_run *r, int has_loss);
/* --task ud (src/run/ud.c): the treebank, its examples and words, checked against the model
 * and the command (a model without a language-model head has no loss on a treebank). Local. */
int bt_run_setup_ud(const bt_run_options *o, bt_run *r, bt_error *err);
/* --task code (src/run/code.c): the functions, their tokens and each token's byte range. Local. */
int bt_run_setup_code(const bt_run_options *o, bt_run *r, bt_error *err);
void bt_run_code_free(bt_run *r);
/* /code of a --task code run (docs/run_h5.md): rank 0 parses every example. Collective. */
int bt_run_write_code(bt_run *r, bt_error *err);
/* run.h5's summary for a command that computes no importance (syntax, cat): the entropy, and
 * /importance (which every run.h5 has) NaN with rank -1, not stale bytes. Collective. */
int bt_run_write_entropy_summary(bt_store *st, int L, int H, const double *entropy_raw, int64_t n_tokens,
                                 int64_t n_examples, bt_error *err);
/* Aborts run.h5 if still open and frees the sink (local). */
void bt_run_file_free(bt_run *r);

#endif
