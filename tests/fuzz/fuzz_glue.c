/* GLUE TSV files, every task's column layout: the first input byte picks the task (low 4
 * bits), labelled (train/dev) or test layout, skip_bad_lines and max_examples; the rest is the
 * file. Examples that load are tokenized into a dataset with bert-base-uncased's WordPiece, as
 * the sweep does, and must say what the task promises (labels in range, finite targets). */
#include <math.h>
#include <stdlib.h>

#include "bertology/dataset.h"
#include "bertology/glue.h"
#include "fuzz_util.h"

static char dir[300];
static bt_tok *tok;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        fz_subdir("glue", dir, sizeof dir);
        char tdir[300];
        fz_copy_fixture("tests/data/vocab/bert-base-uncased/vocab.txt", fz_subdir("wp", tdir, sizeof tdir), "vocab.txt");
        bt_error e;
        if (bt_tok_load(tdir, &tok, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            abort();
        }
    }
    if (size < 1) return 0;
    int ntasks;
    const bt_glue_task *tasks = bt_glue_tasks(&ntasks);
    const bt_glue_task *task = &tasks[(data[0] & 15) % ntasks];
    const int labelled = !(data[0] & 16);
    const bt_glue_read_opts opts = {.skip_bad_lines = (data[0] & 32) != 0, .max_examples = data[0] & 64 ? 3 : 0};
    fz_write(dir, "x.tsv", data + 1, size - 1);
    char path[400];
    snprintf(path, sizeof path, "%s/x.tsv", dir);
    bt_glue_examples ex;
    bt_error err = {0};
    int rc = bt_glue_read_file(task, path, labelled, &opts, &ex, &err);
    fz_check_failure(rc, &err);
    if (rc) return 0;
    if (ex.n < 1 || (opts.max_examples && ex.n > opts.max_examples)) abort();
    for (size_t i = 0; i < ex.n; i++) {
        const bt_glue_example *e = &ex.ex[i];
        if (!e->text_a || (e->text_b != NULL) != (task->is_pair != 0) || e->line < 1 || e->line > ex.lines_read)
            abort();
        if (labelled && !task->is_regression && (e->label < 0 || e->label >= task->num_labels)) abort();
        if (labelled && task->is_regression && !isfinite(e->target)) abort();
    }
    bt_dataset d;
    const int max_len = 4 + (data[0] >> 7) * 60;
    rc = bt_dataset_encode(&ex, tok, max_len, &d, &err);
    fz_check_failure(rc, &err);
    if (!rc) {
        int64_t total = 0;
        for (int i = 0; i < d.n; i++) {
            if (d.len[i] < 1 || d.len[i] > max_len || d.off[i] != total) abort();
            total += d.len[i];
        }
        if (total != d.n_tokens) abort();
        bt_dataset_free(&d);
    }
    bt_glue_examples_free(&ex);
    return 0;
}
