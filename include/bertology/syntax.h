/* syntax: Clark et al.'s heads as dependency parsers (docs/spec.md "Syntax and probing").
 *
 * Pure functions on one sentence (word-level attention from one head's token-level map, the
 * head-as-parser prediction in both directions, integer arc counts, offset baselines), and the
 * pass that streams them through the engine over a data set: one forward per batch with the
 * attention probabilities kept, no backward, counts per (relation, layer, head, direction)
 * summed as integers and reduced with one MPI_Allreduce, so the result is identical for any
 * number of ranks. Nothing here knows CoNLL-U or HDF5: the caller hands the words. */
#ifndef BERTOLOGY_SYNTAX_H
#define BERTOLOGY_SYNTAX_H

#include <mpi.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bertology/dataset.h"
#include "bertology/error.h"
#include "bertology/model.h"
#include "bertology/plan.h"
#include "bertology/sweep.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { BT_SYNTAX_DEP_TO_HEAD = 0, BT_SYNTAX_HEAD_TO_DEP = 1 };

/* Offsets k of the baseline predictors "head = word i + k" (clipped to the sentence). */
#define BT_SYNTAX_N_OFFSETS 6
extern const int bt_syntax_offsets[BT_SYNTAX_N_OFFSETS]; /* -3 -2 -1 1 2 3 */

/* One sentence: n words whose pieces are tokens first[i] .. first[i] + count[i] - 1 of a
 * sequence of T tokens; the n_prefix tokens before the first word and the n_suffix tokens
 * after the last one ([CLS], [SEP], <s>, </s>) are words of their own in the word-level map. */
typedef struct {
    int n_words, n_tokens, n_prefix, n_suffix;
    const int *first, *count; /* [n] */
    const int *head;          /* [n] 0 = root, else 1..n */
    const int *rel;           /* [n] relation id in 0 .. R-2; R-1 is "all" */
} bt_syntax_sentence;

/* Words of the word-level map: n_prefix + n + n_suffix. */
static inline int bt_syntax_map_words(const bt_syntax_sentence *s) {
    return s->n_prefix + s->n_words + s->n_suffix;
}

/* W[m, m] (m = bt_syntax_map_words) from a head's token-level map A[T, T] (row = from, column
 * = to): W[i, j] = (sum over the pieces t of word i of (sum over the pieces p of word j of
 * A[t, p])) / count(i), summed in double in increasing t and p (Clark's "mean" mode). colsum
 * holds T * m doubles of scratch. */
void bt_syntax_word_attention(const float *A, const bt_syntax_sentence *s, double *colsum, double *W);

/* pred[i] (1-based word) for each word i: the word j (specials excluded) with the largest
 * W[i, j] (dep->head) or W[j, i] (head->dep) once the diagonal is set to 0, the first on ties
 * (numpy's argmax, as Clark's attn_head_predictor). */
void bt_syntax_predict(const double *W, const bt_syntax_sentence *s, int direction, int *pred);

/* correct[rel * stride] and correct[(R-1) * stride] += 1 for every non-root arc whose
 * prediction is its HEAD. */
void bt_syntax_count(const int *pred, const bt_syntax_sentence *s, int R, int64_t *correct, ptrdiff_t stride);

/* arcs[rel] and arcs[R-1] += 1 for every non-root arc; base[rel * 6 + k] (and row R-1) += 1 when
 * the offset predictor k is right. */
void bt_syntax_count_arcs(const bt_syntax_sentence *s, int R, int64_t *arcs, int64_t *base);

/* Words of every example of a data set, as the caller aligned them (bt_conllu_encode). */
typedef struct {
    int n_relations;          /* R - 1: relation ids 0 .. R-2; the pass adds "all" as R-1 */
    const int64_t *word_off;  /* [n_examples + 1] example i's words */
    const int *first, *count, *head, *rel; /* [word_off[n]] */
    int n_prefix, n_suffix;
} bt_syntax_words;

typedef struct {
    bt_plan_options plan;
    const float *head_mask;  /* [L, H] or NULL */
    int keep_hidden;         /* engine keeps hidden states for the sink */
    FILE *progress;          /* rank 0's progress lines, or NULL */
    const char *label;
    const volatile sig_atomic_t *stop; /* non-zero: stop (the batch in flight abandoned at the next
                                          layer) at a slot all ranks agree on, BT_EINTERRUPTED;
                                          nothing is saved (NULL: never) */
} bt_syntax_options;

/* Summed over the data set, identical on every rank. */
typedef struct {
    int R, L, H;
    int64_t *correct;   /* [R, L, H, 2] */
    int64_t *arcs;      /* [R] non-root arcs */
    int64_t *base;      /* [R, 6] correct predictions of each offset baseline */
    double *entropy_raw;/* [L, H] attention entropy summed over query tokens and examples, in
                           global batch order (bitwise the same for any number of ranks) */
    int64_t n_examples, n_tokens;
    int n_batches;
    double seconds;
    int64_t peak_rss;   /* largest over ranks */
} bt_syntax_result;

/* The pass. sink (may be NULL) gets every batch's examples like bt_sweep_pass's sink (logits,
 * loss and gate_grad NULL; entropy set; the engine holds attentions and, with keep_hidden,
 * hidden states), the same number of calls on every rank. Collective. */
int bt_syntax_pass(MPI_Comm comm, const bt_model *m, const bt_dataset *d, const bt_syntax_words *w,
                   const bt_syntax_options *o, bt_sweep_sink sink, void *sink_ctx, bt_syntax_result *res,
                   bt_error *err);
void bt_syntax_result_free(bt_syntax_result *r);

#ifdef __cplusplus
}
#endif
#endif
