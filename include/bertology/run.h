/* run: one run over a data set, as a library (docs/architecture.md). Options (with the one flag
 * table that parses them, prints their help, validates them and writes them into run.h5), the
 * loading and cross-checking of model, tokenizer, data and head mask, and the run.h5 sink that
 * the sweep writes through. The command line is a thin layer over this; a program that embeds
 * the library runs exactly what `bertology importance` runs with bt_run_importance().
 *
 * Every function taking a bt_run is collective over the run's communicator unless it says
 * "local": every rank calls it, and on failure every rank returns the same code; err then holds
 * the lowest failing rank's message (bt_dist_agree). The library never prints. */
#ifndef BERTOLOGY_RUN_H
#define BERTOLOGY_RUN_H

#include <mpi.h>
#include <signal.h>
#include <stdio.h>

#include "bertology/conllu.h"
#include "bertology/dataset.h"
#include "bertology/error.h"
#include "bertology/glue.h"
#include "bertology/model.h"
#include "bertology/store.h"
#include "bertology/sweep.h"
#include "bertology/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The commands (bit mask: which commands a flag applies to). */
enum {
    BT_CMD_IMPORTANCE = 1,
    BT_CMD_EVAL = 2,
    BT_CMD_MASK = 4,
    BT_CMD_ABLATE = 8,
    BT_CMD_PRUNE = 16,
    BT_CMD_SYNTAX = 32, /* bertology syntax: its flags come from the same table */
};

typedef struct {
    int command;      /* BT_CMD_* */
    const char *name; /* "importance", ...: the label of progress lines and of options JSON */
    const char *model, *task, *data, *out, *split, *head_mask_path;
    const char *text, *tokenizer; /* language-model data: one document per line; tokenizer dir */
    int max_seq_length, subset, batch_tokens, batch_size, threads;
    int gemm;                   /* BT_GEMM_*: the engine's GEMM backend (0 = auto) */
    int granularity, hf_compat, layer_norm, global_norm, token_norm, skip_bad_lines;
    int save_attentions, save_hidden, dtype_f16;
    int io_mode;        /* bt_store_io of run.h5's rows */
    const char *layers; /* "0,3-5"; NULL or "" = all */
    double max_output_gb;
    int verbose, quiet;
    /* checkpoint and resume (docs/checkpoint.md) */
    double checkpoint_every;                /* seconds between syncs of the work done */
    int restart;                            /* discard an interrupted run in --out */
    const volatile sig_atomic_t *stop;      /* non-zero: stop and save (bt_signals_catch_stop's flag:
                                               never a handler, bertology/signals.h says why) */
    /* mask */
    double threshold, amount;
    const char *metric, *percents;
    int exact, min_heads_per_layer;
    /* syntax */
    int min_arcs; /* the printed table: relations with at least this many arcs */
    char command_line[4096]; /* stored in run.h5 as it is */
} bt_run_options;

/* The defaults of every flag (split dev, --max-seq-length 128, all normalisations, f16, ...). */
void bt_run_options_init(bt_run_options *o, int command, const char *name);

/* ---- the flag table: the single source of parsing, --help, validation and the options JSON --- */

typedef enum {
    BT_FLAG_STRING, /* const char * field = the value */
    BT_FLAG_INT,    /* int field, decimal within [lo, hi] */
    BT_FLAG_DOUBLE, /* double field, finite, lo < v < hi (open bounds) */
    BT_FLAG_SET,    /* no value: int field = lo */
    BT_FLAG_CHOICE, /* int field = the value of the matching choice */
    BT_FLAG_HELP    /* no value, no field */
} bt_flag_kind;

typedef struct {
    const char *name; /* the value on the command line */
    int value;        /* stored in the field; the first choice of a value names it in the JSON */
} bt_flag_choice;

typedef struct {
    const char *name;   /* long flag, without "--" */
    const char *json;   /* key in the options JSON (NULL: not stored) */
    int commands;       /* BT_CMD_* bits the flag applies to */
    bt_flag_kind kind;
    size_t offset;      /* of the field in bt_run_options */
    double lo, hi;      /* bounds (INT: inclusive; DOUBLE: exclusive), SET: the value set */
    const bt_flag_choice *choices; /* CHOICE: terminated by {NULL, 0} */
    const char *arg;    /* value placeholder in --help ("DIR"), NULL without a value */
    const char *help;
    const char *bad;    /* what a bad value is told: "--subset x: need a positive integer" */
    int json_always;    /* stored in the JSON of every command (else only where it applies) */
} bt_flag;

const bt_flag *bt_run_flags(int *n);
/* The flag called name ("max-seq-length"), or NULL. */
const bt_flag *bt_run_flag_find(const char *name);
/* Sets the flag's field from value (NULL for flags without one), checking its bounds. Local. */
int bt_run_flag_apply(bt_run_options *o, const bt_flag *f, const char *value, bt_error *err);
/* The checks between flags (--task or --text, --hf-compat needs batch granularity, ...). Local. */
int bt_run_options_check(const bt_run_options *o, bt_error *err);
/* "usage: ..." and one line per flag of the command. */
void bt_run_options_usage(FILE *f, int command, const char *name);
/* The options as a JSON object, one key per flag of the command (malloc'd; NULL if out of
 * memory). Local. */
char *bt_run_options_json(const bt_run_options *o);

/* ---- a run ----------------------------------------------------------------------------------- */

struct bt_run_file; /* run.h5 while it is open: the store plus the sink's scratch */
struct bt_run_ckpt; /* the checkpoint of a run with --out */

typedef struct {
    const bt_run_options *o; /* the caller's, kept alive until bt_run_close */
    MPI_Comm comm;
    int rank, n_ranks;
    bt_model model;
    bt_tok *tok;
    const bt_glue_task *task; /* NULL for --text runs and prune without --task */
    bt_glue_examples examples;
    bt_dataset data;
    bt_lmtext_stats text_stats; /* --text runs */
    float *head_mask;           /* [L, H] or NULL */
    int attn_layers[BT_MAX_LAYERS], n_attn_layers;
    int hidden_layers[BT_MAX_LAYERS + 1], n_hidden_layers;
    struct bt_run_file *file;
    struct bt_run_ckpt *ckpt;
    char notice[512]; /* something the caller should tell the user ("" if nothing) */
    /* runs over data that are neither a GLUE task nor --text (bertology syntax on CoNLL-U): what
     * run.h5 says the task and split are, and no logits or labels in its rows */
    const char *meta_task, *meta_split;
    int no_labels;
    /* --task ud (docs/syntax.md): the treebank and each example's words (example i = sentence
     * ud_pieces.sent[i]); run.h5 gets them as /words */
    int is_ud;
    bt_conllu ud;
    bt_conllu_pieces ud_pieces;
    int64_t ud_skipped_short; /* one-token sentences dropped for a language model's loss */
    double sink_seconds; /* spent writing run.h5 rows on this rank */
    /* wall time of bt_run_importance's phases on this rank: open run.h5, pass, summary + .npy +
     * commit */
    double seconds_open, seconds_pass, seconds_commit;
} bt_run;

/* Loads model, tokenizer, data and head mask and checks them against each other (vocabulary,
 * positions, labels, head-mask shape and values, --layers). Every rank loads for itself; sets
 * the engine's threads (o->threads). On failure r is freed. */
int bt_run_open(MPI_Comm comm, const bt_run_options *o, bt_run *r, bt_error *err);
void bt_run_close(bt_run *r);

/* The sweep options of the run's flags (plan, granularity, normalisations, head mask, metrics,
 * what the sink will read; progress lines to stderr unless --quiet). Local. */
bt_sweep_options bt_run_sweep_options(const bt_run *r);

/* The checkpoint hooks of the open run.h5 (NULL when the run has none), and how many batches of
 * earlier runs it holds (docs/checkpoint.md). */
const bt_sweep_checkpoint *bt_run_ckpt_hooks(const bt_run *r);
size_t bt_run_ckpt_saved_batches(const bt_run *r);

/* Creates o->out (mkdir -p) and opens o->out/run.h5 for per-example rows (has_loss: loss and
 * gate_grad rows). Refuses a file larger than --max-output-gb before writing anything. A --task
 * ud run's file gets its /words arrays here (bt_run_write_words). */
int bt_run_file_open(bt_run *r, int has_loss, bt_error *err);
/* The open run.h5 (NULL when not open), for arrays only one experiment writes
 * (bt_store_write_array: /masking, /ablation). */
bt_store *bt_run_store(const bt_run *r);
/* /words of a --task ud run (docs/run_h5.md): per example its word count and offset, per word
 * its first piece, piece count, UPOS, HEAD, DEPREL; rank 0's arrays. Collective. */
int bt_run_write_words(bt_run *r, bt_error *err);
/* The sink to give the sweep while run.h5 is open (ctx: the run). */
int bt_run_sink(void *run, const bt_sweep_batch *b, bt_error *err);
/* The summary of a pass (importance fields only when res has them). Collective; local code. */
int bt_run_file_summary(bt_run *r, const bt_sweep_result *res, bt_error *err);
/* Agrees on lrc (this rank's outcome since the file was opened: local holds its message), then
 * commits run.h5 or removes it. */
int bt_run_file_commit(bt_run *r, int lrc, const bt_error *local, bt_error *err);

/* `bertology importance` without the printing: run.h5 with every example's rows, the pass's
 * summary, head_importance.npy and attn_entropy.npy (float32 [L, H], HF's names) in o->out. */
int bt_run_importance(bt_run *r, bt_sweep_result *res, bt_error *err);

/* `bertology ablate` without the printing: run.h5 with the base forward's rows and summary and
 * /ablation/{score_without_head, score_change, score_only_head, base_score,
 * layer_forwards_vs_naive}, head_ablation.npy and head_alone.npy in o->out. */
int bt_run_ablate(bt_run *r, bt_sweep_ablation *res, bt_error *err);

/* `bertology eval` without the printing: one forward pass; with o->out, run.h5 (rows, entropy,
 * metrics) and predictions.tsv. */
int bt_run_eval(bt_run *r, bt_sweep_result *res, bt_error *err);

/* The mask flags that need no model, parsed and checked before a run is opened: --percents
 * (sorted, distinct, in (0, 100]) and --metric. Local. */
#define BT_RUN_MAX_PERCENTS 256
typedef struct {
    double percents[BT_RUN_MAX_PERCENTS];
    int n_percents;
    bt_metric_id metric;          /* --metric of a GLUE task */
    int lm_metric, lm_perplexity; /* --metric inv_loss / inv_perplexity (--text) */
} bt_run_mask_plan;
int bt_run_mask_prepare(const bt_run_options *o, bt_run_mask_plan *p, bt_error *err);

/* `bertology mask` without the printing: the search (on_step: progress, may be NULL), run.h5
 * with the first pass's rows and /masking/..., head_mask.npy, head_importance.npy and
 * attn_entropy.npy. *metric_name: the watched metric, set before the first step. Options the
 * model contradicts are refused before run.h5 is created. */
int bt_run_mask(bt_run *r, const bt_run_mask_plan *p, bt_sweep_mask_step_fn on_step, void *step_ctx,
                bt_sweep_mask_result *res, const char **metric_name, bt_error *err);

/* "bertology X; HDF5 a.b.c; Open MPI ...; OpenBLAS ..." */
void bt_run_versions(char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
