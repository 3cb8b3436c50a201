/* sweep_engine_time: the engine alone on the batches `bertology importance` would run, for
 * measuring the sweep's overhead (docs/sweep.md). One process, no MPI communication, no HDF5:
 * load, tokenise, plan as the sweep does, then time only bt_engine_forward (with entropy) +
 * bt_engine_backward over every batch. Prints "engine_seconds S tokens N batches B".
 *
 *   sweep_engine_time MODEL_DIR TASK DATA_DIR [--batch-tokens N] [--threads N] [--subset N]
 *                     [--repeat R]   (best of R passes; default 1)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bertology/dataset.h"
#include "bertology/engine.h"
#include "bertology/glue.h"
#include "bertology/model.h"
#include "bertology/plan.h"
#include "bertology/tokenizer.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: sweep_engine_time MODEL TASK DATA [--batch-tokens N] [--threads N] [--subset N] [--repeat R]\n");
        return 2;
    }
    int batch_tokens = BT_PLAN_DEFAULT_BATCH_TOKENS, threads = 0, subset = 0, repeat = 1;
    for (int i = 4; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch-tokens")) batch_tokens = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--subset")) subset = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeat")) repeat = atoi(argv[i + 1]);
    }
    if (threads > 0) bt_engine_set_threads(threads);
    bt_error err = {0};
    bt_model m = {0};
    bt_tok *tok = NULL;
    bt_glue_examples ex = {0};
    bt_dataset d = {0};
    bt_plan plan = {0};
    bt_engine *e = NULL;
    const bt_glue_task *task = bt_glue_task_find(argv[2], &err);
    bt_glue_read_opts ro = {.max_examples = (size_t)subset};
    int rc = task ? BT_OK : BT_EINPUT;
    if (!rc) rc = bt_model_load(argv[1], &m, &err);
    if (!rc) rc = bt_tok_load(argv[1], &tok, &err);
    if (!rc) rc = bt_glue_read(task, argv[3], "dev", &ro, &ex, &err);
    if (!rc) rc = bt_dataset_encode(&ex, tok, 128, &d, &err);
    bt_plan_options po = bt_plan_options_default();
    po.batch_tokens = batch_tokens < d.max_len ? d.max_len : batch_tokens;
    po.cost = bt_plan_cost_transformer(m.cfg.n_layers, m.cfg.d_model, m.cfg.d_ff);
    if (!rc) rc = bt_plan_build(&plan, d.len, d.n, &po, &err);
    bt_engine_limits lim = {.max_tokens = (int)plan.max_batch_tokens, .max_seqs = plan.max_batch_seqs,
                            .max_len = plan.max_len, .backward = 1};
    if (!rc) rc = bt_engine_create(&m.cfg, &m.params, &lim, &e, &err);
    int *ids = malloc(sizeof(int) * (plan.max_batch_tokens + 1)), *types = malloc(sizeof(int) * (plan.max_batch_tokens + 1));
    int *lens = malloc(sizeof(int) * (plan.max_batch_seqs + 1)), *labels = malloc(sizeof(int) * (plan.max_batch_seqs + 1));
    float *targets = malloc(sizeof(float) * (plan.max_batch_seqs + 1));
    double best = 1e30;
    for (int r = 0; r < repeat && !rc; r++) {
        double engine = 0;
        for (int b = 0; b < plan.n_batches && !rc; b++) {
            const int *exb = bt_plan_batch_examples(&plan, b);
            int pos = 0;
            for (int k = 0; k < plan.batches[b].n_seqs; k++) {
                const int i = exb[k];
                memcpy(ids + pos, d.ids + d.off[i], sizeof(int) * d.len[i]);
                memcpy(types + pos, d.types + d.off[i], sizeof(int) * d.len[i]);
                lens[k] = d.len[i];
                if (d.labels) labels[k] = d.labels[i];
                if (d.targets) targets[k] = d.targets[i];
                pos += d.len[i];
            }
            const bt_batch batch = {.n_seqs = plan.batches[b].n_seqs, .lens = lens, .ids = ids, .types = types,
                                    .labels = d.labels ? labels : NULL, .targets = d.targets ? targets : NULL};
            const double t0 = now();
            rc = bt_engine_forward(e, &batch, NULL, BT_FWD_ENTROPY, &err);
            if (!rc) rc = bt_engine_backward(e, &err);
            engine += now() - t0;
        }
        best = engine < best ? engine : best;
    }
    if (!rc) printf("engine_seconds %.4f tokens %lld batches %d\n", best, (long long)d.n_tokens, plan.n_batches);
    else fprintf(stderr, "sweep_engine_time: %s\n", err.msg);
    free(ids), free(types), free(lens), free(labels), free(targets);
    bt_engine_free(e);
    bt_plan_free(&plan);
    bt_dataset_free(&d);
    bt_glue_examples_free(&ex);
    bt_tok_free(tok);
    bt_model_free(&m);
    return rc;
}
