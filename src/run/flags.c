/* The one flag table of every command (docs/architecture.md "Where to add ..."): parsing,
 * --help, defaults, bounds and the options JSON stored in run.h5 all read it, so a flag cannot be
 * parsed and forgotten in the JSON (tests/arch/test_flags_json.py checks every flag), nor have
 * its default written twice. */
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
#define IMP_METHOD (BT_CMD_IMPORTANCE | BT_CMD_MASK | BT_CMD_PRUNE) /* the commands that score heads */
#define SYN (BT_CMD_SYNTAX | BT_CMD_CAT) /* the flags bertology syntax and cat take too */
#define CAT BT_CMD_CAT
#define FWD BT_CMD_FORWARD
#define BENCH BT_CMD_BENCH
#define TOK BT_CMD_TOKENIZE
#define TOOLS (BT_CMD_FORWARD | BT_CMD_BENCH | BT_CMD_TOKENIZE | BT_CMD_SCHEMA)
#define F(field) offsetof(bt_run_options, field)
#define ALWAYS BT_FLAG_STORED_ALWAYS
#define APPLIES BT_FLAG_STORED_WHERE_IT_APPLIES
#define STR_(x) #x
#define STR(x) STR_(x)

static const bt_flag_choice GRANULARITY[] = {
    {"example", BT_GRAN_EXAMPLE}, {"token", BT_GRAN_TOKEN}, {"batch", BT_GRAN_BATCH}, {NULL, 0}};
static const bt_flag_choice GEMM[] = {
    {"auto", BT_GEMM_AUTO}, {"blas", BT_GEMM_BLAS}, {"onednn", BT_GEMM_ONEDNN}, {"onednn-bf16", BT_GEMM_ONEDNN_BF16},
    {NULL, 0}};
static const bt_flag_choice IO[] = {{"independent", BT_STORE_IO_INDEPENDENT}, {"collective", BT_STORE_IO_COLLECTIVE}, {NULL, 0}};
static const bt_flag_choice AST[] = {{"u-ast", 0}, {"uast", 0}, {"plain", 1}, {NULL, 0}};
static const bt_flag_choice METHOD[] = {{"gate", BT_SWEEP_GATE}, {"attattr", BT_SWEEP_ATTATTR}, {NULL, 0}};
static const bt_flag_choice ATTR_TARGET[] = {{"gold", 0}, {"pred", 1}, {NULL, 0}};
static const bt_flag_choice DTYPE[] = {{"f16", 1}, {"f32", 0}, {"float16", 1}, {"float32", 0}, {NULL, 0}};

/* bench measures the backends of this process: one the build lacks is refused as it is parsed
 * (the commands over a data set agree on their backend across ranks, in bt_run_open). */
static int gemm_built(int kind, bt_error *err) {
    if (kind == BT_GEMM_AUTO || bt_gemm_available(kind)) return BT_OK;
    return bt_error_set(err, BT_EINPUT, "this build has auto, blas%s%s", bt_gemm_available(BT_GEMM_ONEDNN) ? ", onednn" : "",
                        bt_gemm_available(BT_GEMM_ONEDNN_BF16) ? ", onednn-bf16" : "");
}

/* The options JSON of mask runs has always held the mask flags, and that of every run the others
 * (.stored = ALWAYS), whether or not they apply: readers of old files rely on both. The order of
 * the rows is the order of --help and of the JSON's keys. */
static const bt_flag FLAGS[] = {
    {.name = "model", .key = "model", .stored = ALWAYS, .commands = ALL | SYN | FWD | BENCH | TOK,
     .kind = BT_FLAG_STRING, .offset = F(model), .arg = "DIR",
     .help = "Hugging Face model directory (config.json, model.safetensors, tokenizer files)"},
    {.name = "task", .key = "task", .stored = ALWAYS, .commands = ALL | SYN, .kind = BT_FLAG_STRING, .offset = F(task),
     .arg = "TASK", .help = "GLUE task: cola sst-2 mrpc sts-b qqp mnli mnli-mm qnli rte wnli; ud (CoNLL-U); code (JSON lines)"},
    {.name = "data", .key = "data", .stored = ALWAYS, .commands = ALL | SYN, .kind = BT_FLAG_STRING, .offset = F(data),
     .arg = "DIR", .help = "GLUE data: the task directory or the GLUE root; --task ud: a .conllu file; --task code: a .jsonl file"},
    /* --out is not stored: run.h5 lives in it, and runs that differ only in where they write
     * (np=1 vs np=3 in the tests) have equal options */
    {.name = "out", .key = "out", .commands = ALL | SYN | FWD, .kind = BT_FLAG_STRING, .offset = F(out), .arg = "DIR",
     .help = "output directory (prune: the pruned model directory)"},
    {.name = "out", .key = "out", .commands = BT_CMD_SCHEMA, .kind = BT_FLAG_STRING, .offset = F(out), .arg = "FILE",
     .help = "write the JSON to FILE instead of stdout"},
    {.name = "split", .key = "split", .stored = ALWAYS, .commands = ALL, .kind = BT_FLAG_STRING, .offset = F(split),
     .def = "dev", .arg = "NAME", .help = "dev, train, test, dev_mismatched ..."},
    {.name = "text", .key = "text", .stored = ALWAYS, .commands = SWEEPS, .kind = BT_FLAG_STRING, .offset = F(text),
     .arg = "FILE", .help = "language-model data instead of a GLUE task: one document per line"},
    {.name = "tokenizer", .key = "tokenizer", .stored = ALWAYS, .commands = ALL | SYN, .kind = BT_FLAG_STRING,
     .offset = F(tokenizer), .arg = "DIR", .help = "tokenizer files, if not in the model directory"},
    {.name = "max-seq-length", .key = "max_seq_length", .stored = ALWAYS, .commands = ALL | BT_CMD_SYNTAX | TOK,
     .kind = BT_FLAG_INT, .offset = F(max_seq_length), .def = "128", .lo = 3, .hi = 1 << 20, .arg = "N",
     .help = "truncate to N tokens, HF longest_first", .bad = "need an integer >= 3"},
    /* the authors' length; stored through the row above (the same field) */
    {.name = "max-seq-length", .key = "max_seq_length", .commands = CAT, .kind = BT_FLAG_INT,
     .offset = F(max_seq_length), .def = "256", .lo = 3, .hi = 1 << 20, .arg = "N",
     .help = "truncate to N tokens (the leaves of the whole code count for distances)", .bad = "need an integer >= 3"},
    {.name = "subset", .key = "subset", .stored = ALWAYS, .commands = ALL | SYN, .kind = BT_FLAG_INT, .offset = F(subset),
     .lo = 1, .hi = 1 << 30, .arg = "N", .help = "only the first N examples (HF's --data_subset)",
     .bad = "need a positive integer"},
    /* 0 until given: it excludes --batch-size; the plan takes its default (forward: one batch) */
    {.name = "batch-tokens", .key = "batch_tokens", .stored = ALWAYS, .commands = ALL | SYN | FWD | BENCH,
     .kind = BT_FLAG_INT, .offset = F(batch_tokens), .def_note = STR(BT_PLAN_DEFAULT_BATCH_TOKENS), .lo = 1,
     .hi = 1 << 28, .arg = "N", .help = "length-sorted batches of at most N real tokens",
     .bad = "need a positive integer"},
    {.name = "batch-size", .key = "batch_size", .stored = ALWAYS, .commands = ALL, .kind = BT_FLAG_INT,
     .offset = F(batch_size), .lo = 1, .hi = 1 << 20, .arg = "N",
     .help = "batches of N examples in data order instead (HF's --batch_size)", .bad = "need a positive integer"},
    {.name = "threads", .key = "threads", .stored = ALWAYS, .commands = ALL | SYN | FWD | BENCH, .kind = BT_FLAG_INT,
     .offset = F(threads), .def_note = "OMP_NUM_THREADS or all cores", .lo = 1, .hi = 1024, .arg = "N",
     .help = "BLAS/OpenMP threads per rank", .bad = "need a positive integer"},
    {.name = "gemm", .key = "gemm", .stored = ALWAYS, .commands = ALL | SYN, .kind = BT_FLAG_CHOICE, .offset = F(gemm),
     .def = "auto", .choices = GEMM, .arg = "B", .help = "matrix products (docs/engine.md): auto, blas, onednn or onednn-bf16",
     .bad = "auto, blas, onednn or onednn-bf16"},
    {.name = "gemm", .key = "gemm", .commands = BENCH, .kind = BT_FLAG_CHOICE, .offset = F(gemm), .def = "auto",
     .choices = GEMM, .check = gemm_built, .arg = "B", .help = "the engine's backend: auto, blas, onednn or onednn-bf16",
     .bad = "auto, blas, onednn or onednn-bf16"},
    {.name = "granularity", .key = "granularity", .stored = ALWAYS, .commands = SWEEPS, .kind = BT_FLAG_CHOICE,
     .offset = F(granularity), .def = "example", .choices = GRANULARITY, .arg = "G",
     .help = "where |.| is taken: example, token or batch", .bad = "one of example, token, batch"},
    {.name = "hf-compat", .key = "hf_compat", .stored = ALWAYS, .commands = SWEEPS, .kind = BT_FLAG_SET,
     .offset = F(hf_compat), .help = "HF's accumulating head_mask.grad (needs --granularity batch)"},
    {.name = "no-layer-norm", .key = "layer_norm", .stored = ALWAYS, .commands = SWEEPS, .kind = BT_FLAG_CLEAR,
     .offset = F(layer_norm), .help = "skip the per-layer L2 normalisation"},
    {.name = "no-global-norm", .key = "global_norm", .stored = ALWAYS, .commands = SWEEPS, .kind = BT_FLAG_CLEAR,
     .offset = F(global_norm), .help = "skip the global min-max normalisation"},
    {.name = "no-token-norm", .key = "token_norm", .stored = ALWAYS, .commands = SWEEPS, .kind = BT_FLAG_CLEAR,
     .offset = F(token_norm), .help = "do not divide by the number of tokens"},
    {.name = "head-mask", .key = "head_mask", .stored = ALWAYS, .commands = ALL, .kind = BT_FLAG_STRING,
     .offset = F(head_mask_path), .arg = "FILE.npy", .help = "float32 [L,H] gates (1 keep, 0 mask)"},
    {.name = "save-attentions", .key = "save_attentions", .stored = ALWAYS, .commands = SAVES | SYN, .kind = BT_FLAG_SET,
     .offset = F(save_attentions), .help = "store every example's attention probabilities in run.h5"},
    {.name = "save-hidden", .key = "save_hidden", .stored = ALWAYS, .commands = SAVES | SYN, .kind = BT_FLAG_SET,
     .offset = F(save_hidden), .help = "store every example's hidden states in run.h5"},
    {.name = "save-rollout", .key = "save_rollout", .stored = APPLIES, .commands = SAVES, .kind = BT_FLAG_SET,
     .offset = F(save_rollout), .help = "store every example's attention rollout (Abnar & Zuidema) in run.h5"},
    {.name = "method", .key = "method", .stored = APPLIES, .commands = IMP_METHOD, .kind = BT_FLAG_CHOICE,
     .offset = F(method), .def = "gate", .choices = METHOD, .arg = "M",
     .help = "head importance: gate (Michel et al.) or attattr (Hao et al.'s attribution)", .bad = "gate or attattr"},
    {.name = "steps", .key = "steps", .stored = APPLIES, .commands = IMP_METHOD, .kind = BT_FLAG_INT, .offset = F(steps),
     .def = "20", .lo = 1, .hi = 10000, .arg = "M", .help = "attattr: Riemann steps of the integrated gradient",
     .bad = "need an integer in 1..10000"},
    {.name = "steps", .key = "steps", .commands = BENCH, .kind = BT_FLAG_INT, .offset = F(steps), .def = "20", .lo = 0,
     .hi = 10000, .arg = "M", .help = "the attattr case's Riemann steps (0: no attattr case)", .bad = "need an integer in 0..10000"},
    {.name = "attr-target", .key = "attr_target", .stored = APPLIES, .commands = IMP_METHOD, .kind = BT_FLAG_CHOICE,
     .offset = F(attr_pred), .def = "gold", .choices = ATTR_TARGET, .arg = "T",
     .help = "attattr: the class whose probability is attributed, gold or pred", .bad = "gold or pred"},
    {.name = "save-attributions", .key = "save_attributions", .stored = APPLIES, .commands = BT_CMD_IMPORTANCE,
     .kind = BT_FLAG_SET, .offset = F(save_attributions),
     .help = "attattr: store every example's [L,H,T,T] attribution map in run.h5"},
    {.name = "layers", .key = "layers", .stored = ALWAYS, .commands = SAVES, .kind = BT_FLAG_STRING, .offset = F(layers),
     .def_note = "all", .arg = "LIST", .help = "layers to save, e.g. 0,3-5"},
    {.name = "dtype", .key = "dtype", .stored = ALWAYS, .commands = SAVES | SYN, .kind = BT_FLAG_CHOICE,
     .offset = F(dtype_f16), .def = "f16", .choices = DTYPE, .arg = "f16|f32", .help = "stored tensor type",
     .bad = "f16 or f32"},
    {.name = "io", .key = "io", .stored = APPLIES, .commands = SWEEPS, .kind = BT_FLAG_CHOICE, .offset = F(io_mode),
     .def = "independent", .choices = IO, .arg = "MODE",
     .help = "run.h5 rows: independent or collective MPI-IO writes (docs/run_h5.md)", .bad = "independent or collective"},
    {.name = "max-output-gb", .key = "max_output_gb", .stored = ALWAYS, .commands = SAVES | SYN, .kind = BT_FLAG_DOUBLE,
     .offset = F(max_output_gb), .def = "20", .lo = 0, .hi = 1e300, .arg = "X",
     .help = "refuse to write a run.h5 larger than X GB", .bad = "need a positive number"},
    {.name = "skip-bad-lines", .key = "skip_bad_lines", .stored = ALWAYS, .commands = ALL | CAT, .kind = BT_FLAG_SET,
     .offset = F(skip_bad_lines), .help = "skip malformed data lines (counted and reported)"},
    {.name = "threshold", .key = "threshold", .stored = APPLIES, .commands = BT_CMD_MASK, .kind = BT_FLAG_DOUBLE,
     .offset = F(threshold), .def = "0.9", .lo = 0, .hi = 1, .arg = "X",
     .help = "stop when score < X * original score", .bad = "must be inside (0, 1)"},
    {.name = "amount", .key = "amount", .stored = APPLIES, .commands = BT_CMD_MASK, .kind = BT_FLAG_DOUBLE,
     .offset = F(amount), .def = "0.1", .lo = 0, .hi = 1, .arg = "X", .help = "fraction of heads masked per step",
     .bad = "must be inside (0, 1)"},
    {.name = "metric", .key = "metric", .stored = APPLIES, .commands = BT_CMD_MASK, .kind = BT_FLAG_STRING,
     .offset = F(metric), .def_note = "the task's; --text: inv_loss or inv_perplexity", .arg = "NAME",
     .help = "metric to watch"},
    {.name = "percents", .key = "percents", .stored = APPLIES, .commands = BT_CMD_MASK, .kind = BT_FLAG_STRING,
     .offset = F(percents), .arg = "LIST", .help = "Michel's schedule: 10,20,... percent masked"},
    {.name = "exact", .key = "exact", .stored = APPLIES, .commands = BT_CMD_MASK, .kind = BT_FLAG_SET,
     .offset = F(exact), .help = "with --percents: re-score importance after every step"},
    {.name = "scores", .key = "scores", .stored = APPLIES, .commands = BT_CMD_MASK | BT_CMD_PRUNE,
     .kind = BT_FLAG_STRING, .offset = F(scores_path), .arg = "FILE.npy",
     .help = "rank heads by these [L,H] scores (highest kept) instead of importance"},
    {.name = "percent", .key = "percent", .stored = APPLIES, .commands = BT_CMD_PRUNE, .kind = BT_FLAG_DOUBLE,
     .offset = F(percent), .lo = 0, .hi = 100, .arg = "P", .help = "with --scores: remove the P% lowest-scored heads",
     .bad = "must be inside (0, 100)"},
    {.name = "min-heads-per-layer", .key = "min_heads_per_layer", .stored = APPLIES, .commands = BT_CMD_MASK | BT_CMD_PRUNE,
     .kind = BT_FLAG_INT, .offset = F(min_heads_per_layer), .lo = 0, .hi = BT_MAX_HEADS, .arg = "K",
     .help = "keep at least K heads in every layer", .bad = "need an integer >= 0"},
    {.name = "min-arcs", .key = "min_arcs", .stored = APPLIES, .commands = BT_CMD_SYNTAX, .kind = BT_FLAG_INT,
     .offset = F(min_arcs), .def = "100", .lo = 0, .hi = 1 << 30, .arg = "N",
     .help = "the printed table: relations with at least N arcs", .bad = "need an integer >= 0"},
    {.name = "ast", .key = "ast", .stored = APPLIES, .commands = CAT, .kind = BT_FLAG_CHOICE, .offset = F(cat_plain),
     .def = "u-ast", .choices = AST, .arg = "KIND",
     .help = "distances on the u-ast (tree, next leaf, same identifier) or the plain tree", .bad = "need u-ast or plain"},
    {.name = "cat-types", .key = "cat_types", .stored = APPLIES, .commands = CAT, .kind = BT_FLAG_STRING,
     .offset = F(cat_types), .arg = "LIST", .help = "score only leaves of these node types (identifier,string,...)"},
    /* lo is exclusive: -1e-300 lets 0 (no checkpoint) through and nothing negative that matters */
    {.name = "checkpoint-every", .key = "checkpoint_every", .stored = APPLIES, .commands = BT_CMD_RESUMABLE,
     .kind = BT_FLAG_DOUBLE, .offset = F(checkpoint_every), .def = "30", .lo = -1e-300, .hi = 1e300, .arg = "SECONDS",
     .help = "make the work done durable every SECONDS (a hard kill loses at most that and a batch); a stop "
             "signal saves at once; 0: no checkpoint, signals end the run as usual (docs/resume.md)",
     .bad = "need a number of seconds >= 0"},
    {.name = "restart", .key = "restart", .stored = APPLIES, .commands = BT_CMD_RESUMABLE, .kind = BT_FLAG_SET,
     .offset = F(restart), .help = "discard an interrupted run in --out instead of resuming it"},
    {.name = "quiet", .key = "quiet", .stored = ALWAYS, .commands = ALL | SYN, .kind = BT_FLAG_SET, .offset = F(quiet),
     .help = "no progress lines"},
    {.name = "verbose", .key = "verbose", .stored = ALWAYS, .commands = ALL | SYN, .kind = BT_FLAG_SET,
     .offset = F(verbose), .help = "timings, memory peaks, plan statistics"},
    /* the tools' own */
    {.name = "ids", .key = "ids", .commands = FWD, .kind = BT_FLAG_STRING, .offset = F(ids_path), .arg = "FILE",
     .help = "token ids, one sequence a line, separated by spaces"},
    {.name = "types", .key = "types", .commands = FWD, .kind = BT_FLAG_STRING, .offset = F(types_path), .arg = "FILE",
     .help = "token types, as --ids (default all 0)"},
    {.name = "labels", .key = "labels", .commands = FWD, .kind = BT_FLAG_STRING, .offset = F(labels_path),
     .arg = "FILE", .help = "one label (or regression target) a line: the loss and its gate gradients"},
    {.name = "gates", .key = "gates", .commands = FWD, .kind = BT_FLAG_STRING, .offset = F(gates_path),
     .arg = "G.npy", .help = "float32 [L, H] head gates (default all 1)"},
    {.name = "attentions", .key = "attentions", .commands = FWD, .kind = BT_FLAG_SET, .offset = F(want_attentions),
     .help = "also write attn_<i>.npy [L, H, T, T] per sequence"},
    {.name = "hidden", .key = "hidden", .commands = FWD, .kind = BT_FLAG_SET, .offset = F(want_hidden),
     .help = "also write hidden_<i>.npy [L+1, T, D] per sequence"},
    {.name = "layers", .key = "layers", .commands = BENCH, .kind = BT_FLAG_INT, .offset = F(bench_layers), .def = "12",
     .lo = 1, .hi = BT_MAX_LAYERS, .arg = "L", .help = "layers of the random model", .bad = "need an integer in 1..64"},
    {.name = "reps", .key = "reps", .commands = BENCH, .kind = BT_FLAG_INT, .offset = F(reps), .def = "5", .lo = 1,
     .hi = 1 << 20, .arg = "R", .help = "timed runs per case, after a warm-up", .bad = "need a positive integer"},
    {.name = "pair", .key = "pair", .commands = TOK, .kind = BT_FLAG_SET, .offset = F(pair),
     .help = "each line holds two texts separated by one tab"},
    {.name = "types", .key = "types", .commands = TOK, .kind = BT_FLAG_SET, .offset = F(print_types),
     .help = "also print the token types, after a tab"},
    {.name = "bench", .key = "bench", .commands = TOK, .kind = BT_FLAG_STRING, .offset = F(bench_file), .arg = "FILE",
     .help = "time the tokenization of FILE's lines (first tab-separated field; first two with --pair) and print "
             "lines/s and tokens/s"},
    {.name = "skip-header", .key = "skip_header", .commands = TOK, .kind = BT_FLAG_SET, .offset = F(skip_header),
     .help = "with --bench: ignore FILE's first line"},
    {.name = "help", .key = "help", .commands = ALL | SYN | TOOLS, .kind = BT_FLAG_HELP, .help = "this text"},
};
#define N_FLAGS ((int)(sizeof FLAGS / sizeof FLAGS[0]))

const bt_flag *bt_run_flags(int *n) {
    *n = N_FLAGS;
    return FLAGS;
}

const bt_flag *bt_run_flag_find(const char *name, int command) {
    for (int i = 0; i < N_FLAGS; i++)
        if ((FLAGS[i].commands & command) && !strcmp(FLAGS[i].name, name)) return &FLAGS[i];
    return NULL;
}

#define FIELD(o, f, type) ((type *)((char *)(o) + (f)->offset))
#define CFIELD(o, f, type) ((const type *)((const char *)(o) + (f)->offset))

void bt_run_options_init(bt_run_options *o, int command, const char *name) {
    memset(o, 0, sizeof *o);
    o->command = command;
    o->name = name;
    /* every field's default, whatever the command (the JSON stores some flags of every command);
     * the rows of the command last, so that a flag with a row of its own for this command (cat's
     * --max-seq-length) gets that row's default */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < N_FLAGS; i++) {
            const bt_flag *f = &FLAGS[i];
            if (!!(f->commands & command) != pass) continue;
            if (f->kind == BT_FLAG_CLEAR) *FIELD(o, f, int) = 1;
            else if (f->def) bt_run_flag_apply(o, f, f->def, NULL); /* a default out of bounds: unit test */
        }
}

int bt_run_resumable(const bt_run_options *o) {
    return o->out && o->checkpoint_every > 0 && (o->command & BT_CMD_RESUMABLE);
}

int bt_run_flag_apply(bt_run_options *o, const bt_flag *f, const char *value, bt_error *err) {
    switch (f->kind) {
    case BT_FLAG_STRING: *FIELD(o, f, const char *) = value; return BT_OK;
    case BT_FLAG_SET: *FIELD(o, f, int) = 1; return BT_OK;
    case BT_FLAG_CLEAR: *FIELD(o, f, int) = 0; return BT_OK;
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
        for (const bt_flag_choice *c = f->choices; value && c->name; c++) {
            if (strcmp(value, c->name)) continue;
            bt_error why = {0};
            if (f->check && f->check(c->value, &why))
                return bt_error_set(err, BT_EINPUT, "`%s` %s: %s", f->key, value, why.msg);
            *FIELD(o, f, int) = c->value;
            return BT_OK;
        }
        break;
    }
    return bt_error_set(err, BT_EINPUT, "`%s` %s: %s", f->key, value ? value : "", f->bad);
}

/* Required values and the checks between flags of the tools. */
static int check_tool(const bt_run_options *o, bt_error *err) {
    if (o->command == BT_CMD_FORWARD && !(o->model && o->ids_path && o->out))
        return bt_error_set(err, BT_EINPUT, "`model`, `ids` and `out` are required");
    if (o->command == BT_CMD_TOKENIZE && !o->model) return bt_error_set(err, BT_EINPUT, "`model` DIR is required");
    if (o->command == BT_CMD_BENCH && o->batch_tokens && o->batch_tokens < 128)
        return bt_error_set(err, BT_EINPUT, "`batch_tokens` %d: bench needs at least 128", o->batch_tokens);
    return BT_OK;
}

int bt_run_options_check(const bt_run_options *o, bt_error *err) {
    if (o->command & (BT_CMD_FORWARD | BT_CMD_BENCH | BT_CMD_TOKENIZE | BT_CMD_SCHEMA)) return check_tool(o, err);
#define NEED(cond, ...) \
    if (!(cond)) return bt_error_set(err, BT_EINPUT, __VA_ARGS__)
    NEED(o->model, "`model` is required");
    NEED(!(o->text && (o->task || o->data)), "`text` replaces `task`/`data`: give one or the other");
    if (!o->text && (o->command != BT_CMD_PRUNE || o->task || o->data)) {
        NEED(o->task, "`task` is required (or `text` FILE for a language model)");
        NEED(o->data, "`data` is required");
    }
    NEED(o->out || o->command == BT_CMD_EVAL, "`out` is required");
    NEED(!(o->batch_size && o->batch_tokens), "`batch_size` and `batch_tokens` exclude each other");
    NEED(!o->hf_compat || o->granularity == BT_GRAN_BATCH, "`hf_compat` needs `granularity` batch");
    NEED(o->granularity != BT_GRAN_BATCH || o->batch_size, "`granularity` batch needs `batch_size` N");
    NEED(!(o->layers && o->layers[0]) || o->save_attentions || o->save_hidden,
         "`layers` selects what `save_attentions`/`save_hidden` store");
    NEED(!o->save_attributions || o->method == BT_SWEEP_ATTATTR, "`save_attributions` needs `method` attattr");
    const int attr = o->method == BT_SWEEP_ATTATTR;
    NEED(!attr || !o->scores_path,
         "`method` attattr scores the heads and `scores` gives their scores: give one or the other");
    NEED(o->method != BT_SWEEP_ATTATTR || o->granularity == BT_GRAN_EXAMPLE,
         "`method` attattr scores each example (max over the map): `granularity` must be example");
    NEED(o->method != BT_SWEEP_ATTATTR || !o->hf_compat, "`hf_compat` reproduces HF's gate gradient: not with `method` attattr");
    NEED(!o->exact || o->percents, "`exact` goes with `percents`");
    NEED(!(o->exact && o->scores_path), "`exact` re-scores importance after every step and `scores` fixes the ranking: "
         "give one or the other");
    NEED(!(o->percent > 0) || o->scores_path || attr, "`percent` goes with `scores` or `method` attattr");
    NEED(o->command != BT_CMD_PRUNE || o->head_mask_path || o->scores_path || attr,
         "`head_mask` (the heads to remove: 0 entries), or `scores` or `method` attattr with `percent`, is required");
    NEED(o->command != BT_CMD_PRUNE || !attr || !o->head_mask_path,
         "`head_mask` chooses the heads to remove and `method` attattr scores them: give one or the other");
    NEED(o->command != BT_CMD_PRUNE || !attr || o->percent > 0, "`method` attattr needs `percent` P: the share of all heads to remove");
    NEED(o->command != BT_CMD_PRUNE || !attr || o->task, "`method` attattr scores the heads on data: `task` and `data` are required");
    NEED(o->command != BT_CMD_PRUNE || !(o->head_mask_path && o->scores_path),
         "`head_mask` and `scores` both choose the heads to remove: give one or the other");
    NEED(o->command != BT_CMD_PRUNE || !o->scores_path || o->percent > 0,
         "`scores` needs `percent` P: the share of all heads to remove");
    NEED(o->command != BT_CMD_SYNTAX || !strcmp(o->task, "ud"),
         "`task` %s: syntax reads dependency trees: `task` ud `data` FILE.conllu", o->task);
    NEED(o->command != BT_CMD_CAT || !strcmp(o->task, "code"),
         "`task` %s: cat reads code: `task` code `data` FILE.jsonl (CodeSearchNet's code and language)", o->task);
#undef NEED
    return BT_OK;
}

/* What each command's --help says above its flags. */
static const struct {
    int command;
    const char *synopsis, *about;
} USAGE[] = {
    {BT_CMD_SYNTAX, "--model DIR --task ud --data FILE.conllu --out DIR [options]",
     "Counts, per (relation, layer, head, direction), how often a head's most attended word is the\n"
     "word's syntactic head (Clark et al. 2019), streamed through the model (docs/syntax.md).\n"},
    {BT_CMD_CAT, "--model DIR --task code --data FILE.jsonl --out DIR [options]",
     "CAT-probing (Chen et al. 2022): how far each head's and each layer's attention follows the\n"
     "syntax tree of code, per language, streamed through the model (docs/cat.md).\n"},
    {BT_CMD_EVAL, "--model DIR --task TASK --data DIR [options]", NULL},
    {BT_CMD_FORWARD, "--model DIR --ids FILE --out DIR [options]",
     "The engine on explicit token ids (one sequence a line), in file order in batches of at most\n"
     "--batch-tokens tokens (default: all in one); writes logits.npy, entropy.npy and, with labels or\n"
     "a language model, loss.npy, gate_grad.npy and gate_grad_tok.npy to --out.\n"},
    {BT_CMD_BENCH, "[options]",
     "Engine speed against this machine's GEMM rate, measured in the same run. Without --model: a\n"
     "random bert-base-sized model (12 x 768, 12 heads, 3072 FFN) in memory. Cases: T=128\n"
     "(batch-tokens/128 sequences) and T=sst2 (the SST-2 dev lengths in file order, packed up to\n"
     "batch-tokens); times are medians of --reps runs after a warm-up.\n"},
    {BT_CMD_TOKENIZE, "--model DIR [--pair] [--types] | --model DIR --bench FILE [options]",
     "Reads lines from stdin and prints, per line, the model input ids ([CLS] a [SEP]\n"
     "(b [SEP]) for BERT, <s> a </s>(</s> b </s>) for RoBERTa, a (b) for GPT-2)\n"
     "separated by spaces.\n"},
    {BT_CMD_SCHEMA, "[--out FILE]",
     "Prints the layout of run.h5 as JSON: root attributes, groups and their attributes,\n"
     "datasets with dtypes and shapes in the symbols of docs/run_h5.md (n examples,\n"
     "L layers, H heads, C labels, T tokens of an example, ...), and when each is there.\n"},
};

void bt_run_options_usage(FILE *f, int command, const char *name) {
    const char *synopsis = "--model DIR --task TASK --data DIR --out DIR [options]", *about = NULL;
    for (size_t i = 0; i < sizeof USAGE / sizeof USAGE[0]; i++)
        if (USAGE[i].command == command) synopsis = USAGE[i].synopsis, about = USAGE[i].about;
    fprintf(f, "usage: bertology %s %s\n\n%s%soptions:\n", name, synopsis, about ? about : "", about ? "\n" : "");
    for (int i = 0; i < N_FLAGS; i++) {
        const bt_flag *fl = &FLAGS[i];
        if (!(fl->commands & command)) continue;
        char lhs[64];
        snprintf(lhs, sizeof lhs, "--%s%s%s", fl->name, fl->arg ? " " : "", fl->arg ? fl->arg : "");
        const char *def = fl->def ? fl->def : fl->def_note;
        fprintf(f, "  %-26s %s%s%s%s\n", lhs, fl->help, def ? " (default " : "", def ? def : "", def ? ")" : "");
    }
}

/* One flag's value as JSON, as the run is made: the batch plan's default is spelled out and a
 * --text or --task ud run has no split. */
static cJSON *json_value(const bt_run_options *o, const bt_flag *f) {
    switch (f->kind) {
    case BT_FLAG_STRING: {
        const char *s = *CFIELD(o, f, char *);
        if (f->offset == F(split) && (o->text || (o->task && (!strcmp(o->task, "ud") || !strcmp(o->task, "code"))))) s = NULL;
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
    case BT_FLAG_SET:
    case BT_FLAG_CLEAR: return cJSON_CreateBool(*CFIELD(o, f, int));
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
        if (!(f->stored == ALWAYS || (f->stored == APPLIES && (f->commands & o->command)))) continue;
        cJSON *v = json_value(o, f);
        ok = v && cJSON_AddItemToObject(j, f->key, v);
        if (!ok) cJSON_Delete(v);
    }
    char *s = ok ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return s;
}

void bt_run_flag_names(char *msg, size_t n) {
    char out[BT_ERROR_MSG_MAX * 2];
    size_t k = 0;
    for (const char *p = msg; *p && k + 1 < sizeof out;) {
        const char *end = *p == '`' ? strchr(p + 1, '`') : NULL;
        const bt_flag *f = NULL;
        for (int i = 0; end && !f && i < N_FLAGS; i++)
            if (strlen(FLAGS[i].key) == (size_t)(end - p - 1) && !strncmp(FLAGS[i].key, p + 1, (size_t)(end - p - 1)))
                f = &FLAGS[i];
        if (f) {
            k += (size_t)snprintf(out + k, sizeof out - k, "--%s", f->name);
            p = end + 1;
        } else {
            out[k++] = *p++;
        }
        if (k >= sizeof out) k = sizeof out - 1;
    }
    out[k] = '\0';
    snprintf(msg, n, "%s", out);
}
