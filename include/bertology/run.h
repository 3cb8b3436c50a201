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

#include "bertology/cat.h"
#include "bertology/code_jsonl.h"
#include "bertology/conllu.h"
#include "bertology/dataset.h"
#include "bertology/error.h"
#include "bertology/glue.h"
#include "bertology/model.h"
#include "bertology/store.h"
#include "bertology/sweep.h"
#include "bertology/syntax.h"
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
    BT_CMD_SYNTAX = 32,
    /* the tools: no data set, no MPI; their flags come from the same table */
    BT_CMD_FORWARD = 64,
    BT_CMD_BENCH = 128,
    BT_CMD_TOKENIZE = 256,
    BT_CMD_SCHEMA = 512,
    BT_CMD_CAT = 1024, /* an experiment, listed after the tools: the bits of the others stay */
    /* the commands whose runs keep a checkpoint and can be stopped and resumed (docs/resume.md) */
    BT_CMD_RESUMABLE = BT_CMD_IMPORTANCE | BT_CMD_EVAL | BT_CMD_MASK | BT_CMD_ABLATE | BT_CMD_SYNTAX | BT_CMD_CAT,
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
    int save_rollout;       /* attention rollout per example (Abnar & Zuidema 2020) */
    /* importance, mask, prune: the head score (docs/attribution.md) */
    int method;             /* bt_sweep_method */
    int steps;              /* attattr: Riemann steps m */
    int attr_pred;          /* attattr: target the predicted class instead of the gold one */
    int save_attributions;  /* attattr: every example's [L, H, T, T] attribution map */
    int io_mode;        /* bt_store_io of run.h5's rows */
    const char *layers; /* "0,3-5"; NULL or "" = all */
    double max_output_gb;
    int verbose, quiet;
    /* checkpoint and resume (docs/resume.md) */
    double checkpoint_every;                /* seconds between syncs of the work done */
    int restart;                            /* discard an interrupted run in --out */
    const volatile sig_atomic_t *stop;      /* non-zero: stop and save (bt_signals_catch_stop's flag:
                                               never a handler, bertology/signals.h says why) */
    /* mask */
    double threshold, amount;
    const char *metric, *percents;
    int exact, min_heads_per_layer;
    /* mask and prune: a fixed ranking of the heads instead of importance (highest kept) */
    const char *scores_path;
    double percent; /* prune --scores: the share of all heads removed */
    /* syntax */
    int min_arcs; /* the printed table: relations with at least this many arcs */
    /* cat (docs/cat.md) */
    int cat_plain;           /* the plain AST instead of the U-AST */
    const char *cat_types;   /* "identifier,string": leaf types kept; NULL or "" = all */
    /* forward: token ids, types and labels one sequence a line; gates [L, H]; tensors to write */
    const char *ids_path, *types_path, *labels_path, *gates_path;
    int want_attentions, want_hidden;
    /* bench: layers of the random model, timed runs per case */
    int bench_layers, reps;
    /* tokenize: pairs (tab-separated), types printed, --bench FILE and its header line */
    int pair, print_types, skip_header;
    const char *bench_file;
    char command_line[4096]; /* stored in run.h5 as it is */
} bt_run_options;

/* The defaults of every flag (split dev, --max-seq-length 128, all normalisations, f16, ...):
 * each row's .def of the flag table. */
void bt_run_options_init(bt_run_options *o, int command, const char *name);
/* 1 when the run keeps a checkpoint: a resumable command with --out and --checkpoint-every > 0. */
int bt_run_resumable(const bt_run_options *o);

/* ---- the flag table: the single source of parsing, --help, defaults, validation and the options
 * JSON ---- */

typedef enum {
    BT_FLAG_STRING, /* const char * field = the value */
    BT_FLAG_INT,    /* int field, decimal within [lo, hi] */
    BT_FLAG_DOUBLE, /* double field, finite, lo < v < hi (open bounds) */
    BT_FLAG_SET,    /* no value: int field = 1 (0 when not given) */
    BT_FLAG_CLEAR,  /* no value: int field = 0 (1 when not given): --no-layer-norm */
    BT_FLAG_CHOICE, /* int field = the value of the matching choice */
    BT_FLAG_HELP    /* no value, no field */
} bt_flag_kind;

typedef struct {
    const char *name; /* the value on the command line */
    int value;        /* stored in the field; the first choice of a value names it in the JSON */
} bt_flag_choice;

typedef struct {
    const char *name;   /* long flag, without "--" */
    const char *key;    /* the option's name in the library's terms: its key in the options JSON
                           (when stored) and how library messages name it (`key`, see below) */
    int stored;         /* in the options JSON: 1 of every command, 2 only where it applies */
    int commands;       /* BT_CMD_* bits the flag applies to */
    bt_flag_kind kind;
    size_t offset;      /* of the field in bt_run_options */
    const char *def;    /* the default, spelled as on the command line; NULL: none (0, NULL) */
    const char *def_note; /* the default when it is no value of the field (resolved later) */
    double lo, hi;      /* bounds (INT: inclusive; DOUBLE: exclusive) */
    const bt_flag_choice *choices; /* CHOICE: terminated by {NULL, 0} */
    int (*check)(int value, bt_error *err); /* CHOICE: more than being a choice (may be NULL) */
    const char *arg;    /* value placeholder in --help ("DIR"), NULL without a value */
    const char *help;   /* the default is added from def / def_note */
    const char *bad;    /* what a bad value is told: "need a positive integer" */
} bt_flag;

enum { BT_FLAG_STORED_ALWAYS = 1, BT_FLAG_STORED_WHERE_IT_APPLIES = 2 };

const bt_flag *bt_run_flags(int *n);
/* The flag called name ("max-seq-length") of command, or NULL. */
const bt_flag *bt_run_flag_find(const char *name, int command);
/* Sets the flag's field from value (NULL for flags without one), checking its bounds. Local. */
int bt_run_flag_apply(bt_run_options *o, const bt_flag *f, const char *value, bt_error *err);
/* The checks between flags (--task or --text, --hf-compat needs batch granularity, ...). Local. */
int bt_run_options_check(const bt_run_options *o, bt_error *err);
/* "usage: ..." and one line per flag of the command. */
void bt_run_options_usage(FILE *f, int command, const char *name);
/* The options as a JSON object, one key per flag of the command (malloc'd; NULL if out of
 * memory). Local. */
char *bt_run_options_json(const bt_run_options *o);

/* Library messages name an option by its key in backquotes ("`min_heads_per_layer` 5 keeps
 * ..."): the floors below know no command line. A command line rewrites each `key` of the flag
 * table as its flag ("--min-heads-per-layer 5 keeps ..."), in place; other backquoted words stay.
 * msg holds n bytes. */
void bt_run_flag_names(char *msg, size_t n);

/* ---- a run ----------------------------------------------------------------------------------- */

struct bt_run_file; /* run.h5 while it is open: the store plus the sink's scratch */
struct bt_run_resume; /* the resume state (checkpoint) of a run with --out */

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
    float *scores;              /* [L, H] --scores (finite), or NULL */
    int attn_layers[BT_MAX_LAYERS], n_attn_layers;
    int hidden_layers[BT_MAX_LAYERS + 1], n_hidden_layers;
    struct bt_run_file *file;
    struct bt_run_resume *resume; /* its resume state (docs/resume.md) */
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
    int64_t skipped_short; /* one-token sentences (ud) or functions (code) dropped for a language model's loss */
    /* --task code (docs/cat.md): CodeSearchNet JSON lines, each function one example, each
     * token's byte range in its code (-1: a special token) */
    int is_code;
    bt_code_jsonl code;
    int *code_lang;                 /* [n] bt_code_lang_find */
    int64_t *tok_start, *tok_end;   /* [n_tokens] */
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
 * earlier runs it holds (docs/resume.md). */
const bt_sweep_checkpoint *bt_run_resume_hooks(const bt_run *r);
size_t bt_run_resume_saved_batches(const bt_run *r);

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

/* `bertology prune` without the printing: the heads r->head_mask switches off (or the --percent
 * lowest-scored by --scores or by --method attattr on the data) removed from the
 * weights, the model written to o->out as a Hugging Face directory (config.json with
 * pruned_heads, model.safetensors, the tokenizer files), read back by every rank; with --task,
 * the masked original and the pruned model scored on the same batch plan (forward only). */
typedef struct {
    int heads_all, heads_before, heads_after;
    size_t params_before, params_after; /* as Hugging Face counts them */
    int scored;                         /* the two passes below ran (a data set was given) */
    bt_sweep_result masked, pruned;     /* forward-only passes: metrics, seconds */
    bt_sweep_result scoring;            /* --method attattr: the attribution pass that scored the heads */
    double max_logit_diff;              /* largest |logit masked - logit pruned| (classifiers) */
} bt_run_prune_result;
int bt_run_prune(bt_run *r, bt_run_prune_result *res, bt_error *err);
void bt_run_prune_result_free(bt_run_prune_result *res);

/* `bertology syntax` without the printing (--task ud): bt_sweep_syntax over the treebank, run.h5
 * with every sentence's rows, /words and /syntax (docs/run_h5.md), syntax_accuracy.npy. */
typedef struct {
    bt_syntax_result counts;   /* summed over the treebank: correct [R, L, H, 2], arcs [R], ... */
    float *accuracy;           /* [R, L, H, 2] correct / arcs, NaN for a relation without arcs */
    int *baseline_offset;      /* [R] the best fixed offset (bt_syntax_offsets), first on ties */
    float *baseline_accuracy;  /* [R] */
    const char **relations;    /* [R] the treebank's universal relations, then "all" */
    int *by_arcs;              /* [R] relation indices, most arcs first (ties in relation order) */
} bt_run_syntax_result;
int bt_run_syntax(bt_run *r, bt_run_syntax_result *res, bt_error *err);
void bt_run_syntax_result_free(bt_run_syntax_result *res);

/* `bertology cat` without the printing (--task code): bt_sweep_cat over the functions, run.h5 with
 * every example's rows, /code (leaves) and /cat (docs/run_h5.md), cat_score.npy [L, H] and
 * cat_layer_score.npy [L] (all languages pooled). */
int bt_run_cat(bt_run *r, bt_cat_result *res, bt_error *err);

/* "bertology X; HDF5 a.b.c; Open MPI ...; OpenBLAS ..." */
void bt_run_versions(char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
