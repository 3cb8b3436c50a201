/* The syntax experiment of a run (Clark et al.'s syntactic heads, docs/syntax.md), everything but
 * the printing: the counts of bt_sweep_syntax over the treebank of --task ud, run.h5 with every
 * sentence's rows, /words and /syntax, the summary (entropy; importance NaN: none is computed)
 * and syntax_accuracy.npy [relation, layer, head, direction]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/dist.h"
#include "bertology/npy.h"
#include "bertology/syntax.h"
#include "run_internal.h"

void bt_run_syntax_result_free(bt_run_syntax_result *r) {
    bt_syntax_result_free(&r->counts);
    free(r->accuracy), free(r->baseline_offset), free(r->baseline_accuracy), free(r->relations), free(r->by_arcs);
    memset(r, 0, sizeof *r);
}

/* Accuracies (NaN for a relation without arcs), each relation's best offset baseline (the first
 * of the highest), the relation names and their order by arcs. Local. */
static int derive(const bt_run *x, bt_run_syntax_result *d, bt_error *err) {
    const bt_syntax_result *r = &d->counts;
    const size_t LH2 = (size_t)r->L * r->H * 2;
    if (!(d->accuracy = bt_malloc((size_t)r->R * LH2, sizeof(float), "the accuracies", err)) ||
        !(d->baseline_offset = bt_malloc((size_t)r->R, sizeof(int), "the baselines", err)) ||
        !(d->baseline_accuracy = bt_malloc((size_t)r->R, sizeof(float), "the baselines", err)) ||
        !(d->relations = bt_malloc((size_t)r->R, sizeof(char *), "the relations", err)) ||
        !(d->by_arcs = bt_malloc((size_t)r->R, sizeof(int), "the relations", err)))
        return BT_EINTERNAL;
    for (int q = 0; q < r->R; q++) {
        const int64_t n = r->arcs[q];
        for (size_t j = 0; j < LH2; j++)
            d->accuracy[q * LH2 + j] = n ? (float)((double)r->correct[q * LH2 + j] / (double)n) : NAN;
        int best = 0;
        for (int k = 1; k < BT_SYNTAX_N_OFFSETS; k++)
            if (r->base[q * BT_SYNTAX_N_OFFSETS + k] > r->base[q * BT_SYNTAX_N_OFFSETS + best]) best = k;
        d->baseline_offset[q] = bt_syntax_offsets[best];
        d->baseline_accuracy[q] = n ? (float)((double)r->base[q * BT_SYNTAX_N_OFFSETS + best] / (double)n) : NAN;
        d->relations[q] = q < x->ud.rel_names.n ? x->ud.rel_names.name[q] : "all";
        int k = q; /* insertion sort: a few dozen relations */
        for (; k > 0 && r->arcs[d->by_arcs[k - 1]] < n; k--) d->by_arcs[k] = d->by_arcs[k - 1];
        d->by_arcs[k] = q;
    }
    return BT_OK;
}

/* /syntax: rank 0's arrays (every rank holds the same), collective writes. */
static int write_h5(bt_store *st, const bt_run *x, const bt_run_syntax_result *d, bt_error *err) {
    const bt_syntax_result *r = &d->counts;
    const bt_conllu_pieces *pc = &x->ud_pieces;
    const int R = r->R;
    const int64_t s4[4] = {R, r->L, r->H, 2}, sR[1] = {R}, sRK[2] = {R, BT_SYNTAX_N_OFFSETS}, sK[1] = {BT_SYNTAX_N_OFFSETS};
    const size_t all = (size_t)R * r->L * r->H * 2;
    bt_error local = {0};
    int64_t *total = bt_malloc(all, sizeof(int64_t), "/syntax/total", &local);
    int rc = total ? BT_OK : bt_error_set(err, BT_EINTERNAL, "%s", local.msg);
    for (int q = 0; !rc && q < R; q++)
        for (size_t j = 0; j < all / R; j++) total[q * (all / R) + j] = r->arcs[q];
    const int32_t *boff = (const int32_t *)d->baseline_offset; /* int is int32_t here */
    const int64_t two[1] = {2}, skipped[2] = {pc->skipped_long, pc->skipped_empty};
    const char *dirs[2] = {"dep->head", "head->dep"}, *why[2] = {"longer than max_seq_length", "a word without pieces"};
    /* collective: every rank writes, also after a local failure (then with the error agreed on
     * by the caller's commit) */
#define ARR(path, ty, nd, shp, data) \
    if (!rc) rc = bt_store_write_array(st, path, ty, nd, shp, data, err)
    ARR("/syntax/correct", BT_NPY_I64, 4, s4, r->correct);
    ARR("/syntax/total", BT_NPY_I64, 4, s4, total);
    ARR("/syntax/accuracy", BT_NPY_F32, 4, s4, d->accuracy);
    ARR("/syntax/arcs", BT_NPY_I64, 1, sR, r->arcs);
    ARR("/syntax/baseline_offsets", BT_NPY_I32, 1, sK, bt_syntax_offsets);
    ARR("/syntax/baseline_correct", BT_NPY_I64, 2, sRK, r->base);
    ARR("/syntax/baseline_offset", BT_NPY_I32, 1, sR, boff);
    ARR("/syntax/baseline_accuracy", BT_NPY_F32, 1, sR, d->baseline_accuracy);
    ARR("/syntax/skipped", BT_NPY_I64, 1, two, skipped);
#undef ARR
#define STR(path, attr, k, v) \
    if (!rc) rc = bt_store_write_strings(st, path, attr, k, v, err)
    STR("/syntax", "relations", R, d->relations);
    STR("/syntax", "directions", 2, dirs);
    STR("/syntax", "skipped_why", 2, why);
#undef STR
    free(total);
    return rc;
}


int bt_run_syntax(bt_run *x, bt_run_syntax_result *res, bt_error *err) {
    memset(res, 0, sizeof *res);
    const bt_run_options *o = x->o;
    if (!x->is_ud) return bt_error_set(err, BT_EINPUT, "syntax reads dependency trees: `task` ud `data` FILE.conllu");
    /* run.h5 with /words, and its checkpoint */
    int rc = bt_run_file_open(x, 0, err);
    if (rc) return rc;
    bt_sweep_options so = bt_run_sweep_options(x);
    so.importance = 0;
    so.entropy = 1;
    const bt_conllu_pieces *pc = &x->ud_pieces;
    const bt_syntax_words words = {.n_relations = x->ud.rel_names.n, .word_off = pc->word_off, .first = pc->first,
                                   .count = pc->count, .head = pc->head, .rel = pc->rel,
                                   .n_prefix = pc->n_prefix, .n_suffix = pc->n_suffix};
    rc = bt_sweep_syntax(x->comm, &x->model, &x->data, &words, &so, bt_run_sink, x, &res->counts, err);
    if (rc) return rc;
    bt_error local = {0};
    /* agreed before the collective writes, which every rank must make */
    int lrc = bt_dist_agree(x->comm, derive(x, res, &local), &local, &local);
    if (!lrc) lrc = bt_run_write_entropy_summary(bt_run_store(x), res->counts.L, res->counts.H, res->counts.entropy_raw,
                                               res->counts.n_tokens, res->counts.n_examples, &local);
    if (!lrc) lrc = write_h5(bt_run_store(x), x, res, &local);
    if (!lrc && x->rank == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/syntax_accuracy.npy", o->out);
        const int64_t shape[4] = {res->counts.R, res->counts.L, res->counts.H, 2};
        lrc = bt_npy_write(path, BT_NPY_F32, 4, shape, res->accuracy, &local);
    }
    return bt_run_file_commit(x, lrc, &local, err);
}
