/* Prints the examples bertology reads from a GLUE split as JSON lines, for glue_check.py to
 * compare with a Python reading of the same file (HF's csv-based _read_tsv).
 *   glue_dump TASK DATA_DIR SPLIT [MAX_EXAMPLES [skip]]
 * Each line: {"line": N, "a": text_a, "b": text_b or null, "label": id, "target": score or null}.
 * On a read error: the message on stderr and the error code as exit status. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/glue.h"

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: glue_dump TASK DATA_DIR SPLIT [MAX_EXAMPLES [skip]]\n");
        return 2;
    }
    bt_error err = {0};
    const bt_glue_task *task = bt_glue_task_find(argv[1], &err);
    if (!task) {
        fprintf(stderr, "%s\n", err.msg);
        return err.code;
    }
    bt_glue_read_opts opts = {.max_examples = argc > 4 ? strtoull(argv[4], NULL, 10) : 0,
                              .skip_bad_lines = argc > 5 && strcmp(argv[5], "skip") == 0};
    bt_glue_examples ex;
    if (bt_glue_read(task, argv[2], argv[3], &opts, &ex, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return err.code;
    }
    for (size_t i = 0; i < ex.n; i++) {
        const bt_glue_example *e = &ex.ex[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "line", (double)e->line);
        cJSON_AddStringToObject(o, "a", e->text_a);
        if (e->text_b) cJSON_AddStringToObject(o, "b", e->text_b);
        else cJSON_AddNullToObject(o, "b");
        cJSON_AddNumberToObject(o, "label", e->label);
        if (isnan(e->target)) cJSON_AddNullToObject(o, "target");
        else cJSON_AddNumberToObject(o, "target", e->target);
        char *s = cJSON_PrintUnformatted(o);
        puts(s);
        cJSON_free(s);
        cJSON_Delete(o);
    }
    if (ex.skipped) fprintf(stderr, "skipped %zu bad rows; first: %s\n", ex.skipped, ex.first_skipped);
    bt_glue_examples_free(&ex);
    return 0;
}
