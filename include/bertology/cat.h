/* cat: CAT-probing (Chen et al. 2022) as a pass of the sweep driver: how much each head's and
 * each layer's attention follows the syntax tree of code (docs/cat.md, docs/spec.md "Code
 * structure: CAT-probing"). One forward per batch with the attention kept, no backward; each
 * example's tree, leaf distances and thresholds are computed once, its maps scored head by head
 * and layer by layer, and the scores summed as doubles in the plan's fixed order, so 1, 2 or 3
 * ranks and any number of stops give the same bits. Attention is never stored. Nothing here
 * reads files: the caller hands the code, its language and each token's byte range. */
#ifndef BERTOLOGY_CAT_H
#define BERTOLOGY_CAT_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "bertology/code.h"
#include "bertology/dataset.h"
#include "bertology/error.h"
#include "bertology/model.h"
#include "bertology/sweep.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The code behind a data set's examples. Example i is code[i][0 .. code_len[i]) in language
 * lang[i] (bt_code_lang_find); token t of the data set (d->off[i] <= t < d->off[i] + d->len[i])
 * covers the bytes [tok_start[t], tok_end[t]) of it, or tok_start[t] = -1 (a special token). */
typedef struct {
    const char *const *code;
    const size_t *code_len;
    const int *lang;
    const int64_t *tok_start, *tok_end; /* [d->n_tokens] */
} bt_cat_code;

typedef struct {
    bt_sweep_options pass;      /* batches, threads, progress, checkpoint, head mask */
    bt_code_graph_kind graph;   /* U-AST (default) or the plain AST */
    int n_types;                /* leaf types kept (0: every code leaf) */
    const char *const *types;   /* [n_types] */
} bt_cat_options;

/* Per language g in 0 .. BT_CODE_N_LANGS-1 and, at g = BT_CODE_N_LANGS, all languages pooled. */
#define BT_CAT_GROUPS (BT_CODE_N_LANGS + 1)
typedef struct {
    int L, H;
    double *head_score;   /* [G, L, H] mean example score of each head, NaN when none counted */
    double *layer_score;  /* [G, L] the same for each layer's head-averaged map */
    int64_t *head_n;      /* [G, L, H] examples scored (the others had an empty union: skipped) */
    int64_t *layer_n;     /* [G, L] */
    int64_t examples[BT_CAT_GROUPS];   /* examples of the language in the data */
    int64_t too_few[BT_CAT_GROUPS];    /* of them with fewer than 2 scored leaves: not scored */
    int64_t tree_errors[BT_CAT_GROUPS];/* of them whose tree holds ERROR/MISSING nodes (scored) */
    int64_t leaves[BT_CAT_GROUPS];     /* scored leaves, summed over the scored examples */
    double *entropy_raw;  /* [L, H] attention entropy summed over query tokens (as every pass) */
    double *example_scores; /* [N, L*H + L] each example's head scores, then its layer scores;
                               NaN where it was not scored (fewer than 2 leaves, empty union) */
    int64_t n_tokens;
    int n_batches, n_resumed;
    double seconds;
    int64_t peak_rss;
} bt_cat_result;

/* Collective over comm. Every example's language must be known and its token ranges must lie
 * inside its code (BT_EINPUT naming the example's line otherwise). A parse that fails (a
 * snippet over BT_CODE_MAX_BYTES) is an error naming the line too: the reader refuses those. */
int bt_sweep_cat(MPI_Comm comm, const bt_model *m, const bt_dataset *d, const bt_cat_code *code,
                 const bt_cat_options *o, bt_sweep_sink sink, void *sink_ctx, bt_cat_result *res, bt_error *err);
void bt_cat_result_free(bt_cat_result *r);

#ifdef __cplusplus
}
#endif
#endif
