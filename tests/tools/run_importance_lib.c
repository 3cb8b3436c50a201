/* A whole importance run through the library, without the command line (issue 11): the options
 * are set in C, bt_run_open loads and checks the inputs, bt_run_importance writes run.h5 and the
 * .npy files. tests/arch.cmake compares its outputs bitwise with `bertology importance`'s.
 *   run_importance_lib MODEL_DIR GLUE_DIR OUT_DIR [--save-attentions] */
#include <stdio.h>
#include <string.h>

#include "bertology/dist.h"
#include "bertology/run.h"

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: run_importance_lib MODEL_DIR GLUE_DIR OUT_DIR [--save-attentions]\n");
        return 2;
    }
    bt_error err = {0};
    if (bt_dist_init(&argc, &argv, &err)) {
        fprintf(stderr, "run_importance_lib: %s\n", err.msg);
        return 1;
    }
    bt_run_options o;
    bt_run_options_init(&o, BT_CMD_IMPORTANCE, "importance");
    o.model = argv[1];
    o.task = "sst-2";
    o.data = argv[2];
    o.out = argv[3];
    o.threads = 1;
    o.quiet = 1;
    o.save_attentions = argc > 4 && !strcmp(argv[4], "--save-attentions");
    snprintf(o.command_line, sizeof o.command_line, "run_importance_lib");
    int rc = bt_run_options_check(&o, &err);
    bt_run run = {0};
    bt_sweep_result res = {0};
    if (!rc) rc = bt_run_open(MPI_COMM_WORLD, &o, &run, &err);
    if (!rc) rc = bt_run_importance(&run, &res, &err);
    if (rc && run.rank == 0) fprintf(stderr, "run_importance_lib: %s\n", err.msg);
    if (!rc && run.rank == 0) printf("importance of %lld examples, score %.6f\n", (long long)res.n_examples, res.score);
    bt_sweep_result_free(&res);
    bt_run_close(&run);
    bt_dist_finalize();
    return rc;
}
