/* bertology syntax: Clark et al.'s syntactic heads on a CoNLL-U treebank (docs/syntax.md).
 * Composes the run floor (its flag table, bt_run_open on --task ud: the CoNLL-U reader and word
 * alignment; run.h5 with /words), the sweep floor's syntax pass and the store (/syntax). */
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

/* /syntax (/words came with run.h5: bt_run_file_open): rank 0's arrays (every rank holds the
 * same), collective writes. */
static int write_h5(bt_store *st, const bt_run *x, const bt_syntax_result *r, const syntax_derived *dv, bt_error *err) {
    const bt_conllu_pieces *pc = &x->ud_pieces;
    const int R = r->R;
    const int64_t s4[4] = {R, r->L, r->H, 2}, sR[1] = {R}, sRK[2] = {R, BT_SYNTAX_N_OFFSETS}, sK[1] = {BT_SYNTAX_N_OFFSETS};
    const size_t all = (size_t)R * r->L * r->H * 2;
    int64_t *total = malloc(sizeof(int64_t) * all);
    int32_t *boff = malloc(sizeof(int32_t) * R);
    const char **rel = relation_names(&x->ud);
    int rc = total && boff && rel ? BT_OK : bt_error_set(err, BT_EINTERNAL, "out of memory");
    if (!rc) {
        for (int q = 0; q < R; q++) {
            for (size_t j = 0; j < all / R; j++) total[q * (all / R) + j] = r->arcs[q];
            boff[q] = bt_syntax_offsets[dv->base_k[q]];
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
#undef ARR
#define STR(path, attr, k, v) if (!rc) rc = bt_store_write_strings(st, path, attr, k, v, err)
    STR("/syntax", "relations", R, rel);
    STR("/syntax", "directions", 2, dirs);
    STR("/syntax", "skipped_why", 2, why);
#undef STR
    free(total), free(boff), free(rel);
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
static void print_table(FILE *f, const bt_run *x, const bt_syntax_result *r, const syntax_derived *dv, int min_arcs) {
    const char **rel = relation_names(&x->ud);
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
    bt_run_options o;
    bt_run x = {0};
    int rc = run_begin(&argc, &argv, BT_CMD_SYNTAX, NAME, &o, &rank, &n_ranks);
    if (rc) return rc < 0 ? 0 : rc;
    bt_syntax_result res = {0};
    syntax_derived dv = {0};
    /* bt_run_open reads the treebank (--task ud) and keeps every layer (no --layers) */
    rc = run_open(comm, &o, &x);
    if (!rc) rc = run_file_open(&x, 0);
    if (rc) goto done;
    const bt_config *c = &x.model.cfg;
    bt_syntax_options po = {.plan = bt_plan_options_default(), .keep_hidden = o.save_hidden,
                            .progress = o.quiet ? NULL : stderr, .label = NAME, .stop = o.stop};
    po.plan.batch_tokens = o.batch_tokens ? o.batch_tokens : BT_PLAN_DEFAULT_BATCH_TOKENS;
    if (po.plan.batch_tokens < x.data.max_len) po.plan.batch_tokens = x.data.max_len;
    po.plan.cost = bt_plan_cost_transformer(c->n_layers, c->d_model, c->d_ff);
    const bt_conllu_pieces *pc = &x.ud_pieces;
    const bt_syntax_words words = {.n_relations = x.ud.rel_names.n, .word_off = pc->word_off, .first = pc->first,
                                   .count = pc->count, .head = pc->head, .rel = pc->rel,
                                   .n_prefix = pc->n_prefix, .n_suffix = pc->n_suffix};
    rc = bt_syntax_pass(comm, &x.model, &x.data, &words, &po, bt_run_sink, &x, &res, &err);
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
    int wrc = bt_store_write_summary(bt_run_store(&x), &sum, &local);
    if (!lrc) lrc = wrc;
    if (!lrc) lrc = write_h5(bt_run_store(&x), &x, &res, &dv, &local);
    if (!lrc && rank == 0) lrc = write_npy(&o, &res, &dv, &local);
    free(ent), free(nan_raw), free(nan_norm), free(no_rank);
    rc = run_file_commit(&x, lrc, &local);
    if (rc) goto done;
    if (rank == 0) {
        print_table(stdout, &x, &res, &dv, o.min_arcs);
        printf("syntax: %lld sentences, %lld arcs, %lld tokens, %.2f s, %d rank%s\n", (long long)res.n_examples,
               (long long)res.arcs[res.R - 1], (long long)res.n_tokens, res.seconds, n_ranks, n_ranks == 1 ? "" : "s");
        if (o.verbose) fprintf(stderr, "syntax: peak RSS %.0f MB (largest over ranks)\n", res.peak_rss / 1e6);
        fflush(stdout);
    }
done:
    derived_free(&dv);
    bt_syntax_result_free(&res);
    bt_run_close(&x);
    run_end();
    return rc;
}
