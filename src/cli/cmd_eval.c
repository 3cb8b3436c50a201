/* bertology eval: score a model, optionally head-masked, on a GLUE split (forward only). With
 * --out DIR: DIR/run.h5 (per-example logits and attention entropy, metrics; no importance) and
 * DIR/predictions.tsv (index, predicted label, gold label), as HF's run_glue writes them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "report.h"
#include "run_opts.h"

int bt_cmd_eval(int argc, char **argv) {
    bt_error err = {0};
    int rank, n_ranks;
    MPI_Comm comm = MPI_COMM_WORLD;
    bt_run_options o;
    bt_run x;
    int rc = run_begin(&argc, &argv, BT_CMD_EVAL, "eval", &o, &rank, &n_ranks);
    if (rc) return rc < 0 ? 0 : rc;
    bt_sweep_result res = {0};
    rc = run_open(comm, &o, &x);
    if (rc) goto done;
    const bt_config *c = &x.model.cfg;
    rc = bt_run_eval(&x, &res, &err);
    run_notice(&x);
    if (rc) {
        run_fail(rank, o.name, &err);
        goto done;
    }
    if (rank == 0) {
        if (x.head_mask) {
            int on = 0;
            for (int i = 0; i < c->n_layers * c->n_heads; i++) on += x.head_mask[i] != 0.0f;
            printf("head mask %s: %d of %d heads on\n", o.head_mask_path, on, c->n_layers * c->n_heads);
        }
        if (res.n_metrics == 0 && x.is_ud)
            printf("no metrics: %s is a treebank without labels, and %s has no language-model head: forward, entropy "
                   "and per-example rows only\n", o.data, o.model);
        else if (res.n_metrics == 0)
            printf("no metrics: the split has no labels\n");
        report_summary(stdout, "eval", &res, n_ranks);
        if (o.verbose) fprintf(stderr, "eval: peak RSS %.0f MB (largest over ranks)\n", res.peak_rss / 1e6);
        fflush(stdout);
    }
done:
    bt_sweep_result_free(&res);
    bt_run_close(&x);
    run_end();
    return rc;
}
