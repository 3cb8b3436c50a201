/* bt_sweep_cat (bertology/cat.h): CAT-scores as a pass of the sweep driver.
 *
 * Per example, once: the tree of its code, the owner leaf of each token, the scored leaves, their
 * distances and theta_D. Per layer: the H maps are copied out of the engine one sequence at a
 * time, each head's leaf attention scored, then the layer's: the authors average the heads'
 * token maps before going to leaves, which is the mean of the heads' leaf attentions. Memory is
 * one sequence's attention of one layer and T^2 scratch, whatever the data set.
 *
 * Partial sums of a batch, per language: head score sums and counts [L*H each], layer score sums
 * and counts [L each], then examples, too few leaves, tree errors, scored leaves; then the
 * entropy [L*H]. The driver adds batches in global order, so the sums (double) have the same
 * bits for any number of ranks and any resume. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/cat.h"
#include "bertology/common.h"
#include "drive.h"

enum { N_TAIL = 4 }; /* examples, too few, tree errors, leaves */

typedef struct {
    const bt_dataset *d;
    const bt_cat_code *code;
    const bt_cat_options *o;
    bt_cat_result *res;
    int L, H;
    size_t per_lang;     /* partial sums per language */
    const bt_plan *plan;
    MPI_Comm comm;
    double *ex_scores;   /* [N, L*H + L] each example's head and layer scores (NaN: not scored);
                            this rank's examples, 0 elsewhere (gathered by a sum at the end) */
    int T;               /* longest sequence */
    float *attn;         /* [H, T, T] one sequence, one layer */
    int32_t *slot;       /* [T] scored-leaf slot of each token, -1 */
    int32_t *count;      /* [T] tokens of each slot */
    int32_t *leaves;     /* [T] leaf index of each slot */
    int32_t *slot_of;    /* [cap_leaf] slot of each leaf of the tree, -1 */
    size_t cap_leaf;
    int32_t *dist;       /* [T, T] */
    int32_t *bfs;        /* [cap_bfs] */
    size_t cap_bfs;
    double *la, *la_layer, *work; /* [T, T] each: a head's leaf attention, the layer's, scratch */
} cat_ctx;

static double *lang_sums(const cat_ctx *x, double *p, int g) { return p + (size_t)g * x->per_lang; }

static int cat_check(void *ctx, bt_error *err) {
    const cat_ctx *x = ctx;
    const bt_dataset *d = x->d;
    const bt_cat_code *c = x->code;
    for (int i = 0; i < d->n; i++) {
        if (c->lang[i] < 0 || c->lang[i] >= BT_CODE_N_LANGS)
            return bt_error_set(err, BT_EINPUT, "line %lld: no grammar for the example's language",
                                (long long)(d->line ? d->line[i] : i + 1));
        for (int t = 0; t < d->len[i]; t++) {
            const int64_t k = d->off[i] + t, s = c->tok_start[k], e = c->tok_end[k];
            if (s != -1 && (s < 0 || e < s || e > (int64_t)c->code_len[i]))
                return bt_error_set(err, BT_EINTERNAL, "line %lld: token %d covers bytes [%lld, %lld) of %zu",
                                    (long long)(d->line ? d->line[i] : i + 1), t, (long long)s, (long long)e,
                                    c->code_len[i]);
        }
    }
    return BT_OK;
}

static int cat_setup(void *ctx, const sweep_share *sh, const bt_engine_limits *lim, bt_error *err) {
    cat_ctx *x = ctx;
    x->plan = &sh->plan;
    x->T = lim->max_len;
    const size_t T = (size_t)x->T;
    if (!(x->attn = bt_malloc((size_t)x->H * T * T, sizeof *x->attn, "a sequence's attention", err)) ||
        !(x->slot = bt_malloc(T, sizeof *x->slot, "the token leaves", err)) ||
        !(x->count = bt_malloc(T, sizeof *x->count, "the token leaves", err)) ||
        !(x->leaves = bt_malloc(T, sizeof *x->leaves, "the token leaves", err)) ||
        !(x->dist = bt_malloc(T * T, sizeof *x->dist, "the leaf distances", err)) ||
        !(x->la = bt_malloc(T * T, sizeof *x->la, "the leaf attention", err)) ||
        !(x->la_layer = bt_malloc(T * T, sizeof *x->la_layer, "the leaf attention", err)) ||
        !(x->work = bt_malloc(T * T, sizeof *x->work, "the leaf attention", err)) ||
        !(x->ex_scores = bt_calloc((size_t)x->d->n * ((size_t)x->L * x->H + x->L), sizeof *x->ex_scores,
                                   "the examples' scores", err)))
        return BT_EINTERNAL;
    return BT_OK;
}

static int keep_type(const bt_cat_options *o, const char *type) {
    if (!o->n_types) return 1;
    for (int k = 0; k < o->n_types; k++)
        if (!strcmp(o->types[k], type)) return 1;
    return 0;
}

/* The scored leaves of example i: slots in token order, n returned (0 or 1: not scored). */
static int assign_slots(cat_ctx *x, const bt_code_tree *t, int i, bt_error *err) {
    const bt_cat_code *c = x->code;
    if ((size_t)t->n_leaves > x->cap_leaf &&
        bt_grow((void **)&x->slot_of, &x->cap_leaf, (size_t)t->n_leaves, sizeof *x->slot_of, "the leaf slots", err))
        return -1;
    for (int32_t k = 0; k < t->n_leaves; k++) x->slot_of[k] = -1;
    int n = 0;
    for (int tk = 0; tk < x->d->len[i]; tk++) {
        const int64_t k = x->d->off[i] + tk;
        x->slot[tk] = -1;
        if (c->tok_start[k] < 0) continue;
        const int32_t leaf = bt_code_owner_leaf(t, c->code[i], c->code_len[i], c->tok_start[k], c->tok_end[k]);
        if (leaf < 0 || !keep_type(x->o, t->leaf_type[leaf])) continue;
        if (x->slot_of[leaf] < 0) {
            x->slot_of[leaf] = n;
            x->leaves[n] = leaf;
            x->count[n] = 0;
            n++;
        }
        x->slot[tk] = x->slot_of[leaf];
        x->count[x->slot[tk]]++;
    }
    return n;
}

/* Scores one example of the batch (sequence k) into its language's sums. */
static int score_example(cat_ctx *x, const bt_engine *e, int k, int i, double *p, bt_error *err) {
    const int L = x->L, H = x->H, T = x->d->len[i], g = x->code->lang[i];
    double *s = lang_sums(x, p, g), *head_sum = s, *head_n = s + (size_t)L * H, *layer_sum = head_n + (size_t)L * H,
           *layer_n = layer_sum + L, *tail = layer_n + L;
    const size_t stride = (size_t)L * H + L;
    double *mine = x->ex_scores + (size_t)i * stride;
    for (size_t j = 0; j < stride; j++) mine[j] = NAN;
    bt_code_tree t;
    int rc = bt_code_parse(g, x->code->code[i], x->code->code_len[i], x->o->graph, &t, err);
    if (rc) {
        bt_error_prefix(err, "line %lld", (long long)(x->d->line ? x->d->line[i] : i + 1));
        return rc;
    }
    tail[0] += 1;
    tail[2] += t.has_error ? 1 : 0;
    const int n = assign_slots(x, &t, i, err);
    if (n < 0) {
        bt_code_tree_free(&t);
        return BT_EINTERNAL;
    }
    if (n < 2) {
        tail[1] += 1;
        bt_code_tree_free(&t);
        return BT_OK;
    }
    tail[3] += n;
    if ((size_t)2 * t.n_nodes > x->cap_bfs &&
        bt_grow((void **)&x->bfs, &x->cap_bfs, (size_t)2 * t.n_nodes, sizeof *x->bfs, "the tree search", err)) {
        bt_code_tree_free(&t);
        return BT_EINTERNAL;
    }
    bt_code_distances(&t, n, x->leaves, x->dist, x->bfs);
    bt_code_tree_free(&t);
    const double theta_d = bt_code_dist_threshold(n, x->dist, x->work);
    const size_t TT = (size_t)T * T;
    for (int l = 0; l < L; l++) {
        if ((rc = bt_engine_copy_attention(e, k, l, x->attn, err))) return rc;
        const size_t nn = (size_t)n * n;
        memset(x->la_layer, 0, nn * sizeof *x->la_layer);
        for (int h = 0; h < H; h++) {
            bt_code_leaf_attention(T, x->attn + h * TT, x->slot, n, x->count, x->la);
            const double sc = bt_code_cat_score(n, x->la, x->dist, theta_d, x->work);
            mine[l * H + h] = sc;
            if (!isnan(sc)) head_sum[l * H + h] += sc, head_n[l * H + h] += 1;
            for (size_t j = 0; j < nn; j++) x->la_layer[j] += x->la[j];
        }
        /* the leaf attention of the heads' mean map is the mean of theirs (it is linear) */
        for (size_t j = 0; j < nn; j++) x->la_layer[j] /= H;
        const double sc = bt_code_cat_score(n, x->la_layer, x->dist, theta_d, x->work);
        mine[(size_t)L * H + l] = sc;
        if (!isnan(sc)) layer_sum[l] += sc, layer_n[l] += 1;
    }
    return BT_OK;
}

static int cat_run(void *ctx, bt_engine *e, const bt_batch *batch, int slot, int b, double *p, bt_sweep_batch *out,
                   bt_error *err) {
    (void)slot;
    cat_ctx *x = ctx;
    const int n = batch->n_seqs, LH = x->L * x->H;
    const int *ex = bt_plan_batch_examples(x->plan, b);
    int rc = bt_engine_forward(e, batch, x->o->pass.head_mask, BT_FWD_ENTROPY, err);
    for (int k = 0; k < n && !rc; k++) rc = score_example(x, e, k, ex[k], p, err);
    if (rc) {
        bt_error_prefix(err, "batch %d", b);
        return rc;
    }
    const double *en = bt_engine_entropy(e);
    double *pe = p + (size_t)BT_CODE_N_LANGS * x->per_lang;
    for (int k = 0; k < n; k++)
        for (int j = 0; j < LH; j++) pe[j] += en[(size_t)k * LH + j];
    *out = (bt_sweep_batch){.n = n, .examples = ex, .entropy = en, .engine = e};
    return BT_OK;
}

/* A batch's records for a checkpoint: its examples' scores, so that a resumed run has them all. */
static size_t cat_state_bytes(void *ctx, const bt_plan *plan, int b) {
    const cat_ctx *x = ctx;
    return (size_t)plan->batches[b].n_seqs * ((size_t)x->L * x->H + x->L) * sizeof(double);
}

static void cat_save(void *ctx, int slot, int b, void *buf) {
    (void)slot;
    const cat_ctx *x = ctx;
    const size_t stride = (size_t)x->L * x->H + x->L;
    const int *ex = bt_plan_batch_examples(x->plan, b);
    for (int k = 0; k < x->plan->batches[b].n_seqs; k++)
        memcpy((double *)buf + k * stride, x->ex_scores + (size_t)ex[k] * stride, stride * sizeof(double));
}

static void cat_restore(void *ctx, int slot, int b, const void *buf) {
    (void)slot;
    cat_ctx *x = ctx;
    const size_t stride = (size_t)x->L * x->H + x->L;
    const int *ex = bt_plan_batch_examples(x->plan, b);
    for (int k = 0; k < x->plan->batches[b].n_seqs; k++)
        memcpy(x->ex_scores + (size_t)ex[k] * stride, (const double *)buf + k * stride, stride * sizeof(double));
}

static int cat_finish(void *ctx, const sweep_share *sh, const double *sum, bt_error *err) {
    (void)sh;
    cat_ctx *x = ctx;
    bt_cat_result *r = x->res;
    const int L = x->L, H = x->H, LH = L * H, G = BT_CAT_GROUPS;
    /* every example's scores on every rank: each was computed (or restored) on one rank and is
     * 0 on the others, so the sum is exact (NaN + 0 is NaN) */
    const size_t m = (size_t)x->d->n * ((size_t)LH + L); /* first: a collective before any local failure */
    for (size_t off = 0; off < m; off += (size_t)1 << 30) {
        const size_t k = m - off < ((size_t)1 << 30) ? m - off : ((size_t)1 << 30);
        if (MPI_Allreduce(MPI_IN_PLACE, x->ex_scores + off, (int)k, MPI_DOUBLE, MPI_SUM, x->comm) != MPI_SUCCESS)
            return bt_error_set(err, BT_EINTERNAL, "MPI_Allreduce of the examples' scores failed");
    }
    bt_error local = {0};
    r->head_score = bt_malloc((size_t)G * LH, sizeof(double), "the CAT-scores", &local);
    r->layer_score = r->head_score ? bt_malloc((size_t)G * L, sizeof(double), "the CAT-scores", &local) : NULL;
    r->head_n = r->layer_score ? bt_calloc((size_t)G * LH, sizeof(int64_t), "the CAT-scores", &local) : NULL;
    r->layer_n = r->head_n ? bt_calloc((size_t)G * L, sizeof(int64_t), "the CAT-scores", &local) : NULL;
    r->entropy_raw = r->layer_n ? bt_malloc((size_t)LH, sizeof(double), "the entropy", &local) : NULL;
    if (!r->entropy_raw) return bt_error_set(err, BT_EINTERNAL, "%s", local.msg); /* the same on every rank */
    r->L = L, r->H = H;
    /* pooled: the languages' sums added in language order */
    double *pool_sum = bt_calloc((size_t)LH + L, sizeof(double), "the CAT-scores", &local);
    if (!pool_sum) return bt_error_set(err, BT_EINTERNAL, "%s", local.msg);
    for (int g = 0; g < BT_CODE_N_LANGS; g++) {
        const double *s = sum + (size_t)g * x->per_lang, *hn = s + LH, *ls = hn + LH, *ln = ls + L, *tail = ln + L;
        for (int j = 0; j < LH; j++) {
            r->head_n[(size_t)g * LH + j] = (int64_t)hn[j];
            r->head_score[(size_t)g * LH + j] = hn[j] > 0 ? s[j] / hn[j] : NAN;
            r->head_n[(size_t)BT_CODE_N_LANGS * LH + j] += (int64_t)hn[j];
            pool_sum[j] += s[j];
        }
        for (int l = 0; l < L; l++) {
            r->layer_n[(size_t)g * L + l] = (int64_t)ln[l];
            r->layer_score[(size_t)g * L + l] = ln[l] > 0 ? ls[l] / ln[l] : NAN;
            r->layer_n[(size_t)BT_CODE_N_LANGS * L + l] += (int64_t)ln[l];
            pool_sum[LH + l] += ls[l];
        }
        r->examples[g] = (int64_t)tail[0], r->too_few[g] = (int64_t)tail[1];
        r->tree_errors[g] = (int64_t)tail[2], r->leaves[g] = (int64_t)tail[3];
        r->examples[BT_CODE_N_LANGS] += r->examples[g], r->too_few[BT_CODE_N_LANGS] += r->too_few[g];
        r->tree_errors[BT_CODE_N_LANGS] += r->tree_errors[g], r->leaves[BT_CODE_N_LANGS] += r->leaves[g];
    }
    const size_t P = BT_CODE_N_LANGS;
    for (int j = 0; j < LH; j++) {
        const int64_t n = r->head_n[P * LH + j];
        r->head_score[P * LH + j] = n > 0 ? pool_sum[j] / (double)n : NAN;
    }
    for (int l = 0; l < L; l++) {
        const int64_t n = r->layer_n[P * L + l];
        r->layer_score[P * L + l] = n > 0 ? pool_sum[LH + l] / (double)n : NAN;
    }
    free(pool_sum);
    memcpy(r->entropy_raw, sum + (size_t)BT_CODE_N_LANGS * x->per_lang, sizeof(double) * (size_t)LH);
    r->example_scores = x->ex_scores;
    x->ex_scores = NULL;
    return BT_OK;
}

int bt_sweep_cat(MPI_Comm comm, const bt_model *m, const bt_dataset *d, const bt_cat_code *code,
                 const bt_cat_options *o, bt_sweep_sink sink, void *sink_ctx, bt_cat_result *res, bt_error *err) {
    memset(res, 0, sizeof *res);
    const bt_config *c = &m->cfg;
    const int L = c->n_layers, H = c->n_heads;
    cat_ctx x = {.d = d, .code = code, .o = o, .res = res, .L = L, .H = H, .comm = comm,
                 .per_lang = (size_t)2 * L * H + (size_t)2 * L + N_TAIL};
    const sweep_pass pass = {.label = "cat", .K = (int)((size_t)BT_CODE_N_LANGS * x.per_lang + (size_t)L * H),
                             .attentions = 1, .hidden = o->pass.keep_hidden, .check = cat_check,
                             .setup = cat_setup, .run = cat_run, .state_bytes = cat_state_bytes,
                             .save = cat_save, .restore = cat_restore, .finish = cat_finish};
    sweep_stats st = {0};
    const int rc = sweep_drive(comm, m, d, &o->pass, &pass, &x, sink, sink_ctx, &st, err);
    free(x.attn), free(x.la_layer), free(x.slot), free(x.count), free(x.leaves), free(x.slot_of);
    free(x.dist), free(x.bfs), free(x.la), free(x.work), free(x.ex_scores);
    if (rc) {
        bt_cat_result_free(res);
        return rc;
    }
    res->n_tokens = d->n_tokens;
    res->n_batches = st.n_batches;
    res->n_resumed = st.n_resumed;
    res->seconds = st.seconds;
    res->peak_rss = st.peak_rss;
    return BT_OK;
}

void bt_cat_result_free(bt_cat_result *r) {
    free(r->head_score), free(r->layer_score), free(r->head_n), free(r->layer_n), free(r->entropy_raw);
    free(r->example_scores);
    memset(r, 0, sizeof *r);
}
