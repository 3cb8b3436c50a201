/* Reading speed of the GLUE reader: glue_bench TASK DATA_DIR SPLIT [REPEATS]. Prints rows/s and
 * MB/s (file bytes) for the best of REPEATS reads (page cache warm after the first). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "bertology/glue.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: glue_bench TASK DATA_DIR SPLIT [REPEATS]\n");
        return 2;
    }
    int repeats = argc > 4 ? atoi(argv[4]) : 5;
    if (repeats < 1) repeats = 1;
    bt_error err = {0};
    const bt_glue_task *task = bt_glue_task_find(argv[1], &err);
    if (!task) {
        fprintf(stderr, "%s\n", err.msg);
        return err.code;
    }
    double best = 1e30;
    size_t rows = 0, arena = 0;
    struct stat st = {0};
    for (int r = 0; r < repeats; r++) {
        bt_glue_examples ex;
        double t0 = now();
        if (bt_glue_read(task, argv[2], argv[3], NULL, &ex, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return err.code;
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
        rows = ex.n, arena = ex.arena_bytes;
        stat(ex.path, &st);
        bt_glue_examples_free(&ex);
    }
    printf("%s %s: %zu rows, %.2f MB file, %.2f MB kept text, best of %d: %.2f ms, %.3g rows/s, "
           "%.0f MB/s\n",
           task->name, argv[3], rows, (double)st.st_size / 1e6, (double)arena / 1e6, repeats,
           best * 1e3, (double)rows / best, (double)st.st_size / 1e6 / best);
    return 0;
}
