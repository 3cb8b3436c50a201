/* dataset: GLUE examples turned into the engine's inputs (token ids, token types, labels), one
 * packed array for the whole split, as every rank holds it (tokenising is cheap next to the
 * model; each rank tokenising everything keeps the batch plan free of communication). */
#ifndef BERTOLOGY_DATASET_H
#define BERTOLOGY_DATASET_H

#include <stdint.h>

#include "bertology/error.h"
#include "bertology/glue.h"
#include "bertology/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int n;            /* examples */
    int *len;         /* [n] tokens of example i (special tokens included) */
    int64_t *off;     /* [n] first token of example i in ids/types */
    int64_t n_tokens; /* sum of len */
    int max_len;
    int *ids, *types; /* [n_tokens] */
    int *labels;      /* [n] class ids, or NULL (regression / unlabelled) */
    float *targets;   /* [n] regression targets, or NULL */
    int64_t *line;    /* [n] source line of each example (for messages) */
} bt_dataset;

/* Tokenises every example with truncation to max_len (HF: longest_first for pairs). Errors
 * name "FILE:LINE" of the example. */
int bt_dataset_encode(const bt_glue_examples *ex, bt_tok *tok, int max_len, bt_dataset *out,
                      bt_error *err);
void bt_dataset_free(bt_dataset *d);

#ifdef __cplusplus
}
#endif
#endif
