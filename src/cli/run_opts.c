/* Flags of the GLUE commands (docs/architecture.md "Command line"), parsed the same on every rank. */
#include "run_opts.h"

#include <cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bertology/dist.h"
#include "bertology/npy.h"

#define ALL (CMD_IMPORTANCE | CMD_EVAL | CMD_MASK | CMD_ABLATE | CMD_PRUNE)
#define SWEEPS (CMD_IMPORTANCE | CMD_EVAL | CMD_MASK | CMD_ABLATE)

enum {
    O_MODEL = 256, O_TASK, O_DATA, O_OUT, O_SPLIT, O_MAXLEN, O_SUBSET, O_BTOK, O_BSIZE, O_THREADS,
    O_GRAN, O_HF, O_NO_LAYER, O_NO_GLOBAL, O_NO_TOKEN, O_MASKFILE, O_SAVE_ATT, O_SAVE_HID, O_LAYERS,
    O_DTYPE, O_MAXGB, O_QUIET, O_VERBOSE, O_SKIP, O_THRESH, O_AMOUNT, O_METRIC, O_PERCENTS, O_EXACT,
    O_MINHEADS, O_HELP, O_TEXT, O_TOKENIZER
};

typedef struct {
    struct option opt;
    int commands;
    const char *arg, *help;
} flag;

static const flag FLAGS[] = {
    {{"model", required_argument, 0, O_MODEL}, ALL, "DIR", "Hugging Face model directory (config.json, model.safetensors, tokenizer files)"},
    {{"task", required_argument, 0, O_TASK}, ALL, "TASK", "GLUE task: cola sst-2 mrpc sts-b qqp mnli mnli-mm qnli rte wnli"},
    {{"data", required_argument, 0, O_DATA}, ALL, "DIR", "GLUE data: the task directory or the GLUE root"},
    {{"out", required_argument, 0, O_OUT}, ALL, "DIR", "output directory (prune: the pruned model directory)"},
    {{"split", required_argument, 0, O_SPLIT}, ALL, "NAME", "dev (default), train, test, dev_mismatched ..."},
    {{"text", required_argument, 0, O_TEXT}, SWEEPS, "FILE", "language-model data instead of a GLUE task: one document per line"},
    {{"tokenizer", required_argument, 0, O_TOKENIZER}, ALL, "DIR", "tokenizer files, if not in the model directory"},
    {{"max-seq-length", required_argument, 0, O_MAXLEN}, ALL, "N", "truncate to N tokens, HF longest_first (default 128)"},
    {{"subset", required_argument, 0, O_SUBSET}, ALL, "N", "only the first N examples (HF's --data_subset)"},
    {{"batch-tokens", required_argument, 0, O_BTOK}, ALL, "N", "length-sorted batches of at most N real tokens (default 2048)"},
    {{"batch-size", required_argument, 0, O_BSIZE}, ALL, "N", "batches of N examples in data order instead (HF's --batch_size)"},
    {{"threads", required_argument, 0, O_THREADS}, ALL, "N", "BLAS/OpenMP threads per rank (default: OMP_NUM_THREADS or all cores)"},
    {{"granularity", required_argument, 0, O_GRAN}, SWEEPS, "G", "example (default), token or batch: where |.| is taken"},
    {{"hf-compat", no_argument, 0, O_HF}, SWEEPS, NULL, "HF's accumulating head_mask.grad (needs --granularity batch)"},
    {{"no-layer-norm", no_argument, 0, O_NO_LAYER}, SWEEPS, NULL, "skip the per-layer L2 normalisation"},
    {{"no-global-norm", no_argument, 0, O_NO_GLOBAL}, SWEEPS, NULL, "skip the global min-max normalisation"},
    {{"no-token-norm", no_argument, 0, O_NO_TOKEN}, SWEEPS, NULL, "do not divide by the number of tokens"},
    {{"head-mask", required_argument, 0, O_MASKFILE}, ALL, "FILE.npy", "float32 [L,H] gates (1 keep, 0 mask)"},
    {{"save-attentions", no_argument, 0, O_SAVE_ATT}, CMD_IMPORTANCE | CMD_EVAL, NULL, "store every example's attention probabilities in run.h5"},
    {{"save-hidden", no_argument, 0, O_SAVE_HID}, CMD_IMPORTANCE | CMD_EVAL, NULL, "store every example's hidden states in run.h5"},
    {{"layers", required_argument, 0, O_LAYERS}, CMD_IMPORTANCE | CMD_EVAL, "LIST", "layers to save, e.g. 0,3-5 (default all)"},
    {{"dtype", required_argument, 0, O_DTYPE}, CMD_IMPORTANCE | CMD_EVAL, "f16|f32", "stored tensor type (default f16)"},
    {{"max-output-gb", required_argument, 0, O_MAXGB}, CMD_IMPORTANCE | CMD_EVAL, "X", "refuse to write a run.h5 larger than X GB (default 20)"},
    {{"skip-bad-lines", no_argument, 0, O_SKIP}, ALL, NULL, "skip malformed TSV rows (counted and reported)"},
    {{"threshold", required_argument, 0, O_THRESH}, CMD_MASK, "X", "stop when score < X * original score (default 0.9)"},
    {{"amount", required_argument, 0, O_AMOUNT}, CMD_MASK, "X", "fraction of heads masked per step (default 0.1)"},
    {{"metric", required_argument, 0, O_METRIC}, CMD_MASK, "NAME", "metric to watch (default: the task's; --text: inv_loss or inv_perplexity)"},
    {{"percents", required_argument, 0, O_PERCENTS}, CMD_MASK, "LIST", "Michel's schedule: 10,20,... percent masked"},
    {{"exact", no_argument, 0, O_EXACT}, CMD_MASK, NULL, "with --percents: re-score importance after every step"},
    {{"min-heads-per-layer", required_argument, 0, O_MINHEADS}, CMD_MASK, "K", "keep at least K heads in every layer"},
    {{"quiet", no_argument, 0, O_QUIET}, ALL, NULL, "no progress lines"},
    {{"verbose", no_argument, 0, O_VERBOSE}, ALL, NULL, "timings, memory peaks, plan statistics"},
    {{"help", no_argument, 0, O_HELP}, ALL, NULL, "this text"},
};
#define N_FLAGS (sizeof FLAGS / sizeof FLAGS[0])

void run_opts_usage(FILE *f, int command, const char *name) {
    fprintf(f, "usage: bertology %s --model DIR --task TASK --data DIR%s [options]\n\noptions:\n", name,
            command == CMD_EVAL ? "" : " --out DIR");
    for (size_t i = 0; i < N_FLAGS; i++) {
        if (!(FLAGS[i].commands & command)) continue;
        char lhs[64];
        snprintf(lhs, sizeof lhs, "--%s%s%s", FLAGS[i].opt.name, FLAGS[i].arg ? " " : "", FLAGS[i].arg ? FLAGS[i].arg : "");
        fprintf(f, "  %-26s %s\n", lhs, FLAGS[i].help);
    }
}

static int parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    const long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static int parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    const double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

#define FAIL(...)                                              \
    do {                                                       \
        if (rank == 0) {                                       \
            fprintf(stderr, "bertology %s: ", name);           \
            fprintf(stderr, __VA_ARGS__);                      \
            fprintf(stderr, " (bertology %s --help)\n", name); \
        }                                                      \
        return 2;                                              \
    } while (0)

int run_opts_parse(run_opts *o, int command, const char *name, int argc, char **argv, int rank) {
    memset(o, 0, sizeof *o);
    o->command = command;
    o->name = name;
    o->split = "dev";
    o->max_seq_length = 128;
    o->granularity = BT_GRAN_EXAMPLE;
    o->layer_norm = o->global_norm = o->token_norm = 1;
    o->dtype_f16 = 1;
    o->max_output_gb = 20.0;
    o->threshold = 0.9;
    o->amount = 0.1;
    size_t pos = 0;
    pos += snprintf(o->command_line, sizeof o->command_line, "bertology");
    for (int i = 0; i < argc && pos < sizeof o->command_line; i++)
        pos += snprintf(o->command_line + pos, sizeof o->command_line - pos, " %s", argv[i]);

    struct option opts[N_FLAGS + 1];
    for (size_t i = 0; i < N_FLAGS; i++) opts[i] = FLAGS[i].opt;
    memset(&opts[N_FLAGS], 0, sizeof opts[N_FLAGS]);
    int c, idx;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
        if (c == '?' || c == ':') FAIL("unknown option or missing value: %s", argv[optind - 1]);
        const flag *fl = NULL;
        for (size_t i = 0; i < N_FLAGS; i++)
            if (FLAGS[i].opt.val == c) fl = &FLAGS[i];
        if (!(fl->commands & command)) FAIL("--%s does not apply to %s", fl->opt.name, name);
        switch (c) {
        case O_MODEL: o->model = optarg; break;
        case O_TASK: o->task = optarg; break;
        case O_DATA: o->data = optarg; break;
        case O_OUT: o->out = optarg; break;
        case O_SPLIT: o->split = optarg; break;
        case O_TEXT: o->text = optarg; break;
        case O_TOKENIZER: o->tokenizer = optarg; break;
        case O_MAXLEN:
            if (parse_int(optarg, 3, 1 << 20, &o->max_seq_length)) FAIL("--max-seq-length %s: need an integer >= 3", optarg);
            break;
        case O_SUBSET:
            if (parse_int(optarg, 1, 1 << 30, &o->subset)) FAIL("--subset %s: need a positive integer", optarg);
            break;
        case O_BTOK:
            if (parse_int(optarg, 1, 1 << 28, &o->batch_tokens)) FAIL("--batch-tokens %s: need a positive integer", optarg);
            break;
        case O_BSIZE:
            if (parse_int(optarg, 1, 1 << 20, &o->batch_size)) FAIL("--batch-size %s: need a positive integer", optarg);
            break;
        case O_THREADS:
            if (parse_int(optarg, 1, 1024, &o->threads)) FAIL("--threads %s: need a positive integer", optarg);
            break;
        case O_GRAN:
            if (!strcmp(optarg, "example")) o->granularity = BT_GRAN_EXAMPLE;
            else if (!strcmp(optarg, "token")) o->granularity = BT_GRAN_TOKEN;
            else if (!strcmp(optarg, "batch")) o->granularity = BT_GRAN_BATCH;
            else FAIL("--granularity %s: one of example, token, batch", optarg);
            break;
        case O_HF: o->hf_compat = 1; break;
        case O_NO_LAYER: o->layer_norm = 0; break;
        case O_NO_GLOBAL: o->global_norm = 0; break;
        case O_NO_TOKEN: o->token_norm = 0; break;
        case O_MASKFILE: o->head_mask_path = optarg; break;
        case O_SAVE_ATT: o->save_attentions = 1; break;
        case O_SAVE_HID: o->save_hidden = 1; break;
        case O_LAYERS: snprintf(o->layers_spec, sizeof o->layers_spec, "%s", optarg); break;
        case O_DTYPE:
            if (!strcmp(optarg, "f16") || !strcmp(optarg, "float16")) o->dtype_f16 = 1;
            else if (!strcmp(optarg, "f32") || !strcmp(optarg, "float32")) o->dtype_f16 = 0;
            else FAIL("--dtype %s: f16 or f32", optarg);
            break;
        case O_MAXGB:
            if (parse_double(optarg, &o->max_output_gb) || o->max_output_gb <= 0) FAIL("--max-output-gb %s: need a positive number", optarg);
            break;
        case O_SKIP: o->skip_bad_lines = 1; break;
        case O_THRESH:
            if (parse_double(optarg, &o->threshold) || !(o->threshold > 0 && o->threshold < 1))
                FAIL("--threshold %s: must be inside (0, 1)", optarg);
            break;
        case O_AMOUNT:
            if (parse_double(optarg, &o->amount) || !(o->amount > 0 && o->amount < 1))
                FAIL("--amount %s: must be inside (0, 1)", optarg);
            break;
        case O_METRIC: o->metric = optarg; break;
        case O_PERCENTS: o->percents = optarg; break;
        case O_EXACT: o->exact = 1; break;
        case O_MINHEADS:
            if (parse_int(optarg, 0, BT_MAX_HEADS, &o->min_heads_per_layer)) FAIL("--min-heads-per-layer %s: need an integer >= 0", optarg);
            break;
        case O_QUIET: o->quiet = 1; break;
        case O_VERBOSE: o->verbose = 1; break;
        case O_HELP:
            if (rank == 0) run_opts_usage(stdout, command, name);
            return -1;
        }
    }
    if (optind < argc) FAIL("unexpected argument '%s'", argv[optind]);
    if (!o->model) FAIL("--model is required");
    if (o->text && (o->task || o->data)) FAIL("--text replaces --task/--data: give one or the other");
    if (!o->text && (command != CMD_PRUNE || o->task || o->data)) {
        if (!o->task) FAIL("--task is required (or --text FILE for a language model)");
        if (!o->data) FAIL("--data is required");
    }
    if (!o->out && command != CMD_EVAL) FAIL("--out is required");
    if (o->batch_size && o->batch_tokens) FAIL("--batch-size and --batch-tokens exclude each other");
    if (o->hf_compat && o->granularity != BT_GRAN_BATCH) FAIL("--hf-compat needs --granularity batch");
    if (o->granularity == BT_GRAN_BATCH && !o->batch_size) FAIL("--granularity batch needs --batch-size N");
    if (o->layers_spec[0] && !o->save_attentions && !o->save_hidden) FAIL("--layers selects what --save-attentions/--save-hidden store");
    if (o->exact && !o->percents) FAIL("--exact goes with --percents");
    return 0;
}

int run_begin(int *argc, char ***argv, int command, const char *name, run_opts *o, int *rank, int *n_ranks) {
    bt_error err = {0};
    if (bt_dist_init(argc, argv, &err)) {
        fprintf(stderr, "bertology %s: %s\n", name, err.msg);
        return BT_EINTERNAL;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, n_ranks);
    const int rc = run_opts_parse(o, command, name, *argc, *argv, *rank);
    if (rc) bt_dist_finalize();
    return rc;
}

/* "0,3-5" -> sorted distinct layers within [0, n). */
static int parse_layers(const char *spec, int n, int *out, int *count, bt_error *err) {
    unsigned char seen[BT_MAX_LAYERS + 1] = {0};
    *count = 0;
    if (!spec[0]) {
        for (int i = 0; i < n; i++) out[(*count)++] = i;
        return BT_OK;
    }
    const char *p = spec;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p) return bt_error_set(err, BT_EINPUT, "--layers %s: expected a list like 0,3-5", spec);
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1) return bt_error_set(err, BT_EINPUT, "--layers %s: expected a list like 0,3-5", spec);
            p = end;
        }
        if (a < 0 || b >= n || a > b)
            return bt_error_set(err, BT_EINPUT, "--layers %s: layers must be within 0..%d", spec, n - 1);
        for (long i = a; i <= b; i++) seen[i] = 1;
        if (*p == ',') p++;
        else if (*p) return bt_error_set(err, BT_EINPUT, "--layers %s: expected a list like 0,3-5", spec);
    }
    for (int i = 0; i < n; i++)
        if (seen[i]) out[(*count)++] = i;
    return BT_OK;
}

void run_fail(int rank, const char *name, const bt_error *err) {
    if (rank == 0) fprintf(stderr, "bertology %s: %s\n", name, err->msg);
}

/* A tokenizer larger than the model's embedding table would fail in the middle of the pass:
 * refuse it here, naming the example's line. */
static int check_vocab(const run_opts *o, const run_ctx *x, bt_error *err) {
    const bt_dataset *d = &x->data;
    const int V = x->model.cfg.vocab_size;
    for (int i = 0; i < d->n; i++)
        for (int t = 0; t < d->len[i]; t++)
            if (d->ids[d->off[i] + t] >= V)
                return bt_error_set(err, BT_EINPUT, "%s:%lld: token id %d from the tokenizer of %s is outside the model's "
                                    "vocabulary of %d (vocab_size in %s/config.json)", o->text ? o->text : x->examples.path,
                                    (long long)d->line[i], d->ids[d->off[i] + t], o->tokenizer ? o->tokenizer : o->model,
                                    V, o->model);
    return BT_OK;
}

static int setup_local(const run_opts *o, run_ctx *x, bt_error *err) {
    int rc = bt_model_load(o->model, &x->model, err);
    if (rc) return rc;
    const bt_config *c = &x->model.cfg;
    if ((o->task || o->text) && o->max_seq_length > c->max_pos - c->pos_offset)
        return bt_error_set(err, BT_EINPUT, "--max-seq-length %d exceeds the %d positions of %s/config.json",
                            o->max_seq_length, c->max_pos - c->pos_offset, o->model);
    if (o->head_mask_path) {
        bt_npy_info info;
        rc = bt_npy_read_f32(o->head_mask_path, &info, &x->head_mask, err);
        if (rc) return rc;
        if (info.ndim != 2 || info.shape[0] != c->n_layers || info.shape[1] != c->n_heads) {
            char shape[128] = "[";
            for (int d = 0; d < info.ndim && d < 8; d++)
                snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", d ? ", " : "",
                         (long long)info.shape[d]);
            strcat(shape, "]");
            return bt_error_set(err, BT_EINPUT, "%s: head mask has shape %s, the model needs [%d, %d]",
                                o->head_mask_path, shape, c->n_layers, c->n_heads);
        }
        for (int i = 0; i < c->n_layers * c->n_heads; i++)
            if (x->head_mask[i] != 0.0f && x->head_mask[i] != 1.0f)
                return bt_error_set(err, BT_EINPUT, "%s: entry [%d, %d] is %g; a head mask holds 0 or 1",
                                    o->head_mask_path, i / c->n_heads, i % c->n_heads, x->head_mask[i]);
    }
    rc = parse_layers(o->layers_spec, c->n_layers, x->attn_layers, &x->n_attn_layers, err);
    if (rc) return rc;
    /* hidden states: the embeddings output and after each selected layer */
    x->n_hidden_layers = 0;
    if (!o->layers_spec[0]) x->hidden_layers[x->n_hidden_layers++] = 0;
    for (int i = 0; i < x->n_attn_layers; i++) x->hidden_layers[x->n_hidden_layers++] = x->attn_layers[i] + 1;
    if (o->text) {
        if (c->head != BT_HEAD_LM)
            return bt_error_set(err, BT_EINPUT, "%s: --text scores a language model, but this model has %s", o->model,
                                c->head == BT_HEAD_NONE ? "no head" : "a classification head (use --task)");
        rc = bt_tok_load(o->tokenizer ? o->tokenizer : o->model, &x->tok, err);
        if (rc) return rc;
        rc = bt_dataset_from_text(o->text, x->tok, o->max_seq_length, &x->data, &x->text_stats, err);
        if (!rc && o->subset > 0 && o->subset < x->data.n) x->data.n = o->subset; /* the first N windows */
        return rc ? rc : check_vocab(o, x, err);
    }
    if (!o->task) return BT_OK;
    if (!strcmp(o->task, "ud")) /* docs/syntax.md: CoNLL-U has no labels, hence no loss and no score */
        return bt_error_set(err, BT_EINPUT, "--task ud: a UD treebank has no labels, so %s has no %s; it is read by "
                            "`bertology syntax --task ud --data FILE.conllu` (--save-attentions/--save-hidden for the tensors)",
                            o->name, o->command == CMD_IMPORTANCE ? "loss to differentiate" : "loss or score");
    x->task = bt_glue_task_find(o->task, err);
    if (!x->task) return BT_EINPUT;
    if (c->head == BT_HEAD_LM)
        return bt_error_set(err, BT_EINPUT, "%s: %s is a language model without a classification head: it cannot "
                            "score the %s task%s (use --text FILE, or a ForSequenceClassification checkpoint)",
                            o->model, x->model.model_type, x->task->name, x->task->is_pair ? " (sentence pairs)" : "");
    if (x->task->is_regression != (c->head == BT_HEAD_REGRESS) && c->head != BT_HEAD_NONE)
        return bt_error_set(err, BT_EINPUT, "%s: a %s model (num_labels %d) cannot score %s, a %s task", o->model,
                            c->head == BT_HEAD_REGRESS ? "regression" : "classification", c->n_labels,
                            x->task->name, x->task->is_regression ? "regression" : "classification");
    if (!x->task->is_regression && c->head == BT_HEAD_CLASSIFY && c->n_labels != x->task->num_labels)
        return bt_error_set(err, BT_EINPUT, "%s: the model has %d labels, task %s has %d", o->model, c->n_labels,
                            x->task->name, x->task->num_labels);
    rc = bt_tok_load(o->tokenizer ? o->tokenizer : o->model, &x->tok, err);
    if (rc) return rc;
    bt_glue_read_opts ro = {.skip_bad_lines = o->skip_bad_lines, .max_examples = (size_t)o->subset};
    rc = bt_glue_read(x->task, o->data, o->split, &ro, &x->examples, err);
    if (rc) return rc;
    rc = bt_dataset_encode(&x->examples, x->tok, o->max_seq_length, &x->data, err);
    return rc ? rc : check_vocab(o, x, err);
}

int run_setup(MPI_Comm comm, const run_opts *o, run_ctx *x) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    memset(x, 0, sizeof *x);
    bt_error local = {0}, err = {0};
    if (o->threads > 0) bt_engine_set_threads(o->threads);
    const int rc = bt_dist_agree(comm, setup_local(o, x, &local), &local, &err);
    if (rc) {
        run_fail(rank, o->name, &err);
        return rc;
    }
    if (rank == 0 && o->text && !o->quiet) {
        const bt_lmtext_stats *t = &x->text_stats;
        fprintf(stderr, "%s: %lld lines, %lld windows of at most %d tokens (%lld from %lld lines split across windows), "
                "%lld one-token windows skipped, %lld empty lines\n", o->text, (long long)t->lines, (long long)t->windows,
                o->max_seq_length, (long long)t->split_windows, (long long)t->split_lines, (long long)t->short_windows,
                (long long)t->empty_lines);
    }
    if (rank == 0 && x->examples.skipped)
        fprintf(stderr, "bertology %s: skipped %zu bad lines of %s (first: %s)\n", o->name, x->examples.skipped,
                x->examples.path, x->examples.first_skipped);
    return BT_OK;
}

void run_ctx_free(run_ctx *x) {
    bt_dataset_free(&x->data);
    bt_glue_examples_free(&x->examples);
    bt_tok_free(x->tok);
    bt_model_free(&x->model);
    free(x->head_mask);
    memset(x, 0, sizeof *x);
}

bt_sweep_options run_sweep_options(const run_opts *o, const run_ctx *x) {
    bt_sweep_options s = bt_sweep_options_default();
    s.granularity = o->granularity;
    s.hf_compat = o->hf_compat;
    s.layer_norm = o->layer_norm;
    s.global_norm = o->global_norm;
    s.token_norm = o->token_norm;
    if (o->batch_size) {
        s.plan.mode = BT_PLAN_BY_SIZE;
        s.plan.batch_size = o->batch_size;
    } else {
        int64_t bt = o->batch_tokens ? o->batch_tokens : BT_PLAN_DEFAULT_BATCH_TOKENS;
        if (bt < x->data.max_len) bt = x->data.max_len; /* a batch must hold the longest example */
        s.plan.batch_tokens = bt;
    }
    const bt_config *c = &x->model.cfg;
    s.plan.cost = bt_plan_cost_transformer(c->n_layers, c->d_model, c->d_ff);
    s.head_mask = x->head_mask;
    s.metrics = x->task ? &x->task->metrics : NULL;
    s.keep_attentions = o->save_attentions;
    s.keep_hidden = o->save_hidden;
    s.progress = o->quiet ? NULL : stderr;
    s.label = o->name;
    return s;
}

int run_make_out_dir(MPI_Comm comm, const run_opts *o) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    bt_error local = {0}, err = {0};
    int rc = 0;
    if (rank == 0) {
        /* mkdir -p: a job script's OUT=/scratch/$USER/run/task should not need its parents made */
        char path[4096];
        snprintf(path, sizeof path, "%s", o->out);
        for (char *p = path + 1; *p && !rc; p++) {
            if (*p != '/') continue;
            *p = '\0';
            if (mkdir(path, 0777) && errno != EEXIST)
                rc = bt_error_set(&local, BT_EINPUT, "%s: cannot create the output directory: %s", path, strerror(errno));
            *p = '/';
        }
        if (!rc && mkdir(path, 0777) && errno != EEXIST)
            rc = bt_error_set(&local, BT_EINPUT, "%s: cannot create the output directory: %s", o->out, strerror(errno));
        struct stat st;
        if (!rc && (stat(path, &st) || !S_ISDIR(st.st_mode)))
            rc = bt_error_set(&local, BT_EINPUT, "%s: not a directory", o->out);
    }
    rc = bt_dist_agree(comm, rc, &local, &err);
    if (rc) run_fail(rank, o->name, &err);
    return rc;
}

char *run_opts_json(const run_opts *o) {
    cJSON *j = cJSON_CreateObject();
    static const char *gran[] = {"example", "token", "batch"};
    cJSON_AddStringToObject(j, "command", o->name);
    cJSON_AddStringToObject(j, "model", o->model ? o->model : "");
    cJSON_AddStringToObject(j, "task", o->task ? o->task : "");
    cJSON_AddStringToObject(j, "data", o->data ? o->data : "");
    cJSON_AddStringToObject(j, "split", o->text ? "" : o->split);
    cJSON_AddStringToObject(j, "text", o->text ? o->text : "");
    cJSON_AddStringToObject(j, "tokenizer", o->tokenizer ? o->tokenizer : "");
    cJSON_AddNumberToObject(j, "max_seq_length", o->max_seq_length);
    cJSON_AddNumberToObject(j, "subset", o->subset);
    cJSON_AddNumberToObject(j, "batch_tokens", o->batch_tokens ? o->batch_tokens : (o->batch_size ? 0 : BT_PLAN_DEFAULT_BATCH_TOKENS));
    cJSON_AddNumberToObject(j, "batch_size", o->batch_size);
    cJSON_AddStringToObject(j, "granularity", gran[o->granularity]);
    cJSON_AddBoolToObject(j, "hf_compat", o->hf_compat);
    cJSON_AddBoolToObject(j, "token_norm", o->token_norm);
    cJSON_AddBoolToObject(j, "layer_norm", o->layer_norm);
    cJSON_AddBoolToObject(j, "global_norm", o->global_norm);
    cJSON_AddStringToObject(j, "head_mask", o->head_mask_path ? o->head_mask_path : "");
    cJSON_AddBoolToObject(j, "save_attentions", o->save_attentions);
    cJSON_AddBoolToObject(j, "save_hidden", o->save_hidden);
    cJSON_AddStringToObject(j, "layers", o->layers_spec);
    cJSON_AddStringToObject(j, "dtype", o->dtype_f16 ? "f16" : "f32");
    cJSON_AddNumberToObject(j, "threads", o->threads);
    if (o->command == CMD_MASK) {
        cJSON_AddNumberToObject(j, "threshold", o->threshold);
        cJSON_AddNumberToObject(j, "amount", o->amount);
        cJSON_AddStringToObject(j, "metric", o->metric ? o->metric : "");
        cJSON_AddStringToObject(j, "percents", o->percents ? o->percents : "");
        cJSON_AddBoolToObject(j, "exact", o->exact);
        cJSON_AddNumberToObject(j, "min_heads_per_layer", o->min_heads_per_layer);
    }
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}
