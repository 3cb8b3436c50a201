/* bertology syntax: Clark et al.'s syntactic heads on a CoNLL-U treebank (docs/syntax.md).
 * Composes the data floor (CoNLL-U reader and word alignment), the sweep floor's syntax pass and
 * the store (run.h5 /syntax and /words); its flags are its own, the run.h5 plumbing is the run
 * floor's (bt_run_file_open, bt_run_sink, bt_run_file_commit: docs/architecture.md). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/conllu.h"
#include "bertology/dist.h"
#include "bertology/npy.h"
#include "bertology/store.h"
#include "bertology/syntax.h"
#include "commands.h"
#include "run_opts.h"

#define NAME "syntax"

typedef struct {
    bt_run_options o; /* the fields run.h5's plumbing reads */
    int min_arcs;    /* table: relations with at least this many arcs */
} syntax_opts;

enum { S_MODEL = 256, S_TASK, S_DATA, S_OUT, S_TOK, S_MAXLEN, S_SUBSET, S_BTOK, S_THREADS, S_ATT, S_HID,
       S_DTYPE, S_MAXGB, S_MINARCS, S_QUIET, S_VERBOSE, S_HELP };

static const struct {
    struct option opt;
    const char *arg, *help;
} FLAGS[] = {
    {{"model", required_argument, 0, S_MODEL}, "DIR", "Hugging Face model directory (any family; no head needed)"},
    {{"task", required_argument, 0, S_TASK}, "ud", "the data are a Universal Dependencies treebank (the only task)"},
    {{"data", required_argument, 0, S_DATA}, "FILE", "CoNLL-U file, e.g. en_ewt-ud-dev.conllu"},
    {{"out", required_argument, 0, S_OUT}, "DIR", "output directory: run.h5, syntax_accuracy.npy"},
    {{"tokenizer", required_argument, 0, S_TOK}, "DIR", "tokenizer files, if not in the model directory"},
    {{"max-seq-length", required_argument, 0, S_MAXLEN}, "N", "longer sentences are skipped and counted (default 128)"},
    {{"subset", required_argument, 0, S_SUBSET}, "N", "only the first N sentences of the file"},
    {{"batch-tokens", required_argument, 0, S_BTOK}, "N", "length-sorted batches of at most N tokens (default 2048)"},
    {{"threads", required_argument, 0, S_THREADS}, "N", "BLAS/OpenMP threads per rank"},
    {{"save-attentions", no_argument, 0, S_ATT}, NULL, "also store every sentence's attention maps in run.h5"},
    {{"save-hidden", no_argument, 0, S_HID}, NULL, "also store every sentence's hidden states (for analysis/probe.py)"},
    {{"dtype", required_argument, 0, S_DTYPE}, "f16|f32", "stored tensor type (default f16)"},
    {{"max-output-gb", required_argument, 0, S_MAXGB}, "X", "refuse to write a run.h5 larger than X GB (default 20)"},
    {{"min-arcs", required_argument, 0, S_MINARCS}, "N", "table: relations with at least N arcs (default 100)"},
    {{"quiet", no_argument, 0, S_QUIET}, NULL, "no progress lines"},
    {{"verbose", no_argument, 0, S_VERBOSE}, NULL, "timings and memory"},
    {{"help", no_argument, 0, S_HELP}, NULL, "this text"},
};
#define N_FLAGS (int)(sizeof FLAGS / sizeof FLAGS[0])

static void usage(FILE *f) {
    fprintf(f, "usage: bertology syntax --model DIR --task ud --data FILE.conllu --out DIR [options]\n\n"
               "Counts, per (relation, layer, head, direction), how often a head's most attended word is the\n"
               "word's syntactic head (Clark et al. 2019), streamed through the model (docs/syntax.md).\n\noptions:\n");
    for (int i = 0; i < N_FLAGS; i++) {
        char lhs[64];
        snprintf(lhs, sizeof lhs, "--%s%s%s", FLAGS[i].opt.name, FLAGS[i].arg ? " " : "", FLAGS[i].arg ? FLAGS[i].arg : "");
        fprintf(f, "  %-26s %s\n", lhs, FLAGS[i].help);
    }
}

static int int_arg(const char *s, int lo, int *out) {
    char *end;
    errno = 0;
    const long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > (1 << 28)) return -1;
    *out = (int)v;
    return 0;
}

#define FAIL(...)                                                     \
    do {                                                              \
        if (rank == 0) {                                              \
            fprintf(stderr, "bertology " NAME ": ");                  \
            fprintf(stderr, __VA_ARGS__);                             \
            fprintf(stderr, " (bertology " NAME " --help)\n");        \
        }                                                             \
        return 2;                                                     \
    } while (0)

static int parse(syntax_opts *so, int argc, char **argv, int rank) {
    bt_run_options *o = &so->o;
    memset(so, 0, sizeof *so);
    o->name = NAME;
    o->split = "";
    o->max_seq_length = 128;
    o->layer_norm = o->global_norm = o->token_norm = 1;
    o->dtype_f16 = 1;
    o->max_output_gb = 20.0;
    so->min_arcs = 100;
    size_t pos = (size_t)snprintf(o->command_line, sizeof o->command_line, "bertology");
    for (int i = 0; i < argc && pos < sizeof o->command_line; i++)
        pos += (size_t)snprintf(o->command_line + pos, sizeof o->command_line - pos, " %s", argv[i]);
    struct option opts[N_FLAGS + 1];
    for (int i = 0; i < N_FLAGS; i++) opts[i] = FLAGS[i].opt;
    memset(&opts[N_FLAGS], 0, sizeof opts[N_FLAGS]);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case S_MODEL: o->model = optarg; break;
        case S_TASK: o->task = optarg; break;
        case S_DATA: o->data = optarg; break;
        case S_OUT: o->out = optarg; break;
        case S_TOK: o->tokenizer = optarg; break;
        case S_MAXLEN:
            if (int_arg(optarg, 1, &o->max_seq_length)) FAIL("--max-seq-length %s: need a positive integer", optarg);
            break;
        case S_SUBSET:
            if (int_arg(optarg, 1, &o->subset)) FAIL("--subset %s: need a positive integer", optarg);
            break;
        case S_BTOK:
            if (int_arg(optarg, 1, &o->batch_tokens)) FAIL("--batch-tokens %s: need a positive integer", optarg);
            break;
        case S_THREADS:
            if (int_arg(optarg, 1, &o->threads)) FAIL("--threads %s: need a positive integer", optarg);
            break;
        case S_ATT: o->save_attentions = 1; break;
        case S_HID: o->save_hidden = 1; break;
        case S_DTYPE:
            if (!strcmp(optarg, "f16") || !strcmp(optarg, "float16")) o->dtype_f16 = 1;
            else if (!strcmp(optarg, "f32") || !strcmp(optarg, "float32")) o->dtype_f16 = 0;
            else FAIL("--dtype %s: f16 or f32", optarg);
            break;
        case S_MAXGB: {
            char *end;
            o->max_output_gb = strtod(optarg, &end);
            if (end == optarg || *end || !(o->max_output_gb > 0) || !isfinite(o->max_output_gb))
                FAIL("--max-output-gb %s: need a positive number", optarg);
            break;
        }
        case S_MINARCS:
            if (int_arg(optarg, 0, &so->min_arcs)) FAIL("--min-arcs %s: need an integer >= 0", optarg);
            break;
        case S_QUIET: o->quiet = 1; break;
        case S_VERBOSE: o->verbose = 1; break;
        case S_HELP:
            if (rank == 0) usage(stdout);
            return -1;
        default: FAIL("unknown option or missing value: %s", argv[optind - 1]);
        }
    }
    if (optind < argc) FAIL("unexpected argument '%s'", argv[optind]);
    if (!o->model) FAIL("--model is required");
    if (!o->task) FAIL("--task ud is required (the data are a CoNLL-U treebank)");
    if (strcmp(o->task, "ud")) FAIL("--task %s: syntax reads dependency trees: --task ud --data FILE.conllu", o->task);
    if (!o->data) FAIL("--data FILE.conllu is required");
    if (!o->out) FAIL("--out is required");
    return 0;
}

/* Everything a syntax run needs, loaded on every rank. */
typedef struct {
    bt_run x; /* model, tokenizer, data (the kept sentences), layers to save, run.h5 */
    bt_conllu ud;
    bt_conllu_pieces pc;
} syntax_ctx;

static int setup_local(const bt_run_options *o, syntax_ctx *s, bt_error *err) {
    bt_run *x = &s->x;
    int rc = bt_model_load(o->model, &x->model, err);
    if (rc) return rc;
    const bt_config *c = &x->model.cfg;
    if (o->max_seq_length > c->max_pos - c->pos_offset)
        return bt_error_set(err, BT_EINPUT, "--max-seq-length %d exceeds the %d positions of %s/config.json",
                            o->max_seq_length, c->max_pos - c->pos_offset, o->model);
    rc = bt_tok_load(o->tokenizer ? o->tokenizer : o->model, &x->tok, err);
    if (!rc) rc = bt_conllu_read(o->data, o->subset, &s->ud, err);
    if (!rc) rc = bt_conllu_encode(&s->ud, x->tok, o->max_seq_length, &x->data, &s->pc, err);
    if (rc) return rc;
    const bt_dataset *d = &x->data;
    for (int i = 0; i < d->n; i++)
        for (int t = 0; t < d->len[i]; t++)
            if (d->ids[d->off[i] + t] >= c->vocab_size)
                return bt_error_set(err, BT_EINPUT, "%s:%lld: token id %d from the tokenizer of %s is outside the model's "
                                    "vocabulary of %d", o->data, (long long)d->line[i], d->ids[d->off[i] + t],
                                    o->tokenizer ? o->tokenizer : o->model, c->vocab_size);
    for (int l = 0; l < c->n_layers; l++) x->attn_layers[x->n_attn_layers++] = l;
    for (int l = 0; l <= c->n_layers; l++) x->hidden_layers[x->n_hidden_layers++] = l;
    return BT_OK;
}

static void ctx_free(syntax_ctx *s) {
    bt_run_close(&s->x);
    bt_conllu_free(&s->ud);
    bt_conllu_pieces_free(&s->pc);
}

/* Names of the R relations: the treebank's universal relations, then "all". */
static const char **relation_names(const bt_conllu *ud) {
    const char **nm = malloc(sizeof(char *) * (size_t)(ud->rel_names.n + 1));
    if (!nm) return NULL;
    for (int r = 0; r < ud->rel_names.n; r++) nm[r] = ud->rel_names.name[r];
    nm[ud->rel_names.n] = "all";
    return nm;
}

/* accuracy [R, L, H, 2] float32 (NaN for a relation without arcs); best baseline per relation */
typedef struct {
    float *acc;
    int *base_k;     /* [R] index into bt_syntax_offsets */
    float *base_acc; /* [R] */
} syntax_derived;

static int derive(const bt_syntax_result *r, syntax_derived *dv) {
    const size_t LH2 = (size_t)r->L * r->H * 2;
    dv->acc = malloc(sizeof(float) * r->R * LH2);
    dv->base_k = malloc(sizeof(int) * r->R);
    dv->base_acc = malloc(sizeof(float) * r->R);
    if (!dv->acc || !dv->base_k || !dv->base_acc) return -1;
    for (int q = 0; q < r->R; q++) {
        const int64_t n = r->arcs[q];
        for (size_t j = 0; j < LH2; j++)
            dv->acc[q * LH2 + j] = n ? (float)((double)r->correct[q * LH2 + j] / (double)n) : NAN;
        int best = 0;
        for (int k = 1; k < BT_SYNTAX_N_OFFSETS; k++)
            if (r->base[q * BT_SYNTAX_N_OFFSETS + k] > r->base[q * BT_SYNTAX_N_OFFSETS + best]) best = k;
        dv->base_k[q] = best;
        dv->base_acc[q] = n ? (float)((double)r->base[q * BT_SYNTAX_N_OFFSETS + best] / (double)n) : NAN;
    }
    return 0;
}

static void derived_free(syntax_derived *dv) {
    free(dv->acc), free(dv->base_k), free(dv->base_acc);
}

/* /syntax and /words: rank 0's arrays (every rank holds the same), collective writes. */
static int write_h5(bt_store *st, const syntax_ctx *s, const bt_syntax_result *r, const syntax_derived *dv,
                    bt_error *err) {
    const bt_conllu_pieces *pc = &s->pc;
    const int R = r->R;
    const int64_t n = pc->n, nw = pc->word_off[pc->n];
    const int64_t s4[4] = {R, r->L, r->H, 2}, sR[1] = {R}, sRK[2] = {R, BT_SYNTAX_N_OFFSETS}, sK[1] = {BT_SYNTAX_N_OFFSETS};
    const size_t all = (size_t)R * r->L * r->H * 2;
    int64_t *total = malloc(sizeof(int64_t) * all), *wcount = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    int32_t *boff = malloc(sizeof(int32_t) * R), *ncount = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    int64_t *sent = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    const char **rel = relation_names(&s->ud);
    int rc = total && wcount && boff && ncount && sent && rel ? BT_OK : bt_error_set(err, BT_EINTERNAL, "out of memory");
    if (!rc) {
        for (int q = 0; q < R; q++) {
            for (size_t j = 0; j < all / R; j++) total[q * (all / R) + j] = r->arcs[q];
            boff[q] = bt_syntax_offsets[dv->base_k[q]];
        }
        for (int64_t i = 0; i < n; i++) {
            wcount[i] = pc->word_off[i];
            ncount[i] = (int32_t)(pc->word_off[i + 1] - pc->word_off[i]);
            sent[i] = pc->sent[i];
        }
    }
    const int64_t two[1] = {2}, skipped[2] = {pc->skipped_long, pc->skipped_empty};
    const char *dirs[2] = {"dep->head", "head->dep"}, *why[2] = {"longer than max_seq_length", "a word without pieces"};
#define ARR(path, ty, nd, shp, data) if (!rc) rc = bt_store_write_array(st, path, ty, nd, shp, data, err)
    ARR("/syntax/correct", BT_NPY_I64, 4, s4, r->correct);
    ARR("/syntax/total", BT_NPY_I64, 4, s4, total);
    ARR("/syntax/accuracy", BT_NPY_F32, 4, s4, dv->acc);
    ARR("/syntax/arcs", BT_NPY_I64, 1, sR, r->arcs);
    ARR("/syntax/baseline_offsets", BT_NPY_I32, 1, sK, bt_syntax_offsets);
    ARR("/syntax/baseline_correct", BT_NPY_I64, 2, sRK, r->base);
    ARR("/syntax/baseline_offset", BT_NPY_I32, 1, sR, boff);
    ARR("/syntax/baseline_accuracy", BT_NPY_F32, 1, sR, dv->base_acc);
    ARR("/syntax/skipped", BT_NPY_I64, 1, two, skipped);
    ARR("/words/sentence", BT_NPY_I64, 1, &n, sent);
    ARR("/words/count", BT_NPY_I32, 1, &n, ncount);
    ARR("/words/offset", BT_NPY_I64, 1, &n, wcount);
    ARR("/words/first", BT_NPY_I32, 1, &nw, pc->first);
    ARR("/words/pieces", BT_NPY_I32, 1, &nw, pc->count);
    ARR("/words/upos", BT_NPY_I32, 1, &nw, pc->upos);
    ARR("/words/head", BT_NPY_I32, 1, &nw, pc->head);
    ARR("/words/deprel", BT_NPY_I32, 1, &nw, pc->deprel);
    ARR("/words/relation", BT_NPY_I32, 1, &nw, pc->rel);
#undef ARR
#define STR(path, attr, k, v) if (!rc) rc = bt_store_write_strings(st, path, attr, k, v, err)
    STR("/syntax", "relations", R, rel);
    STR("/syntax", "directions", 2, dirs);
    STR("/syntax", "skipped_why", 2, why);
    STR("/words", "upos_names", s->ud.upos_names.n, (const char *const *)s->ud.upos_names.name);
    STR("/words", "deprel_names", s->ud.deprel_names.n, (const char *const *)s->ud.deprel_names.name);
    STR("/words", "relation_names", s->ud.rel_names.n, (const char *const *)s->ud.rel_names.name);
#undef STR
    free(total), free(wcount), free(boff), free(ncount), free(sent), free(rel);
    return rc;
}

static const int64_t *g_arcs; /* qsort has no context argument */
static int cmp_arcs_desc(const void *a, const void *b) {
    const int64_t *n = g_arcs;
    const int i = *(const int *)a, j = *(const int *)b;
    return n[j] != n[i] ? (n[j] > n[i] ? 1 : -1) : i - j;
}

/* Clark et al.'s Figure 5 as text: per relation with enough arcs, most frequent first, the best
 * (layer, head, direction) and the best offset baseline. Layers and heads count from 1. */
static void print_table(FILE *f, const syntax_ctx *s, const bt_syntax_result *r, const syntax_derived *dv, int min_arcs) {
    const char **rel = relation_names(&s->ud);
    int *order = malloc(sizeof(int) * r->R);
    if (!rel || !order) {
        free(rel), free(order);
        return;
    }
    for (int q = 0; q < r->R; q++) order[q] = q;
    g_arcs = r->arcs;
    qsort(order, (size_t)r->R, sizeof *order, cmp_arcs_desc);
    const size_t LH2 = (size_t)r->L * r->H * 2;
    fprintf(f, "Syntactic heads (Clark et al. 2019): the best head per relation (at least %d arcs)\n", min_arcs);
    fprintf(f, "%-12s %8s  %-10s %-9s %8s  %8s %6s\n", "relation", "arcs", "layer-head", "direction", "accuracy",
            "baseline", "offset");
    for (int k = 0; k < r->R; k++) {
        const int q = order[k];
        if (r->arcs[q] < min_arcs || r->arcs[q] == 0) continue;
        size_t best = 0;
        for (size_t j = 1; j < LH2; j++)
            if (r->correct[q * LH2 + j] > r->correct[q * LH2 + best]) best = j;
        const int l = (int)(best / (2 * r->H)), h = (int)(best / 2 % r->H), dir = (int)(best % 2);
        char lh[32];
        snprintf(lh, sizeof lh, "%d-%d", l + 1, h + 1);
        fprintf(f, "%-12s %8lld  %-10s %-9s %8.3f  %8.3f %+6d\n", rel[q], (long long)r->arcs[q], lh,
                dir ? "head->dep" : "dep->head", dv->acc[q * LH2 + best], dv->base_acc[q], bt_syntax_offsets[dv->base_k[q]]);
    }
    free(rel), free(order);
}

static int write_npy(const bt_run_options *o, const bt_syntax_result *r, const syntax_derived *dv, bt_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/syntax_accuracy.npy", o->out);
    const int64_t shape[4] = {r->R, r->L, r->H, 2};
    return bt_npy_write(path, BT_NPY_F32, 4, shape, dv->acc, err);
}

int bt_cmd_syntax(int argc, char **argv) {
    bt_error err = {0}, local = {0};
    int rank, n_ranks;
    MPI_Comm comm = MPI_COMM_WORLD;
    if (bt_dist_init(&argc, &argv, &err)) {
        fprintf(stderr, "bertology " NAME ": %s\n", err.msg);
        return BT_EINTERNAL;
    }
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &n_ranks);
    syntax_opts so;
    int rc = parse(&so, argc, argv, rank);
    if (rc) {
        bt_dist_finalize();
        return rc < 0 ? 0 : rc;
    }
    const bt_run_options *o = &so.o;
    syntax_ctx s;
    memset(&s, 0, sizeof s);
    bt_syntax_result res = {0};
    syntax_derived dv = {0};
    if (o->threads > 0) bt_engine_set_threads(o->threads);
    s.x.o = o;
    s.x.comm = comm;
    s.x.rank = rank;
    s.x.n_ranks = n_ranks;
    s.x.meta_task = "ud";
    s.x.meta_split = o->data;
    s.x.no_labels = 1; /* a treebank has no labels: rows without logits, labels or loss */
    rc = bt_dist_agree(comm, setup_local(o, &s, &local), &local, &err);
    if (!rc) rc = bt_run_file_open(&s.x, 0, &err);
    if (rc) {
        run_fail(rank, NAME, &err);
        goto done;
    }
    if (rank == 0 && !o->quiet)
        fprintf(stderr, "%s: %d sentences, %lld words; %d kept (%lld tokens), %lld longer than %d tokens and %lld with a "
                "word of no pieces skipped\n", o->data, s.ud.n_sents, (long long)s.ud.n_words, s.x.data.n,
                (long long)s.x.data.n_tokens, (long long)s.pc.skipped_long, o->max_seq_length, (long long)s.pc.skipped_empty);
    const bt_config *c = &s.x.model.cfg;
    bt_syntax_options po = {.plan = bt_plan_options_default(), .keep_hidden = o->save_hidden,
                            .progress = o->quiet ? NULL : stderr, .label = NAME};
    po.plan.batch_tokens = o->batch_tokens ? o->batch_tokens : BT_PLAN_DEFAULT_BATCH_TOKENS;
    if (po.plan.batch_tokens < s.x.data.max_len) po.plan.batch_tokens = s.x.data.max_len;
    po.plan.cost = bt_plan_cost_transformer(c->n_layers, c->d_model, c->d_ff);
    const bt_syntax_words words = {.n_relations = s.ud.rel_names.n, .word_off = s.pc.word_off, .first = s.pc.first,
                                   .count = s.pc.count, .head = s.pc.head, .rel = s.pc.rel,
                                   .n_prefix = s.pc.n_prefix, .n_suffix = s.pc.n_suffix};
    rc = bt_syntax_pass(comm, &s.x.model, &s.x.data, &words, &po, bt_run_sink, &s.x, &res, &err);
    if (rc) {
        run_fail(rank, NAME, &err);
        goto done;
    }
    int lrc = derive(&res, &dv) ? bt_error_set(&local, BT_EINTERNAL, "out of memory") : BT_OK;
    const int LH = c->n_layers * c->n_heads;
    float *ent = malloc(sizeof(float) * LH);
    for (int j = 0; ent && j < LH; j++) ent[j] = (float)(res.n_tokens ? res.entropy_raw[j] / (double)res.n_tokens : 0.0);
    /* /importance exists in every run.h5; syntax computes none: NaN and rank -1, not stale bytes */
    double *nan_raw = malloc(sizeof(double) * LH);
    float *nan_norm = malloc(sizeof(float) * LH);
    int *no_rank = malloc(sizeof(int) * LH);
    for (int j = 0; nan_raw && nan_norm && no_rank && j < LH; j++) nan_raw[j] = NAN, nan_norm[j] = NAN, no_rank[j] = -1;
    bt_store_summary sum = {.entropy_raw = res.entropy_raw, .entropy_norm = ent, .n_tokens = res.n_tokens,
                            .n_examples = res.n_examples, .importance_raw = nan_raw, .importance_norm = nan_norm,
                            .importance_rank = no_rank};
    if ((!nan_raw || !nan_norm || !no_rank) && !lrc) lrc = bt_error_set(&local, BT_EINTERNAL, "out of memory");
    if (!ent && !lrc) lrc = bt_error_set(&local, BT_EINTERNAL, "out of memory");
    /* collective writes: every rank makes them, whatever happened locally */
    int wrc = bt_store_write_summary(bt_run_store(&s.x), &sum, &local);
    if (!lrc) lrc = wrc;
    if (!lrc) lrc = write_h5(bt_run_store(&s.x), &s, &res, &dv, &local);
    if (!lrc && rank == 0) lrc = write_npy(o, &res, &dv, &local);
    free(ent), free(nan_raw), free(nan_norm), free(no_rank);
    rc = bt_run_file_commit(&s.x, lrc, &local, &err);
    if (rc) {
        run_fail(rank, NAME, &err);
        goto done;
    }
    if (rank == 0) {
        print_table(stdout, &s, &res, &dv, so.min_arcs);
        printf("syntax: %lld sentences, %lld arcs, %lld tokens, %.2f s, %d rank%s\n", (long long)res.n_examples,
               (long long)res.arcs[res.R - 1], (long long)res.n_tokens, res.seconds, n_ranks, n_ranks == 1 ? "" : "s");
        if (o->verbose) fprintf(stderr, "syntax: peak RSS %.0f MB (largest over ranks)\n", res.peak_rss / 1e6);
        fflush(stdout);
    }
done:
    derived_free(&dv);
    bt_syntax_result_free(&res);
    ctx_free(&s);
    run_end();
    return rc;
}
