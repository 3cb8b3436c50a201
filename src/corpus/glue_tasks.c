/* The GLUE task table: file names, column layouts and label orders of HF's glue processors
 * (transformers/data/processors/glue.py), metric sets of SPEC.md. */
#include "bertology/glue.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *const LABELS_01[] = {"0", "1"};
static const char *const LABELS_MNLI[] = {"contradiction", "entailment", "neutral"};
static const char *const LABELS_NLI2[] = {"entailment", "not_entailment"};

#define NONE BT_GLUE_NO_COL
#define LAST BT_GLUE_LAST_COL
#define SET1(m) {m, 1, {m}}
#define SET_ACC_F1 {BT_METRIC_ACC_AND_F1, 3, {BT_METRIC_ACC, BT_METRIC_F1, BT_METRIC_ACC_AND_F1}}
#define SET_CORR {BT_METRIC_CORR, 3, {BT_METRIC_PEARSON, BT_METRIC_SPEARMANR, BT_METRIC_CORR}}

/* Layouts {header, ncols, min_cols, col_a, col_b, col_label}. Where HF reads the label as
 * line[-1] and the files have a fixed width, the fixed index is the same column; only MNLI,
 * whose width differs between train (12) and dev (16), needs LAST. */
static const bt_glue_task TASKS[] = {
    /* CoLA train/dev: no header, `source  label  original-label  sentence`; test: `id  sentence`
     * with a header (HF drops lines[0] only in test mode). */
    {"cola", "CoLA", 2, 0, LABELS_01, 0, "train.tsv", "dev.tsv", "test.tsv",
     {0, 4, 0, 3, NONE, 1}, {1, 2, 0, 1, NONE, NONE}, SET1(BT_METRIC_MCC)},
    /* `sentence  label`; test `index  sentence`. */
    {"sst-2", "SST-2", 2, 0, LABELS_01, 0, "train.tsv", "dev.tsv", "test.tsv",
     {1, 2, 0, 0, NONE, 1}, {1, 2, 0, 1, NONE, NONE}, SET1(BT_METRIC_ACC)},
    /* `Quality  #1 ID  #2 ID  #1 String  #2 String`; test starts with `index` instead. */
    {"mrpc", "MRPC", 2, 0, LABELS_01, 1, "train.tsv", "dev.tsv", "test.tsv",
     {1, 5, 0, 3, 4, 0}, {1, 5, 0, 3, 4, NONE}, SET_ACC_F1},
    /* `index genre filename year old_index source1 source2 sentence1 sentence2 score`; test has
     * no score. */
    {"sts-b", "STS-B", 1, 1, NULL, 1, "train.tsv", "dev.tsv", "test.tsv",
     {1, 10, 0, 7, 8, 9}, {1, 9, 0, 7, 8, NONE}, SET_CORR},
    /* `id qid1 qid2 question1 question2 is_duplicate`; test `id question1 question2`. */
    {"qqp", "QQP", 2, 0, LABELS_01, 1, "train.tsv", "dev.tsv", "test.tsv",
     {1, 6, 0, 3, 4, 5}, {1, 3, 0, 1, 2, NONE}, SET_ACC_F1},
    /* `index promptID pairID genre s1_binary_parse s2_binary_parse s1_parse s2_parse sentence1
     * sentence2 label1 [label2..label5] gold_label`; test ends at sentence2. */
    {"mnli", "MNLI", 3, 0, LABELS_MNLI, 1, "train.tsv", "dev_matched.tsv", "test_matched.tsv",
     {1, 0, 11, 8, 9, LAST}, {1, 0, 10, 8, 9, NONE}, SET1(BT_METRIC_ACC)},
    {"mnli-mm", "MNLI", 3, 0, LABELS_MNLI, 1, "train.tsv", "dev_mismatched.tsv",
     "test_mismatched.tsv", {1, 0, 11, 8, 9, LAST}, {1, 0, 10, 8, 9, NONE}, SET1(BT_METRIC_ACC)},
    /* `index question sentence label`; test `index question sentence`. */
    {"qnli", "QNLI", 2, 0, LABELS_NLI2, 1, "train.tsv", "dev.tsv", "test.tsv",
     {1, 4, 0, 1, 2, 3}, {1, 3, 0, 1, 2, NONE}, SET1(BT_METRIC_ACC)},
    /* `index sentence1 sentence2 label`; test `index sentence1 sentence2`. */
    {"rte", "RTE", 2, 0, LABELS_NLI2, 1, "train.tsv", "dev.tsv", "test.tsv",
     {1, 4, 0, 1, 2, 3}, {1, 3, 0, 1, 2, NONE}, SET1(BT_METRIC_ACC)},
    {"wnli", "WNLI", 2, 0, LABELS_01, 1, "train.tsv", "dev.tsv", "test.tsv",
     {1, 4, 0, 1, 2, 3}, {1, 3, 0, 1, 2, NONE}, SET1(BT_METRIC_ACC)},
};
#define NTASKS ((int)(sizeof TASKS / sizeof TASKS[0]))

const bt_glue_task *bt_glue_tasks(int *count) {
    if (count) *count = NTASKS;
    return TASKS;
}

/* Lower case with '-' and '_' dropped, so "SST-2", "sst_2" and "sst2" meet; 0 if too long. */
static int squash(const char *s, char *out, size_t cap) {
    size_t k = 0;
    for (; *s; s++) {
        if (*s == '-' || *s == '_') continue;
        if (k + 1 >= cap) return 0;
        out[k++] = (char)tolower((unsigned char)*s);
    }
    out[k] = '\0';
    return 1;
}

const bt_glue_task *bt_glue_task_find(const char *name, bt_error *err) {
    char want[32], have[32];
    if (name && squash(name, want, sizeof want)) {
        for (int i = 0; i < NTASKS; i++) {
            squash(TASKS[i].name, have, sizeof have);
            if (strcmp(want, have) == 0) return &TASKS[i];
        }
        /* HF datasets' configuration names. */
        if (strcmp(want, "mnlimatched") == 0) return &TASKS[5];
        if (strcmp(want, "mnlimismatched") == 0) return &TASKS[6];
    }
    char list[256];
    size_t k = 0;
    list[0] = '\0';
    for (int i = 0; i < NTASKS; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", TASKS[i].name);
    bt_error_set(err, BT_EINPUT, "unknown GLUE task '%.64s' (known: %s)", name ? name : "(null)",
                 list);
    return NULL;
}

int bt_glue_split_file(const bt_glue_task *task, const char *split, const char **file,
                       int *labelled, bt_error *err) {
    const int is_mnli = strcmp(task->dir_name, "MNLI") == 0;
    struct {
        const char *split, *file;
        int labelled;
    } map[] = {
        {"train", task->train_file, 1},
        {"dev", task->dev_file, 1},
        {"test", task->test_file, 0},
        {"dev_matched", "dev_matched.tsv", 1},
        {"dev_mismatched", "dev_mismatched.tsv", 1},
        {"test_matched", "test_matched.tsv", 0},
        {"test_mismatched", "test_mismatched.tsv", 0},
    };
    const int nmap = is_mnli ? 7 : 3;
    for (int i = 0; split && i < nmap; i++) {
        if (strcmp(split, map[i].split) == 0) {
            *file = map[i].file;
            *labelled = map[i].labelled;
            return BT_OK;
        }
    }
    return bt_error_set(err, BT_EINPUT, "unknown split '%.64s' for task %s (known: %s)",
                        split ? split : "(null)", task->name,
                        is_mnli ? "train, dev, test, dev_matched, dev_mismatched, test_matched, "
                                  "test_mismatched"
                                : "train, dev, test");
}
