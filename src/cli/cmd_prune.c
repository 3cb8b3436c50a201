/* bertology prune: removes the heads a head mask switches off from the weights and writes a
 * Hugging Face model directory; with --task/--data it then scores the masked original and the
 * pruned model as read back from the new directory, timing both forward-only passes over the
 * same batch plan (the run itself: bt_run_prune). */
#include <stdio.h>

#include "bertology/run.h"
#include "commands.h"
#include "report.h"
#include "run_opts.h"

static void print_result(const bt_run *x, const bt_run_prune_result *r) {
    const bt_run_options *o = x->o;
    if (r->scoring.n_examples > 0)
        printf("prune: heads scored by attention attribution (%d steps) over %lld examples in %.2f s\n", o->steps,
               (long long)r->scoring.n_examples, r->scoring.seconds);
    printf("prune: wrote %s\n", o->out);
    printf("prune: attention heads %d -> %d of %d\n", r->heads_before, r->heads_after, r->heads_all);
    printf("prune: parameters %zu -> %zu (%.2f%% fewer)\n", r->params_before, r->params_after,
           r->params_before ? 100.0 * (double)(r->params_before - r->params_after) / (double)r->params_before : 0.0);
    if (!r->scored) return;
    printf("masked model:\n");
    report_summary(stdout, "  masked", &r->masked, 1);
    printf("pruned model:\n");
    report_summary(stdout, "  pruned", &r->pruned, 1);
    printf("prune: forward-only speed-up %.3fx (masked %.3f s / pruned %.3f s, same batch plan)\n",
           r->pruned.seconds > 0 ? r->masked.seconds / r->pruned.seconds : 0.0, r->masked.seconds, r->pruned.seconds);
    const int head = x->model.cfg.head;
    if (head == BT_HEAD_CLASSIFY || head == BT_HEAD_REGRESS)
        printf("prune: max |logit masked - logit pruned| = %.3g over %d examples\n", r->max_logit_diff, x->data.n);
    else /* the sweep keeps no logits of an encoder or a language model: nothing to compare */
        printf("prune: %s has no classification head: no logits to compare%s\n", o->model,
               head == BT_HEAD_LM ? " (the language-model metrics above are)" : "");
    if (x->is_ud && r->masked.n_metrics == 0) printf("prune: no metrics: %s is a treebank without labels\n", o->data);
}

int bt_cmd_prune(int argc, char **argv) {
    bt_error err = {0};
    int rank, n_ranks;
    bt_run_options o;
    bt_run x = {0};
    int rc = run_begin(&argc, &argv, BT_CMD_PRUNE, "prune", &o, &rank, &n_ranks);
    if (rc) return rc < 0 ? 0 : rc;
    bt_run_prune_result res = {0};
    rc = run_open(MPI_COMM_WORLD, &o, &x);
    if (rc) goto done;
    rc = bt_run_prune(&x, &res, &err);
    if (rc) {
        run_fail(rank, o.name, &err);
        goto done;
    }
    if (rank == 0) {
        print_result(&x, &res);
        fflush(stdout);
    }
done:
    bt_run_prune_result_free(&res);
    bt_run_close(&x);
    run_end();
    return rc;
}
