/* bt_sweep_syntax (bertology/syntax.h): Clark et al.'s arc counts as a pass of the sweep driver.
 * One forward per batch with the attention probabilities kept, no backward; each sequence's maps
 * are turned into counts as soon as the batch is done, so memory is one batch's attention plus
 * the counters, whatever the number of sentences.
 *
 * A batch's partial sums are its integer counts, as doubles (exact: every count and every sum
 * of them stays far below 2^53), then its attention entropy: the driver reduces them in global
 * batch order, saves them in a checkpoint and restores them on resume like any pass's, so the
 * counts are the same integers and the entropy the same bits for any number of ranks, after any
 * number of stops. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/syntax.h"
#include "drive.h"

/* One batch's partial sums: counts [correct R*L*H*2, arcs R, baselines R*6, examples, tokens],
 * then entropy [L*H]. */
typedef struct {
    const bt_dataset *d;
    const bt_syntax_words *w;
    const bt_sweep_options *o;
    bt_syntax_result *res;
    int R, L, H;
    const bt_plan *plan;
    size_t n_counts;      /* integer partial sums per batch */
    int64_t *counts;      /* [n_counts] the batch being run */
    float *attn;          /* [H, T, T] one sequence's attention for one layer */
    double *colsum, *W;   /* [T, m], [m, m] word maps */
    int *pred;            /* [T] */
} syntax_ctx;

/* The words of example i as a sentence of the statistic. */
static bt_syntax_sentence sentence_of(const bt_syntax_words *w, const bt_dataset *d, int i) {
    const int64_t w0 = w->word_off[i];
    return (bt_syntax_sentence){.n_words = (int)(w->word_off[i + 1] - w0), .n_tokens = d->len[i],
                                .n_prefix = w->n_prefix, .n_suffix = w->n_suffix, .first = w->first + w0,
                                .count = w->count + w0, .head = w->head + w0, .rel = w->rel + w0};
}

/* The caller's alignment of words to tokens: a broken one is a bug, not bad input. */
static int syntax_check(void *ctx, bt_error *err) {
    const syntax_ctx *x = ctx;
    const bt_syntax_words *w = x->w;
    const bt_dataset *d = x->d;
    for (int i = 0; i < d->n; i++) {
        const bt_syntax_sentence s = sentence_of(w, d, i);
        int next = s.n_prefix;
        for (int k = 0; k < s.n_words; k++) {
            if (s.first[k] != next || s.count[k] < 1)
                return bt_error_set(err, BT_EINTERNAL, "example %d: word %d's pieces do not follow the previous word's", i, k + 1);
            if (s.head[k] < 0 || s.head[k] > s.n_words || s.rel[k] < 0 || s.rel[k] >= w->n_relations)
                return bt_error_set(err, BT_EINTERNAL, "example %d: word %d has head %d / relation %d out of range", i,
                                    k + 1, s.head[k], s.rel[k]);
            next += s.count[k];
        }
        if (next + s.n_suffix != s.n_tokens)
            return bt_error_set(err, BT_EINTERNAL, "example %d: words cover %d of %d tokens", i, next + s.n_suffix,
                                s.n_tokens);
    }
    return BT_OK;
}

static int syntax_setup(void *ctx, const sweep_share *sh, const bt_engine_limits *lim, bt_error *err) {
    syntax_ctx *x = ctx;
    x->plan = &sh->plan;
    const size_t T = (size_t)lim->max_len, m = T + (size_t)x->w->n_prefix + (size_t)x->w->n_suffix;
    /* a word has at least one piece: at most T words and the specials */
    if (!(x->counts = bt_malloc(x->n_counts, sizeof *x->counts, "the arc counts", err)) ||
        !(x->attn = bt_malloc((size_t)x->H * T * T, sizeof *x->attn, "a sequence's attention", err)) ||
        !(x->colsum = bt_malloc(T * m, sizeof *x->colsum, "a word map", err)) ||
        !(x->W = bt_malloc(m * m, sizeof *x->W, "a word map", err)) ||
        !(x->pred = bt_malloc(T, sizeof *x->pred, "the predictions", err)))
        return BT_EINTERNAL;
    return BT_OK;
}

/* The counts of every sequence of the batch the engine holds. */
static int count_batch(syntax_ctx *x, const bt_engine *e, const int *ex, int n_seqs, bt_error *err) {
    const int R = x->R, L = x->L, H = x->H;
    const size_t n_corr = (size_t)R * L * H * 2;
    int64_t *correct = x->counts, *arcs = correct + n_corr, *base = arcs + R;
    for (int k = 0; k < n_seqs; k++) {
        const bt_syntax_sentence s = sentence_of(x->w, x->d, ex[k]);
        const size_t TT = (size_t)s.n_tokens * s.n_tokens;
        bt_syntax_count_arcs(&s, R, arcs, base);
        for (int l = 0; l < L; l++) {
            int rc = bt_engine_copy_attention(e, k, l, x->attn, err);
            if (rc) return rc;
            for (int h = 0; h < H; h++) {
                bt_syntax_word_attention(x->attn + h * TT, &s, x->colsum, x->W);
                for (int dir = 0; dir < 2; dir++) {
                    bt_syntax_predict(x->W, &s, dir, x->pred);
                    bt_syntax_count(x->pred, &s, R, correct + ((size_t)l * H + h) * 2 + dir, (ptrdiff_t)L * H * 2);
                }
            }
        }
    }
    return BT_OK;
}

static int syntax_run(void *ctx, bt_engine *e, const bt_batch *batch, int slot, int b, double *p, bt_sweep_batch *out,
                      bt_error *err) {
    syntax_ctx *x = ctx;
    const int n = batch->n_seqs, LH = x->L * x->H;
    const int *ex = bt_plan_batch_examples(x->plan, b);
    memset(x->counts, 0, sizeof *x->counts * x->n_counts);
    int rc = bt_engine_forward(e, batch, x->o->head_mask, BT_FWD_ENTROPY, err);
    if (!rc) rc = count_batch(x, e, ex, n, err);
    if (rc) {
        bt_error_prefix(err, "batch %d", b);
        return rc;
    }
    int64_t *totals = x->counts + x->n_counts - 2;
    totals[0] = n;
    for (int k = 0; k < n; k++) totals[1] += batch->lens[k];
    for (size_t j = 0; j < x->n_counts; j++) p[j] = (double)x->counts[j];
    const double *en = bt_engine_entropy(e);
    for (int k = 0; k < n; k++)
        for (int j = 0; j < LH; j++) p[x->n_counts + j] += en[(size_t)k * LH + j];
    *out = (bt_sweep_batch){.n = n, .examples = ex, .entropy = en, .engine = e};
    return BT_OK;
}

void bt_syntax_result_free(bt_syntax_result *r) {
    free(r->correct), free(r->arcs), free(r->base), free(r->entropy_raw);
    memset(r, 0, sizeof *r);
}

static int syntax_finish(void *ctx, const sweep_share *sh, const double *sum, bt_error *err) {
    syntax_ctx *x = ctx;
    bt_syntax_result *r = x->res;
    const int R = x->R, LH = x->L * x->H;
    const size_t n_corr = (size_t)R * LH * 2, n_base = (size_t)R * BT_SYNTAX_N_OFFSETS;
    bt_error local = {0};
    int64_t *counts = bt_malloc(x->n_counts, sizeof *counts, "the arc counts", &local);
    r->correct = counts ? bt_malloc(n_corr, sizeof *r->correct, "the arc counts", &local) : NULL;
    r->arcs = r->correct ? bt_malloc((size_t)R, sizeof *r->arcs, "the arc counts", &local) : NULL;
    r->base = r->arcs ? bt_malloc(n_base, sizeof *r->base, "the baselines", &local) : NULL;
    r->entropy_raw = r->base ? bt_malloc((size_t)LH, sizeof *r->entropy_raw, "the entropy", &local) : NULL;
    if (!r->entropy_raw) {
        free(counts);
        return bt_error_set(err, BT_EINTERNAL, "%s", local.msg); /* the same on every rank */
    }
    for (size_t j = 0; j < x->n_counts; j++) counts[j] = (int64_t)sum[j];
    memcpy(r->correct, counts, sizeof *counts * n_corr);
    memcpy(r->arcs, counts + n_corr, sizeof *counts * (size_t)R);
    memcpy(r->base, counts + n_corr + R, sizeof *counts * n_base);
    r->n_examples = counts[x->n_counts - 2];
    r->n_tokens = counts[x->n_counts - 1];
    memcpy(r->entropy_raw, sum + x->n_counts, sizeof(double) * (size_t)LH);
    r->R = R, r->L = x->L, r->H = x->H;
    free(counts);
    return BT_OK;
}

int bt_sweep_syntax(MPI_Comm comm, const bt_model *m, const bt_dataset *d, const bt_syntax_words *w,
                    const bt_sweep_options *o, bt_sweep_sink sink, void *sink_ctx, bt_syntax_result *res, bt_error *err) {
    memset(res, 0, sizeof *res);
    const bt_config *c = &m->cfg;
    const int R = w->n_relations + 1, L = c->n_layers, H = c->n_heads;
    syntax_ctx x = {.d = d, .w = w, .o = o, .res = res, .R = R, .L = L, .H = H,
                    .n_counts = (size_t)R * L * H * 2 + (size_t)R * (1 + BT_SYNTAX_N_OFFSETS) + 2};
    const sweep_pass pass = {.label = "syntax", .K = (int)(x.n_counts + (size_t)L * H), .attentions = 1,
                             .hidden = o->keep_hidden, .check = syntax_check, .setup = syntax_setup,
                             .run = syntax_run, .finish = syntax_finish};
    sweep_stats st = {0};
    const int rc = sweep_drive(comm, m, d, o, &pass, &x, sink, sink_ctx, &st, err);
    free(x.counts), free(x.attn), free(x.colsum), free(x.W), free(x.pred);
    if (rc) {
        bt_syntax_result_free(res);
        return rc;
    }
    res->n_batches = st.n_batches;
    res->n_resumed = st.n_resumed;
    res->seconds = st.seconds;
    res->peak_rss = st.peak_rss;
    return BT_OK;
}
