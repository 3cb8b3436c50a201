/* bertology prune: removes the heads a head mask switches off from the weights and writes a
 * Hugging Face model directory (config.json with pruned_heads, model.safetensors with the
 * smaller q/k/v and output tensors, the tokenizer files copied). transformers' from_pretrained
 * builds the full model, prunes it by config.pruned_heads, then loads the state dict, so it
 * expects exactly these reduced tensors (what its own save_pretrained writes).
 *
 * With --task/--data it then scores the masked original and the pruned model as read back from
 * the new directory, timing both forward-only passes over the same batch plan. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/dist.h"
#include "commands.h"
#include "report.h"
#include "run_opts.h"

/* What a tokenizer may need, for WordPiece and byte-level BPE models alike. */
static const char *const TOKENIZER_FILES[] = {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
                                              "tokenizer.json", "vocab.json", "merges.txt", "added_tokens.json"};

static int copy_file(const char *from, const char *to, bt_error *err) {
    FILE *in = fopen(from, "rb");
    if (!in) return errno == ENOENT ? BT_OK : bt_error_set(err, BT_EINPUT, "%s: %s", from, strerror(errno));
    FILE *out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        return bt_error_set(err, BT_EINPUT, "%s: cannot write: %s", to, strerror(errno));
    }
    char buf[1 << 16];
    size_t n;
    int bad = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) bad = 1;
    bad |= ferror(in);
    fclose(in);
    if (fclose(out) != 0) bad = 1;
    return bad ? bt_error_set(err, BT_EINPUT, "copying %s to %s failed", from, to) : BT_OK;
}

static int save_model(const bt_model *pruned, const bt_run_options *o, bt_error *err) {
    int rc = bt_model_save(pruned, o->out, err);
    for (size_t i = 0; !rc && i < sizeof TOKENIZER_FILES / sizeof TOKENIZER_FILES[0]; i++) {
        char from[4096], to[4096];
        snprintf(from, sizeof from, "%s/%s", o->model, TOKENIZER_FILES[i]);
        snprintf(to, sizeof to, "%s/%s", o->out, TOKENIZER_FILES[i]);
        rc = copy_file(from, to, err);
    }
    return rc;
}

static int count_heads(const bt_config *c) {
    int n = 0;
    for (int l = 0; l < c->n_layers; l++) n += c->layer_heads[l];
    return n;
}

/* Scores both models; prints scores, times and the largest logit difference on rank 0. */
static int compare(MPI_Comm comm, const bt_run_options *o, bt_run *x, const bt_model *pruned, int rank, bt_error *err) {
    const int n = x->data.n, C = x->model.cfg.n_labels > 0 ? x->model.cfg.n_labels : 1;
    bt_error local = {0};
    float *a = bt_calloc((size_t)n * C, sizeof(float), "the logits", &local);
    float *b = a ? bt_calloc((size_t)n * C, sizeof(float), "the logits", &local) : NULL;
    int rc = bt_dist_agree(comm, a && b ? BT_OK : BT_EINTERNAL, &local, err);
    bt_sweep_result rm = {0}, rp = {0};
    bt_sweep_options so = bt_run_sweep_options(x);
    so.importance = 0;
    so.entropy = 0;
    bt_sweep_logits sp = {.logits = b, .n_classes = C}, sm = {.logits = a, .n_classes = C};
    /* pruned first: warm-up effects, if any, count against the pruned model */
    if (!rc) {
        so.head_mask = NULL;
        so.label = "prune: pruned";
        rc = bt_sweep_pass(comm, pruned, &x->data, &so, bt_sweep_keep_logits, &sp, &rp, err);
    }
    if (!rc) {
        so.head_mask = x->head_mask;
        so.label = "prune: masked";
        rc = bt_sweep_pass(comm, &x->model, &x->data, &so, bt_sweep_keep_logits, &sm, &rm, err);
    }
    if (!rc) {
        double diff = 0.0, all;
        for (size_t i = 0; i < (size_t)n * C; i++) diff = fmax(diff, fabs((double)a[i] - b[i]));
        MPI_Allreduce(&diff, &all, 1, MPI_DOUBLE, MPI_MAX, comm);
        if (rank == 0) {
            printf("masked model:\n");
            report_summary(stdout, "  masked", &rm, 1);
            printf("pruned model:\n");
            report_summary(stdout, "  pruned", &rp, 1);
            printf("prune: forward-only speed-up %.3fx (masked %.3f s / pruned %.3f s, same batch plan)\n",
                   rp.seconds > 0 ? rm.seconds / rp.seconds : 0.0, rm.seconds, rp.seconds);
            const int head = x->model.cfg.head;
            if (head == BT_HEAD_CLASSIFY || head == BT_HEAD_REGRESS)
                printf("prune: max |logit masked - logit pruned| = %.3g over %d examples\n", all, n);
            else /* the sweep keeps no logits of an encoder or a language model: nothing to compare */
                printf("prune: %s has no classification head: no logits to compare%s\n", o->model,
                       head == BT_HEAD_LM ? " (the language-model metrics above are)" : "");
            if (x->is_ud && rm.n_metrics == 0)
                printf("prune: no metrics: %s is a treebank without labels\n", o->data);
        }
    }
    bt_sweep_result_free(&rm);
    bt_sweep_result_free(&rp);
    free(a), free(b);
    return rc;
}

int bt_cmd_prune(int argc, char **argv) {
    bt_error err = {0};
    int rank, n_ranks;
    MPI_Comm comm = MPI_COMM_WORLD;
    bt_run_options o;
    bt_run x = {0};
    bt_model pruned = {0};
    int rc = run_begin(&argc, &argv, BT_CMD_PRUNE, "prune", &o, &rank, &n_ranks);
    if (rc) return rc < 0 ? 0 : rc;
    char rm[PATH_MAX], ro[PATH_MAX];
    if (!o.head_mask_path)
        rc = bt_error_set(&err, BT_EINPUT, "--head-mask is required (the heads to remove: 0 entries)");
    else if (realpath(o.model, rm) && realpath(o.out, ro) && !strcmp(rm, ro))
        rc = bt_error_set(&err, BT_EINPUT, "--out %s is the model directory itself; write the pruned model elsewhere",
                          o.out);
    if (rc) {
        run_fail(rank, o.name, &err);
        goto done;
    }
    rc = run_open(comm, &o, &x);
    if (rc) goto done;
    bt_error local = {0};
    int lrc = rank == 0 ? bt_model_prune(&x.model, x.head_mask, &pruned, &local) : BT_OK;
    if (!lrc && rank == 0) lrc = save_model(&pruned, &o, &local);
    bt_model_free(&pruned);
    /* every rank reads back what rank 0 wrote: the pruned model is scored as a user will load it */
    rc = bt_dist_agree(comm, lrc, &local, &err);
    if (!rc) rc = bt_dist_agree(comm, bt_model_load(o.out, &pruned, &local), &local, &err);
    if (rc) {
        run_fail(rank, o.name, &err);
        goto done;
    }
    if (rank == 0) {
        const size_t before = bt_model_param_count(&x.model), after = bt_model_param_count(&pruned);
        printf("prune: wrote %s\n", o.out);
        printf("prune: attention heads %d -> %d of %d\n", count_heads(&x.model.cfg), count_heads(&pruned.cfg),
               x.model.cfg.n_layers * x.model.cfg.n_heads);
        printf("prune: parameters %zu -> %zu (%.2f%% fewer)\n", before, after,
               before ? 100.0 * (double)(before - after) / (double)before : 0.0);
        fflush(stdout);
    }
    if (o.task) {
        rc = compare(comm, &o, &x, &pruned, rank, &err);
        if (rc) run_fail(rank, o.name, &err);
        else if (rank == 0) fflush(stdout);
    }
done:
    bt_model_free(&pruned);
    bt_run_close(&x);
    run_end();
    return rc;
}
