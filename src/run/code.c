/* --task code (docs/cat.md): CodeSearchNet JSON lines, each function one example tokenised like
 * any text (<s> code </s>, truncated), each token's byte range in its code kept for the syntax
 * tree's leaves; bt_run_cat, the CAT-probing experiment over them; and /code in run.h5, what the
 * analysis needs to join tokens to leaves. Code has no labels: a model without a language-model
 * head has no loss and no score on it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/dist.h"
#include "bertology/npy.h"
#include "run_internal.h"

void bt_run_code_free(bt_run *x) {
    bt_code_jsonl_free(&x->code);
    free(x->code_lang), free(x->tok_start), free(x->tok_end);
    x->code_lang = NULL, x->tok_start = x->tok_end = NULL;
}

/* A language model's next-token loss needs two tokens (the engine would count a one-token
 * function as loss 0 and pull the mean down): such functions are dropped and counted, as --task
 * ud drops one-token sentences; the rest are encoded again (tokenising is cheap next to a pass). */
static int drop_short(bt_run *x, bt_glue_examples *ex, int max_len, bt_error *err) {
    bt_code_jsonl *cj = &x->code;
    size_t e = 0;
    for (size_t i = 0; i < cj->n; i++) {
        if (x->data.len[i] < 2) {
            free(cj->code[i]), free(cj->language[i]);
            x->skipped_short++;
            continue;
        }
        cj->code[e] = cj->code[i], cj->code_len[e] = cj->code_len[i];
        cj->language[e] = cj->language[i], cj->line[e] = cj->line[i];
        x->code_lang[e] = x->code_lang[i], ex->ex[e] = ex->ex[i];
        e++;
    }
    if (e == cj->n) return BT_OK;
    cj->n = e;
    ex->n = e;
    bt_dataset_free(&x->data);
    if (e == 0)
        return bt_error_set(err, BT_EINPUT, "%s: no function of at least two tokens: a language model's loss needs a next "
                            "token", x->o->data);
    return bt_dataset_encode(ex, x->tok, max_len, &x->data, err);
}

int bt_run_setup_code(const bt_run_options *o, bt_run *x, bt_error *err) {
    const bt_config *c = &x->model.cfg;
    if (c->head != BT_HEAD_LM && (o->command & (BT_CMD_IMPORTANCE | BT_CMD_MASK | BT_CMD_ABLATE)))
        return bt_error_set(err, BT_EINPUT, "`task` code: %s needs a loss or a score, but code has no labels and %s has "
                            "%s; only a language model has one there (next-token loss); eval and cat take any model",
                            o->name, o->model, c->head == BT_HEAD_NONE ? "no head" : "a classification head");
    x->is_code = 1;
    x->meta_task = "code";
    x->meta_split = o->data;
    x->no_labels = 1;
    int rc = bt_tok_load(o->tokenizer ? o->tokenizer : o->model, &x->tok, err);
    if (rc) return rc;
    if (bt_tok_kind_of(x->tok) != BT_TOK_BPE)
        return bt_error_set(err, BT_EINPUT, "`task` code finds each sub-token's leaf by its bytes: it needs a byte-level "
                            "BPE tokenizer (RoBERTa, GPT-2), and %s has %s", o->tokenizer ? o->tokenizer : o->model,
                            bt_tok_name(x->tok));
    const char *names[BT_CODE_N_LANGS];
    for (int g = 0; g < BT_CODE_N_LANGS; g++) names[g] = bt_code_lang_name(g);
    const bt_code_jsonl_opts jo = {.skip_bad_lines = o->skip_bad_lines, .max_examples = (size_t)o->subset,
                                   .max_code_bytes = BT_CODE_MAX_BYTES, .n_languages = BT_CODE_N_LANGS,
                                   .languages = names};
    if ((rc = bt_code_jsonl_read(o->data, &jo, &x->code, err))) return rc;
    const bt_code_jsonl *cj = &x->code;
    /* tokenised as GLUE sentences are: the same truncation and special tokens */
    bt_glue_examples ex = {.n = cj->n, .labelled = 0};
    snprintf(ex.path, sizeof ex.path, "%s", o->data);
    ex.ex = bt_calloc(cj->n, sizeof *ex.ex, "the examples", err);
    x->code_lang = ex.ex ? bt_malloc(cj->n, sizeof *x->code_lang, "the examples", err) : NULL;
    if (!x->code_lang) {
        free(ex.ex);
        return BT_EINTERNAL;
    }
    for (size_t i = 0; i < cj->n; i++) {
        ex.ex[i] = (bt_glue_example){.text_a = cj->code[i], .label = -1, .target = NAN, .line = cj->line[i]};
        x->code_lang[i] = bt_code_lang_find(cj->language[i]);
    }
    rc = bt_dataset_encode(&ex, x->tok, o->max_seq_length, &x->data, err);
    if (!rc && c->head == BT_HEAD_LM && o->command != BT_CMD_CAT) rc = drop_short(x, &ex, o->max_seq_length, err);
    free(ex.ex);
    if (rc) return rc;
    const bt_dataset *d = &x->data;
    x->tok_start = bt_malloc((size_t)d->n_tokens + 1, sizeof(int64_t), "the token ranges", err);
    x->tok_end = x->tok_start ? bt_malloc((size_t)d->n_tokens + 1, sizeof(int64_t), "the token ranges", err) : NULL;
    if (!x->tok_end) return BT_EINTERNAL;
    for (int i = 0; i < d->n; i++) {
        rc = bt_tok_byte_ranges(x->tok, cj->code[i], cj->code_len[i], d->ids + d->off[i], d->len[i],
                                x->tok_start + d->off[i], x->tok_end + d->off[i], err);
        if (rc) {
            bt_error_prefix(err, "%s:%lld", o->data, (long long)d->line[i]);
            return rc;
        }
    }
    return BT_OK;
}

/* ---- /code: every example's leaves and each token's leaf, for the analysis ------------------- */

typedef struct {
    int64_t *leaf_off;           /* [N + 1] */
    int64_t *leaf_start, *leaf_end; /* [total] bytes in the example's code */
    int32_t *leaf_type;          /* [total] index into types */
    int32_t *token_leaf;         /* [n_tokens] leaf of the example, -1 none */
    int32_t *lang;               /* [N] */
    const char **types;          /* distinct node types, in order of first use */
    int n_types;
    size_t cap_leaves, cap_types;
    int64_t total;
} code_leaves;

static int type_index(code_leaves *cl, const char *type, bt_error *err) {
    for (int k = 0; k < cl->n_types; k++)
        if (cl->types[k] == type || !strcmp(cl->types[k], type)) return k;
    if (bt_grow((void **)&cl->types, &cl->cap_types, (size_t)cl->n_types + 1, sizeof *cl->types, "the node types", err))
        return -1;
    cl->types[cl->n_types] = type;
    return cl->n_types++;
}

/* Rank 0 only: the trees of every example (U-AST or not makes no difference to the leaves). */
static int build_leaves(const bt_run *x, code_leaves *cl, bt_error *err) {
    const bt_dataset *d = &x->data;
    const bt_code_jsonl *cj = &x->code;
    if (!(cl->leaf_off = bt_malloc((size_t)d->n + 1, sizeof(int64_t), "/code", err)) ||
        !(cl->token_leaf = bt_malloc((size_t)d->n_tokens + 1, sizeof(int32_t), "/code", err)) ||
        !(cl->lang = bt_malloc((size_t)d->n + 1, sizeof(int32_t), "/code", err)))
        return BT_EINTERNAL;
    for (int i = 0; i < d->n; i++) {
        bt_code_tree t;
        int rc = bt_code_parse(x->code_lang[i], cj->code[i], cj->code_len[i], BT_CODE_PLAIN, &t, err);
        if (rc) {
            bt_error_prefix(err, "%s:%lld", x->o->data, (long long)d->line[i]);
            return rc;
        }
        cl->leaf_off[i] = cl->total;
        cl->lang[i] = x->code_lang[i];
        const size_t need = (size_t)(cl->total + t.n_leaves);
        size_t c2 = cl->cap_leaves, c3 = cl->cap_leaves;
        if (need > cl->cap_leaves &&
            (bt_grow((void **)&cl->leaf_start, &c2, need, sizeof(int64_t), "/code", err) ||
             bt_grow((void **)&cl->leaf_end, &c3, need, sizeof(int64_t), "/code", err) ||
             bt_grow((void **)&cl->leaf_type, &cl->cap_leaves, need, sizeof(int32_t), "/code", err))) {
            bt_code_tree_free(&t);
            return BT_EINTERNAL;
        }
        for (int32_t k = 0; k < t.n_leaves; k++) {
            const int ty = type_index(cl, t.leaf_type[k], err);
            if (ty < 0) {
                bt_code_tree_free(&t);
                return BT_EINTERNAL;
            }
            cl->leaf_start[cl->total + k] = t.leaf_start[k];
            cl->leaf_end[cl->total + k] = t.leaf_end[k];
            cl->leaf_type[cl->total + k] = ty;
        }
        for (int tk = 0; tk < d->len[i]; tk++) {
            const int64_t j = d->off[i] + tk;
            cl->token_leaf[j] = x->tok_start[j] < 0 ? -1
                                : bt_code_owner_leaf(&t, cj->code[i], cj->code_len[i], x->tok_start[j], x->tok_end[j]);
        }
        cl->total += t.n_leaves;
        bt_code_tree_free(&t);
    }
    cl->leaf_off[d->n] = cl->total;
    return BT_OK;
}

static void code_leaves_free(code_leaves *cl) {
    free(cl->leaf_off), free(cl->leaf_start), free(cl->leaf_end), free(cl->leaf_type), free(cl->token_leaf);
    free(cl->lang), free(cl->types);
}

int bt_run_write_code(bt_run *x, bt_error *err) {
    code_leaves cl = {0};
    bt_error local = {0};
    const bt_dataset *d = &x->data;
    /* the writes are collective: every rank learns of rank 0's failure before them */
    int rc = bt_dist_agree(x->comm, x->rank == 0 ? build_leaves(x, &cl, &local) : BT_OK, &local, err);
    bt_store *st = bt_run_store(x);
    const int64_t n = d->n, n1 = d->n + 1, nt = d->n_tokens, total = cl.total;
    const char *langs[BT_CODE_N_LANGS];
    for (int g = 0; g < BT_CODE_N_LANGS; g++) langs[g] = bt_code_lang_name(g);
#define ARR(path, ty, len, data) if (!rc) rc = bt_store_write_array(st, path, ty, 1, &(len), data, err)
    ARR("/code/language", BT_NPY_I32, n, cl.lang);
    ARR("/code/leaf_offset", BT_NPY_I64, n1, cl.leaf_off);
    ARR("/code/leaf_start", BT_NPY_I64, total, cl.leaf_start);
    ARR("/code/leaf_end", BT_NPY_I64, total, cl.leaf_end);
    ARR("/code/leaf_type", BT_NPY_I32, total, cl.leaf_type);
    ARR("/code/token_start", BT_NPY_I64, nt, x->tok_start);
    ARR("/code/token_end", BT_NPY_I64, nt, x->tok_end);
    ARR("/code/token_leaf", BT_NPY_I32, nt, cl.token_leaf);
#undef ARR
    if (!rc) rc = bt_store_write_strings(st, "/code", "languages", BT_CODE_N_LANGS, langs, err);
    if (!rc) rc = bt_store_write_strings(st, "/code", "leaf_types", cl.n_types, cl.types, err);
    code_leaves_free(&cl);
    return rc;
}

/* ---- bt_run_cat --------------------------------------------------------------------------- */

#define MAX_TYPES 64

/* "a,b,c" into types (pointers into buf). */
static int split_types(const char *spec, char *buf, size_t cap, const char **types, int *n, bt_error *err) {
    *n = 0;
    if (!spec || !spec[0]) return BT_OK;
    if (strlen(spec) >= cap) return bt_error_set(err, BT_EINPUT, "`cat_types` is longer than %zu bytes", cap - 1);
    strcpy(buf, spec);
    for (char *p = buf, *tok; (tok = strsep(&p, ","));) {
        if (!tok[0]) return bt_error_set(err, BT_EINPUT, "`cat_types` %s: an empty type", spec);
        if (*n == MAX_TYPES) return bt_error_set(err, BT_EINPUT, "`cat_types`: more than %d types", MAX_TYPES);
        types[(*n)++] = tok;
    }
    return BT_OK;
}

/* /cat (docs/run_h5.md): rank 0's arrays (every rank holds the same), collective writes. */
static int write_cat(bt_store *st, const bt_run *x, const bt_cat_result *r, bt_error *err) {
    const int64_t G = BT_CAT_GROUPS, L = r->L, H = r->H, N = x->data.n;
    const int64_t sGLH[3] = {G, L, H}, sGL[2] = {G, L}, sG[1] = {G}, sNLH[3] = {N, L, H}, sNL[2] = {N, L};
    const size_t stride = (size_t)(L * H + L);
    bt_error local = {0};
    double *ex_head = bt_malloc((size_t)(N ? N : 1) * L * H, sizeof(double), "/cat", &local);
    double *ex_layer = ex_head ? bt_malloc((size_t)(N ? N : 1) * L, sizeof(double), "/cat", &local) : NULL;
    int rc = bt_dist_agree(x->comm, ex_layer ? BT_OK : BT_EINTERNAL, &local, err);
    for (int64_t i = 0; !rc && i < N; i++) {
        memcpy(ex_head + i * L * H, r->example_scores + i * stride, sizeof(double) * (size_t)(L * H));
        memcpy(ex_layer + i * L, r->example_scores + i * stride + L * H, sizeof(double) * (size_t)L);
    }
    const char *groups[BT_CAT_GROUPS];
    for (int g = 0; g < BT_CODE_N_LANGS; g++) groups[g] = bt_code_lang_name(g);
    groups[BT_CODE_N_LANGS] = "all";
    const char *graph[1] = {x->o->cat_plain ? "ast" : "u-ast"};
#define ARR(path, ty, nd, shp, data) if (!rc) rc = bt_store_write_array(st, path, ty, nd, shp, data, err)
    ARR("/cat/head_score", BT_NPY_F64, 3, sGLH, r->head_score);
    ARR("/cat/layer_score", BT_NPY_F64, 2, sGL, r->layer_score);
    ARR("/cat/head_count", BT_NPY_I64, 3, sGLH, r->head_n);
    ARR("/cat/layer_count", BT_NPY_I64, 2, sGL, r->layer_n);
    ARR("/cat/examples", BT_NPY_I64, 1, sG, r->examples);
    ARR("/cat/too_few_leaves", BT_NPY_I64, 1, sG, r->too_few);
    ARR("/cat/tree_errors", BT_NPY_I64, 1, sG, r->tree_errors);
    ARR("/cat/leaves", BT_NPY_I64, 1, sG, r->leaves);
    ARR("/cat/example_head_score", BT_NPY_F64, 3, sNLH, ex_head);
    ARR("/cat/example_layer_score", BT_NPY_F64, 2, sNL, ex_layer);
#undef ARR
    if (!rc) rc = bt_store_write_strings(st, "/cat", "groups", BT_CAT_GROUPS, groups, err);
    if (!rc) rc = bt_store_write_strings(st, "/cat", "graph", 1, graph, err);
    const char *types[MAX_TYPES];
    char buf[4096];
    int n_types = 0;
    if (!rc && !split_types(x->o->cat_types, buf, sizeof buf, types, &n_types, &local))
        rc = bt_store_write_strings(st, "/cat", "leaf_types_kept", n_types, types, err);
    free(ex_head), free(ex_layer);
    return rc;
}


int bt_run_cat(bt_run *x, bt_cat_result *res, bt_error *err) {
    memset(res, 0, sizeof *res);
    const bt_run_options *o = x->o;
    if (!x->is_code) return bt_error_set(err, BT_EINPUT, "cat reads code: `task` code `data` FILE.jsonl");
    const char *types[MAX_TYPES];
    char buf[4096];
    int n_types;
    int rc = split_types(o->cat_types, buf, sizeof buf, types, &n_types, err);
    if (rc) return rc; /* the same on every rank: the options are */
    if ((rc = bt_run_file_open(x, 0, err))) return rc;
    bt_sweep_options so = bt_run_sweep_options(x);
    so.importance = 0;
    so.entropy = 1;
    const bt_cat_code code = {.code = (const char *const *)x->code.code, .code_len = x->code.code_len,
                              .lang = x->code_lang, .tok_start = x->tok_start, .tok_end = x->tok_end};
    const bt_cat_options co = {.pass = so, .graph = o->cat_plain ? BT_CODE_PLAIN : BT_CODE_UAST, .n_types = n_types,
                               .types = types};
    rc = bt_sweep_cat(x->comm, &x->model, &x->data, &code, &co, bt_run_sink, x, res, err);
    if (rc) return rc;
    bt_error local = {0};
    int lrc = bt_run_write_entropy_summary(bt_run_store(x), res->L, res->H, res->entropy_raw, res->n_tokens, x->data.n, &local);
    if (!lrc) lrc = write_cat(bt_run_store(x), x, res, &local);
    if (!lrc && x->rank == 0) {
        const int L = res->L, H = res->H;
        float *hs = bt_malloc((size_t)L * H + L, sizeof(float), "cat_score.npy", &local);
        if (!hs) lrc = BT_EINTERNAL;
        for (int j = 0; !lrc && j < L * H + L; j++)
            hs[j] = (float)(j < L * H ? res->head_score[(size_t)BT_CODE_N_LANGS * L * H + j]
                                      : res->layer_score[(size_t)BT_CODE_N_LANGS * L + j - L * H]);
        char path[4096];
        const int64_t s2[2] = {L, H}, s1[1] = {L};
        snprintf(path, sizeof path, "%s/cat_score.npy", o->out);
        if (!lrc) lrc = bt_npy_write(path, BT_NPY_F32, 2, s2, hs, &local);
        snprintf(path, sizeof path, "%s/cat_layer_score.npy", o->out);
        if (!lrc) lrc = bt_npy_write(path, BT_NPY_F32, 1, s1, hs + L * H, &local);
        free(hs);
    }
    return bt_run_file_commit(x, lrc, &local, err);
}
