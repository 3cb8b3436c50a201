/* The one flag table of the commands over a data set (docs/architecture.md "Where to add ..."):
 * parsing, --help, bounds and the options JSON stored in run.h5 all read it, so a flag cannot be
 * parsed and forgotten in the JSON (tests/arch/check_flags_json.py checks every flag). */
#include <cJSON.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/engine.h"
#include "bertology/plan.h"
#include "bertology/run.h"
#include "bertology/store.h"

#define ALL (BT_CMD_IMPORTANCE | BT_CMD_EVAL | BT_CMD_MASK | BT_CMD_ABLATE | BT_CMD_PRUNE)
#define SWEEPS (BT_CMD_IMPORTANCE | BT_CMD_EVAL | BT_CMD_MASK | BT_CMD_ABLATE)
#define SAVES (BT_CMD_IMPORTANCE | BT_CMD_EVAL)
#define SYN BT_CMD_SYNTAX /* the flags bertology syntax takes too */
#define F(field) offsetof(bt_run_options, field)

static const bt_flag_choice GRANULARITY[] = {
    {"example", BT_GRAN_EXAMPLE}, {"token", BT_GRAN_TOKEN}, {"batch", BT_GRAN_BATCH}, {NULL, 0}};
static const bt_flag_choice GEMM[] = {
    {"auto", BT_GEMM_AUTO}, {"blas", BT_GEMM_BLAS}, {"onednn", BT_GEMM_ONEDNN}, {"onednn-bf16", BT_GEMM_ONEDNN_BF16},
    {NULL, 0}};
static const bt_flag_choice IO[] = {{"independent", BT_STORE_IO_INDEPENDENT}, {"collective", BT_STORE_IO_COLLECTIVE}, {NULL, 0}};
static const bt_flag_choice DTYPE[] = {{"f16", 1}, {"f32", 0}, {"float16", 1}, {"float32", 0}, {NULL, 0}};

/* The options JSON of mask runs has always held the mask flags, and that of every run the others
 * (json_always), whether or not they apply: readers of old files rely on both. */
static const bt_flag FLAGS[] = {
    {"model", "model", ALL | SYN, BT_FLAG_STRING, F(model), 0, 0, NULL, "DIR",
     "Hugging Face model directory (config.json, model.safetensors, tokenizer files)", NULL, 1},
    {"task", "task", ALL | SYN, BT_FLAG_STRING, F(task), 0, 0, NULL, "TASK",
     "GLUE task: cola sst-2 mrpc sts-b qqp mnli mnli-mm qnli rte wnli; or ud (CoNLL-U)", NULL, 1},
    {"data", "data", ALL | SYN, BT_FLAG_STRING, F(data), 0, 0, NULL, "DIR",
     "GLUE data: the task directory or the GLUE root; --task ud: a .conllu file", NULL, 1},
    /* --out is not stored: run.h5 lives in it, and runs that differ only in where they write
     * (np=1 vs np=3 in the tests) have equal options */
    {"out", NULL, ALL | SYN, BT_FLAG_STRING, F(out), 0, 0, NULL, "DIR", "output directory (prune: the pruned model directory)", NULL, 1},
    {"split", "split", ALL, BT_FLAG_STRING, F(split), 0, 0, NULL, "NAME", "dev (default), train, test, dev_mismatched ...", NULL, 1},
    {"text", "text", SWEEPS, BT_FLAG_STRING, F(text), 0, 0, NULL, "FILE",
     "language-model data instead of a GLUE task: one document per line", NULL, 1},
    {"tokenizer", "tokenizer", ALL | SYN, BT_FLAG_STRING, F(tokenizer), 0, 0, NULL, "DIR", "tokenizer files, if not in the model directory", NULL, 1},
    {"max-seq-length", "max_seq_length", ALL | SYN, BT_FLAG_INT, F(max_seq_length), 3, 1 << 20, NULL, "N",
     "truncate to N tokens, HF longest_first (default 128)", "need an integer >= 3", 1},
    {"subset", "subset", ALL | SYN, BT_FLAG_INT, F(subset), 1, 1 << 30, NULL, "N", "only the first N examples (HF's --data_subset)",
     "need a positive integer", 1},
    {"batch-tokens", "batch_tokens", ALL | SYN, BT_FLAG_INT, F(batch_tokens), 1, 1 << 28, NULL, "N",
     "length-sorted batches of at most N real tokens (default 2048)", "need a positive integer", 1},
    {"batch-size", "batch_size", ALL, BT_FLAG_INT, F(batch_size), 1, 1 << 20, NULL, "N",
     "batches of N examples in data order instead (HF's --batch_size)", "need a positive integer", 1},
    {"threads", "threads", ALL | SYN, BT_FLAG_INT, F(threads), 1, 1024, NULL, "N",
     "BLAS/OpenMP threads per rank (default: OMP_NUM_THREADS or all cores)", "need a positive integer", 1},
    {"gemm", "gemm", ALL | SYN, BT_FLAG_CHOICE, F(gemm), 0, 0, GEMM, "B",
     "matrix products: auto (default), blas, onednn or onednn-bf16 (docs/engine.md)",
     "auto, blas, onednn or onednn-bf16", 1},
    {"granularity", "granularity", SWEEPS, BT_FLAG_CHOICE, F(granularity), 0, 0, GRANULARITY, "G",
     "example (default), token or batch: where |.| is taken", "one of example, token, batch", 1},
    {"hf-compat", "hf_compat", SWEEPS, BT_FLAG_SET, F(hf_compat), 1, 0, NULL, NULL,
     "HF's accumulating head_mask.grad (needs --granularity batch)", NULL, 1},
    {"no-layer-norm", "layer_norm", SWEEPS, BT_FLAG_SET, F(layer_norm), 0, 0, NULL, NULL, "skip the per-layer L2 normalisation", NULL, 1},
    {"no-global-norm", "global_norm", SWEEPS, BT_FLAG_SET, F(global_norm), 0, 0, NULL, NULL, "skip the global min-max normalisation", NULL, 1},
    {"no-token-norm", "token_norm", SWEEPS, BT_FLAG_SET, F(token_norm), 0, 0, NULL, NULL, "do not divide by the number of tokens", NULL, 1},
    {"head-mask", "head_mask", ALL, BT_FLAG_STRING, F(head_mask_path), 0, 0, NULL, "FILE.npy", "float32 [L,H] gates (1 keep, 0 mask)", NULL, 1},
    {"save-attentions", "save_attentions", SAVES | SYN, BT_FLAG_SET, F(save_attentions), 1, 0, NULL, NULL,
     "store every example's attention probabilities in run.h5", NULL, 1},
    {"save-hidden", "save_hidden", SAVES | SYN, BT_FLAG_SET, F(save_hidden), 1, 0, NULL, NULL, "store every example's hidden states in run.h5", NULL, 1},
    {"layers", "layers", SAVES, BT_FLAG_STRING, F(layers), 0, 0, NULL, "LIST", "layers to save, e.g. 0,3-5 (default all)", NULL, 1},
    {"dtype", "dtype", SAVES | SYN, BT_FLAG_CHOICE, F(dtype_f16), 0, 0, DTYPE, "f16|f32", "stored tensor type (default f16)", "f16 or f32", 1},
    {"io", "io", SWEEPS, BT_FLAG_CHOICE, F(io_mode), 0, 0, IO, "MODE",
     "run.h5 rows: independent (default) or collective MPI-IO writes (docs/run_h5.md)", "independent or collective", 0},
    {"max-output-gb", "max_output_gb", SAVES | SYN, BT_FLAG_DOUBLE, F(max_output_gb), 0, 1e300, NULL, "X",
     "refuse to write a run.h5 larger than X GB (default 20)", "need a positive number", 1},
    {"skip-bad-lines", "skip_bad_lines", ALL, BT_FLAG_SET, F(skip_bad_lines), 1, 0, NULL, NULL, "skip malformed TSV rows (counted and reported)", NULL, 1},
    {"threshold", "threshold", BT_CMD_MASK, BT_FLAG_DOUBLE, F(threshold), 0, 1, NULL, "X",
     "stop when score < X * original score (default 0.9)", "must be inside (0, 1)", 0},
    {"amount", "amount", BT_CMD_MASK, BT_FLAG_DOUBLE, F(amount), 0, 1, NULL, "X", "fraction of heads masked per step (default 0.1)",
     "must be inside (0, 1)", 0},
    {"metric", "metric", BT_CMD_MASK, BT_FLAG_STRING, F(metric), 0, 0, NULL, "NAME",
     "metric to watch (default: the task's; --text: inv_loss or inv_perplexity)", NULL, 0},
    {"percents", "percents", BT_CMD_MASK, BT_FLAG_STRING, F(percents), 0, 0, NULL, "LIST", "Michel's schedule: 10,20,... percent masked", NULL, 0},
    {"exact", "exact", BT_CMD_MASK, BT_FLAG_SET, F(exact), 1, 0, NULL, NULL, "with --percents: re-score importance after every step", NULL, 0},
    {"min-heads-per-layer", "min_heads_per_layer", BT_CMD_MASK, BT_FLAG_INT, F(min_heads_per_layer), 0, BT_MAX_HEADS, NULL, "K",
     "keep at least K heads in every layer", "need an integer >= 0", 0},
    {"min-arcs", "min_arcs", SYN, BT_FLAG_INT, F(min_arcs), 0, 1 << 30, NULL, "N",
     "the printed table: relations with at least N arcs (default 100)", "need an integer >= 0", 0},
    /* lo is exclusive: -1e-300 lets 0 (no checkpoint) through and nothing negative that matters */
    {"checkpoint-every", "checkpoint_every", SWEEPS, BT_FLAG_DOUBLE, F(checkpoint_every), -1e-300, 1e300, NULL, "SECONDS",
     "make the work done durable every SECONDS (default 30: a hard kill loses at most that and a batch); a stop "
     "signal saves at once; 0: no checkpoint, signals end the run as usual (docs/checkpoint.md)", "need a number of seconds >= 0", 0},
    {"restart", "restart", SWEEPS, BT_FLAG_SET, F(restart), 1, 0, NULL, NULL,
     "discard an interrupted run in --out instead of resuming it", NULL, 0},
    {"quiet", "quiet", ALL | SYN, BT_FLAG_SET, F(quiet), 1, 0, NULL, NULL, "no progress lines", NULL, 1},
    {"verbose", "verbose", ALL | SYN, BT_FLAG_SET, F(verbose), 1, 0, NULL, NULL, "timings, memory peaks, plan statistics", NULL, 1},
    {"help", NULL, ALL | SYN, BT_FLAG_HELP, 0, 0, 0, NULL, NULL, "this text", NULL, 0},
};
#define N_FLAGS ((int)(sizeof FLAGS / sizeof FLAGS[0]))

const bt_flag *bt_run_flags(int *n) {
    *n = N_FLAGS;
    return FLAGS;
}

const bt_flag *bt_run_flag_find(const char *name) {
    for (int i = 0; i < N_FLAGS; i++)
        if (!strcmp(FLAGS[i].name, name)) return &FLAGS[i];
    return NULL;
}

void bt_run_options_init(bt_run_options *o, int command, const char *name) {
    memset(o, 0, sizeof *o);
    o->command = command;
    o->name = name;
    o->split = "dev";
    o->max_seq_length = 128;
    o->granularity = BT_GRAN_EXAMPLE;
    o->layer_norm = o->global_norm = o->token_norm = 1;
    o->dtype_f16 = 1;
    o->max_output_gb = 20.0;
    o->checkpoint_every = 30.0;
    o->threshold = 0.9;
    o->amount = 0.1;
    o->min_arcs = 100;
}

#define FIELD(o, f, type) ((type *)((char *)(o) + (f)->offset))
#define CFIELD(o, f, type) ((const type *)((const char *)(o) + (f)->offset))

int bt_run_flag_apply(bt_run_options *o, const bt_flag *f, const char *value, bt_error *err) {
    switch (f->kind) {
    case BT_FLAG_STRING: *FIELD(o, f, const char *) = value; return BT_OK;
    case BT_FLAG_SET: *FIELD(o, f, int) = (int)f->lo; return BT_OK;
    case BT_FLAG_HELP: return BT_OK;
    case BT_FLAG_INT:
        if (!bt_parse_int(value, (int)f->lo, (int)f->hi, FIELD(o, f, int))) return BT_OK;
        break;
    case BT_FLAG_DOUBLE: {
        double v;
        if (!bt_parse_double(value, &v) && v > f->lo && v < f->hi) {
            *FIELD(o, f, double) = v;
            return BT_OK;
        }
        break;
    }
    case BT_FLAG_CHOICE:
        for (const bt_flag_choice *c = f->choices; value && c->name; c++)
            if (!strcmp(value, c->name)) {
                *FIELD(o, f, int) = c->value;
                return BT_OK;
            }
        break;
    }
    return bt_error_set(err, BT_EINPUT, "--%s %s: %s", f->name, value ? value : "", f->bad);
}

int bt_run_options_check(const bt_run_options *o, bt_error *err) {
#define NEED(cond, ...) \
    if (!(cond)) return bt_error_set(err, BT_EINPUT, __VA_ARGS__)
    NEED(o->model, "--model is required");
    NEED(!(o->text && (o->task || o->data)), "--text replaces --task/--data: give one or the other");
    if (!o->text && (o->command != BT_CMD_PRUNE || o->task || o->data)) {
        NEED(o->task, "--task is required (or --text FILE for a language model)");
        NEED(o->data, "--data is required");
    }
    NEED(o->out || o->command == BT_CMD_EVAL, "--out is required");
    NEED(!(o->batch_size && o->batch_tokens), "--batch-size and --batch-tokens exclude each other");
    NEED(!o->hf_compat || o->granularity == BT_GRAN_BATCH, "--hf-compat needs --granularity batch");
    NEED(o->granularity != BT_GRAN_BATCH || o->batch_size, "--granularity batch needs --batch-size N");
    NEED(!(o->layers && o->layers[0]) || o->save_attentions || o->save_hidden,
         "--layers selects what --save-attentions/--save-hidden store");
    NEED(!o->exact || o->percents, "--exact goes with --percents");
    NEED(o->command != BT_CMD_SYNTAX || !strcmp(o->task, "ud"),
         "--task %s: syntax reads dependency trees: --task ud --data FILE.conllu", o->task);
#undef NEED
    return BT_OK;
}

void bt_run_options_usage(FILE *f, int command, const char *name) {
    if (command == BT_CMD_SYNTAX)
        fprintf(f, "usage: bertology syntax --model DIR --task ud --data FILE.conllu --out DIR [options]\n\n"
                   "Counts, per (relation, layer, head, direction), how often a head's most attended word is the\n"
                   "word's syntactic head (Clark et al. 2019), streamed through the model (docs/syntax.md).\n\noptions:\n");
    else
        fprintf(f, "usage: bertology %s --model DIR --task TASK --data DIR%s [options]\n\noptions:\n", name,
                command == BT_CMD_EVAL ? "" : " --out DIR");
    for (int i = 0; i < N_FLAGS; i++) {
        if (!(FLAGS[i].commands & command)) continue;
        char lhs[64];
        snprintf(lhs, sizeof lhs, "--%s%s%s", FLAGS[i].name, FLAGS[i].arg ? " " : "", FLAGS[i].arg ? FLAGS[i].arg : "");
        fprintf(f, "  %-26s %s\n", lhs, FLAGS[i].help);
    }
}

/* One flag's value as JSON, as the run is made: the batch plan's default is spelled out and a
 * --text or --task ud run has no split. */
static cJSON *json_value(const bt_run_options *o, const bt_flag *f) {
    switch (f->kind) {
    case BT_FLAG_STRING: {
        const char *s = *CFIELD(o, f, const char *);
        if (f->offset == F(split) && (o->text || (o->task && !strcmp(o->task, "ud")))) s = NULL;
        return cJSON_CreateString(s ? s : "");
    }
    case BT_FLAG_INT: {
        int v = *CFIELD(o, f, int);
        /* the count that ran, the default resolved (agreed by the ranks in bt_run_open) */
        if (f->offset == F(threads)) v = bt_engine_threads();
        if (f->offset == F(batch_tokens) && !v && !o->batch_size) v = BT_PLAN_DEFAULT_BATCH_TOKENS;
        return cJSON_CreateNumber(v);
    }
    case BT_FLAG_DOUBLE: return cJSON_CreateNumber(*CFIELD(o, f, double));
    case BT_FLAG_SET: return cJSON_CreateBool(*CFIELD(o, f, int));
    case BT_FLAG_CHOICE:
        /* the backend that ran, auto resolved (process-wide: set by bt_run_open) */
        if (f->offset == F(gemm)) return cJSON_CreateString(bt_gemm_name(bt_engine_gemm()));
        for (const bt_flag_choice *c = f->choices; c->name; c++)
            if (c->value == *CFIELD(o, f, int)) return cJSON_CreateString(c->name);
        return cJSON_CreateNull();
    case BT_FLAG_HELP: break;
    }
    return NULL;
}

char *bt_run_options_json(const bt_run_options *o) {
    cJSON *j = cJSON_CreateObject();
    if (!j || !cJSON_AddStringToObject(j, "command", o->name ? o->name : "")) {
        cJSON_Delete(j);
        return NULL;
    }
    int ok = 1;
    for (int i = 0; i < N_FLAGS && ok; i++) {
        const bt_flag *f = &FLAGS[i];
        if (!f->json || !(f->json_always || (f->commands & o->command))) continue;
        cJSON *v = json_value(o, f);
        ok = v && cJSON_AddItemToObject(j, f->json, v);
        if (!ok) cJSON_Delete(v);
    }
    char *s = ok ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return s;
}
