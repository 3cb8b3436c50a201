/* glue: the GLUE tasks and readers for their TSV files, as Hugging Face's glue processors
 * (transformers/data/processors/glue.py) read them: split on tabs only (csv with no quote
 * character, so quotes stay in the text), header rows skipped, labels mapped to ids in the
 * order of the processor's get_labels().
 *
 * A read keeps only the text columns the task uses, copied into one arena; examples point
 * into it. Line numbers are 1-based physical lines of the file, so messages and per-example
 * results can be traced back to the TSV row. */
#ifndef BERTOLOGY_GLUE_H
#define BERTOLOGY_GLUE_H

#include <stddef.h>
#include <stdint.h>

#include "bertology/error.h"
#include "bertology/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BT_GLUE_NO_COL (-1)   /* no such column (single-sentence text_b, unlabelled label) */
#define BT_GLUE_LAST_COL (-2) /* the last field of the row (HF's line[-1]) */

/* Where the fields are in one kind of file (labelled train/dev, or unlabelled test). */
typedef struct {
    int header;    /* 1: the first line is a header and is skipped */
    int ncols;     /* fields in every row; 0 = as many as the header has (MNLI: 12 in train,
                      16 in dev, 10 in test) */
    int min_cols;  /* when ncols == 0: the least the header may have */
    int col_a;     /* text_a */
    int col_b;     /* text_b, or BT_GLUE_NO_COL */
    int col_label; /* label or score, BT_GLUE_LAST_COL, or BT_GLUE_NO_COL */
} bt_glue_layout;

typedef struct {
    const char *name;          /* HF's task name: "cola", "sst-2", "mnli-mm", ... */
    const char *dir_name;      /* the task's directory in the GLUE download: "SST-2" */
    int num_labels;            /* HF's glue_tasks_num_labels (1 = regression) */
    int is_regression;         /* sts-b */
    const char *const *labels; /* num_labels names, id = index; NULL for regression */
    int is_pair;               /* examples have text_b */
    const char *train_file, *dev_file, *test_file;
    bt_glue_layout labelled;   /* train and dev files */
    bt_glue_layout test;       /* test files (no labels) */
    bt_metric_set metrics;     /* SPEC "Metrics (GLUE)" */
} bt_glue_task;

/* Accepts HF's names (cola sst-2 mrpc sts-b qqp mnli mnli-mm qnli rte wnli) in any case, with
 * '-' or '_' or nothing between the parts (sst2, STS_B), plus mnli_matched / mnli_mismatched
 * (HF datasets' config names). NULL and BT_EINPUT listing the known names otherwise. */
const bt_glue_task *bt_glue_task_find(const char *name, bt_error *err);
/* All tasks, in the order above. */
const bt_glue_task *bt_glue_tasks(int *count);

/* Resolves a split name to a file name and whether it is labelled: train, dev, test for every
 * task; for mnli and mnli-mm also dev_matched, dev_mismatched, test_matched, test_mismatched
 * (mnli's dev is dev_matched, mnli-mm's dev is dev_mismatched). */
int bt_glue_split_file(const bt_glue_task *task, const char *split, const char **file,
                       int *labelled, bt_error *err);

typedef struct {
    const char *text_a;
    const char *text_b; /* NULL for single-sentence tasks */
    int label;          /* index into task->labels; -1 unlabelled or regression */
    float target;       /* regression score; NAN when absent */
    int64_t line;       /* 1-based line of the source file */
} bt_glue_example;

typedef struct {
    int skip_bad_lines; /* skip (and count) malformed rows instead of failing on the first one */
    size_t max_examples; /* 0 = all; else the first N examples (the Python script's --data_subset) */
} bt_glue_read_opts;

#define BT_GLUE_PATH_MAX 4096
/* Longest line read, in bytes (docs/hostile_inputs.md): GLUE's longest (MNLI, with its parse
 * trees) is under 8 KB. A longer data row is a bad row; a longer header an error. */
#define BT_GLUE_MAX_LINE (1 << 20)
typedef struct {
    const bt_glue_task *task;
    bt_glue_example *ex;
    size_t n;
    int labelled;            /* 0 for test splits */
    char path[BT_GLUE_PATH_MAX]; /* the file that was read */
    int64_t lines_read;      /* physical lines consumed (header and skipped lines included) */
    size_t skipped;          /* bad rows skipped under skip_bad_lines */
    char first_skipped[BT_ERROR_MSG_MAX]; /* the message of the first skipped row, or "" */
    char *arena;             /* every text, NUL-terminated; owned */
    size_t arena_bytes;
} bt_glue_examples;

/* Reads data_dir/<file of split>; if that file does not exist, data_dir/<task dir>/<file> (so
 * data_dir may be the task directory, as for HF's --data_dir, or the GLUE root). opts may be
 * NULL (strict, all rows). On failure out is left empty (safe to free) and err says
 * "FILE:LINE: what" for: missing or unreadable file, empty file, wrong field count (expected
 * vs found), label outside the task's set, unparsable score, invalid UTF-8 or a NUL byte,
 * unknown split; a file with no data rows is an error too. UTF-8 BOM, CRLF line ends and a
 * missing final newline are accepted; lines end at '\n' only (one '\r' before it is dropped,
 * any other '\r' stays in the text). Labels must match exactly (no trimming), as HF's
 * label_map lookup does. HF's QQP processor silently drops short rows; here that takes
 * skip_bad_lines. With max_examples the reader stops after N good rows, so later lines are
 * not checked. */
int bt_glue_read(const bt_glue_task *task, const char *data_dir, const char *split,
                 const bt_glue_read_opts *opts, bt_glue_examples *out, bt_error *err);
/* Reads one file given by path with the given layout kind (labelled or not). */
int bt_glue_read_file(const bt_glue_task *task, const char *path, int labelled,
                      const bt_glue_read_opts *opts, bt_glue_examples *out, bt_error *err);
void bt_glue_examples_free(bt_glue_examples *ex);

#ifdef __cplusplus
}
#endif
#endif
