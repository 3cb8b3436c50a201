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

/* Language-model text: what bt_dataset_from_text did with the file, for the CLI to report. */
typedef struct {
    int64_t lines;         /* lines read */
    int64_t empty_lines;   /* skipped: no text */
    int64_t split_lines;   /* lines of more than max_len tokens, cut into several windows */
    int64_t split_windows; /* windows kept that came from split lines */
    int64_t short_windows; /* one-token windows skipped: no next token to predict */
    int64_t windows;       /* windows kept (= out->n) */
    int64_t tokens;        /* tokens in the kept windows (= out->n_tokens) */
    int64_t longest_line;  /* tokens of the longest line */
} bt_lmtext_stats;

/* A text file for language-model importance: one document per line (a final '\r' is dropped,
 * no line ending is part of the text), each tokenised with no special tokens added (GPT-2:
 * exactly as its tokenizer encodes the line) and cut into consecutive windows of max_len
 * tokens, the last one shorter. A window of one token has no next-token loss and is skipped;
 * empty lines are skipped. Every window is one example: ids, types all 0, line = its line;
 * labels and targets are NULL (the loss is next-token cross-entropy). max_len >= 2. stats may
 * be NULL. Errors: invalid UTF-8 -> "FILE:LINE: invalid UTF-8 at byte N"; a file without a
 * single window of two tokens is an error too. */
#define BT_LMTEXT_MAX_LINE (1 << 26) /* bytes of one line (64 MiB): a longer one is an error */
int bt_dataset_from_text(const char *path, bt_tok *tok, int max_len, bt_dataset *out,
                         bt_lmtext_stats *stats, bt_error *err);

#ifdef __cplusplus
}
#endif
#endif
