/* Options and set-up shared by the commands that run over a GLUE split (importance, eval, mask,
 * ablate, prune with --task): one flag table, parsed identically on every rank. */
#ifndef BT_CLI_RUN_OPTS_H
#define BT_CLI_RUN_OPTS_H

#include <mpi.h>
#include <stdio.h>

#include "bertology/dataset.h"
#include "bertology/glue.h"
#include "bertology/model.h"
#include "bertology/sweep.h"
#include "bertology/tokenizer.h"

/* Which commands accept a flag (bit mask). */
enum {
    CMD_IMPORTANCE = 1,
    CMD_EVAL = 2,
    CMD_MASK = 4,
    CMD_ABLATE = 8,
    CMD_PRUNE = 16,
};

typedef struct {
    int command; /* CMD_* of the running command */
    const char *name;
    const char *model, *task, *data, *out, *split, *head_mask_path;
    const char *text, *tokenizer; /* language-model data: one document per line; tokenizer dir */
    int max_seq_length, subset, batch_tokens, batch_size, threads;
    int gemm; /* BT_GEMM_*: 0 = auto, or BT_GEMM from the environment */
    int granularity, hf_compat, layer_norm, global_norm, token_norm, skip_bad_lines;
    int save_attentions, save_hidden, dtype_f16;
    char layers_spec[256];
    double max_output_gb;
    int verbose, quiet;
    /* mask */
    double threshold, amount;
    const char *metric, *percents;
    int exact, min_heads_per_layer;
    /* prune */
    const char *out_model;
    char command_line[4096];
} run_opts;

/* The first steps of every command: MPI start, rank and size, flags. Returns 0 to go on;
 * otherwise MPI is finalised, any message printed, and the command returns rc < 0 ? 0 : rc
 * (-1 after --help). */
int run_begin(int *argc, char ***argv, int command, const char *name, run_opts *o, int *rank, int *n_ranks);

/* Parses argv into o. Returns 0, or 2 after printing a one-line error (rank 0 only prints). A
 * --help prints usage and returns -1 (the caller exits 0). */
int run_opts_parse(run_opts *o, int command, const char *name, int argc, char **argv, int rank);
void run_opts_usage(FILE *f, int command, const char *name);

/* Everything a run over a split needs, loaded on every rank. */
typedef struct {
    bt_model model;
    bt_tok *tok;
    const bt_glue_task *task;
    bt_glue_examples examples;
    bt_dataset data;
    bt_lmtext_stats text_stats; /* --text runs */
    float *head_mask;      /* [L, H] or NULL */
    int attn_layers[BT_MAX_LAYERS], n_attn_layers;
    int hidden_layers[BT_MAX_LAYERS + 1], n_hidden_layers;
} run_ctx;

/* Loads model, tokenizer, data and head mask. Collective: every rank loads and checks for itself,
 * then the ranks agree; on failure every rank returns the same code and rank 0 has printed the
 * message. */
int run_setup(MPI_Comm comm, const run_opts *o, run_ctx *ctx);
void run_ctx_free(run_ctx *ctx);

/* Sweep options from the command line. */
bt_sweep_options run_sweep_options(const run_opts *o, const run_ctx *ctx);

/* Prints "bertology <name>: msg" on rank 0. */
void run_fail(int rank, const char *name, const bt_error *err);

/* Creates dir (rank 0) and agrees; rc as run_setup. */
int run_make_out_dir(MPI_Comm comm, const run_opts *o);

/* The options of the run as a JSON object (for run.h5); malloc'd. */
char *run_opts_json(const run_opts *o);

#endif
