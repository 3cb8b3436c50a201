/* The pruning experiment of a run, everything but the printing: the heads the head mask switches
 * off removed from the weights and a Hugging Face model directory written (config.json with
 * pruned_heads, model.safetensors with the smaller q/k/v and output tensors, the tokenizer files
 * copied). transformers' from_pretrained builds the full model, prunes it by config.pruned_heads,
 * then loads the state dict, so it expects exactly these reduced tensors (what its own
 * save_pretrained writes). With a data set, both models are then scored by forward-only sweep
 * passes over the same batch plan: the masked original and the pruned model as every rank reads
 * it back from the new directory. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/dist.h"
#include "run_internal.h"

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

/* Rank 0: the pruned model and the tokenizer files into o->out. */
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

/* Both models scored on the run's data, pruned first (warm-up effects, if any, count against
 * it), each pass keeping the logits this rank computes. Collective. */
static int compare(bt_run *x, const bt_model *pruned, bt_run_prune_result *res, bt_error *err) {
    const int n = x->data.n, C = x->model.cfg.n_labels > 0 ? x->model.cfg.n_labels : 1;
    bt_error local = {0};
    float *a = bt_calloc((size_t)n * C, sizeof(float), "the logits", &local);
    float *b = a ? bt_calloc((size_t)n * C, sizeof(float), "the logits", &local) : NULL;
    int rc = bt_dist_agree(x->comm, a && b ? BT_OK : BT_EINTERNAL, &local, err);
    bt_sweep_options so = bt_run_sweep_options(x);
    so.importance = 0;
    so.entropy = 0;
    bt_sweep_logits sp = {.logits = b, .n_classes = C}, sm = {.logits = a, .n_classes = C};
    if (!rc) {
        so.head_mask = NULL;
        so.label = "prune: pruned";
        rc = bt_sweep_pass(x->comm, pruned, &x->data, &so, bt_sweep_keep_logits, &sp, &res->pruned, err);
    }
    if (!rc) {
        so.head_mask = x->head_mask;
        so.label = "prune: masked";
        rc = bt_sweep_pass(x->comm, &x->model, &x->data, &so, bt_sweep_keep_logits, &sm, &res->masked, err);
    }
    if (!rc) {
        double diff = 0.0;
        for (size_t i = 0; i < (size_t)n * C; i++) diff = fmax(diff, fabs((double)a[i] - b[i]));
        MPI_Allreduce(&diff, &res->max_logit_diff, 1, MPI_DOUBLE, MPI_MAX, x->comm);
        res->scored = 1;
    }
    free(a), free(b);
    return rc;
}

/* --scores S --percent P: the floor(L*H*P/100) heads of lowest score go, as a masking step of
 * Michel's schedule chooses them (bt_sweep_mask_select: ties to the lower (layer, head), the
 * --min-heads-per-layer best of every layer kept). Every rank computes the same mask. Local. */
static int mask_from_scores(bt_run *x, bt_error *err) {
    const bt_run_options *o = x->o;
    const int L = x->model.cfg.n_layers, H = x->model.cfg.n_heads, LH = L * H;
    const int n = (int)floor((double)LH * o->percent / 100.0);
    if (n == 0) return bt_error_set(err, BT_EINPUT, "`percent` %g of %d heads is no head to remove", o->percent, LH);
    if (o->min_heads_per_layer > H)
        return bt_error_set(err, BT_EINPUT, "`min_heads_per_layer` %d: a layer has %d heads", o->min_heads_per_layer, H);
    x->head_mask = bt_malloc((size_t)LH, sizeof(float), "the head mask", err);
    if (!x->head_mask) return BT_EINTERNAL;
    for (int i = 0; i < LH; i++) x->head_mask[i] = 1.0f;
    const int got = bt_sweep_mask_select(x->scores, L, H, n, o->min_heads_per_layer, x->head_mask);
    if (got < n)
        return bt_error_set(err, BT_EINPUT, "`percent` %g removes %d of %d heads, but `min_heads_per_layer` %d keeps "
                            "all but %d of them", o->percent, n, LH, o->min_heads_per_layer, got);
    return BT_OK;
}

/* --method attattr --percent P: the heads' attribution over the run's data (the importance
 * pass of `importance --method attattr`, normalised alike) becomes the scores. Collective. */
static int scores_from_attribution(bt_run *x, bt_run_prune_result *res, bt_error *err) {
    const int LH = x->model.cfg.n_layers * x->model.cfg.n_heads;
    bt_sweep_options so = bt_run_sweep_options(x);
    so.importance = 1;
    so.entropy = 0;
    so.checkpoint = NULL;
    so.label = "prune: attattr";
    int rc = bt_sweep_pass(x->comm, &x->model, &x->data, &so, NULL, NULL, &res->scoring, err);
    if (rc) return rc;
    bt_error local = {0};
    x->scores = bt_malloc((size_t)LH, sizeof(float), "the head scores", &local);
    rc = bt_dist_agree(x->comm, x->scores ? BT_OK : BT_EINTERNAL, &local, err);
    if (!rc) memcpy(x->scores, res->scoring.importance, sizeof(float) * LH);
    return rc;
}

int bt_run_prune(bt_run *x, bt_run_prune_result *res, bt_error *err) {
    memset(res, 0, sizeof *res);
    const bt_run_options *o = x->o;
    bt_error local = {0};
    char rm[PATH_MAX], ro[PATH_MAX];
    if (!x->scores && o->method == BT_SWEEP_ATTATTR) {
        int rc = scores_from_attribution(x, res, err);
        if (rc) return rc;
    }
    if (x->scores) {
        int rc = mask_from_scores(x, err);
        if (rc) return rc;
    }
    if (!x->head_mask) return bt_error_set(err, BT_EINPUT, "`head_mask` is required (the heads to remove: 0 entries)");
    if (realpath(o->model, rm) && realpath(o->out, ro) && !strcmp(rm, ro))
        return bt_error_set(err, BT_EINPUT, "`out` %s is the model directory itself; write the pruned model elsewhere",
                            o->out);
    bt_model pruned = {0};
    int lrc = x->rank == 0 ? bt_model_prune(&x->model, x->head_mask, &pruned, &local) : BT_OK;
    if (!lrc && x->rank == 0) lrc = save_model(&pruned, o, &local);
    bt_model_free(&pruned);
    /* every rank reads back what rank 0 wrote: the pruned model is scored as a user will load it */
    int rc = bt_dist_agree(x->comm, lrc, &local, err);
    if (!rc) rc = bt_dist_agree(x->comm, bt_model_load(o->out, &pruned, &local), &local, err);
    if (rc) return rc;
    const bt_config *c = &x->model.cfg;
    res->heads_before = count_heads(c);
    res->heads_after = count_heads(&pruned.cfg);
    res->heads_all = c->n_layers * c->n_heads;
    res->params_before = bt_model_param_count(&x->model);
    res->params_after = bt_model_param_count(&pruned);
    if (o->task) rc = compare(x, &pruned, res, err);
    bt_model_free(&pruned);
    if (rc) bt_run_prune_result_free(res);
    return rc;
}

void bt_run_prune_result_free(bt_run_prune_result *res) {
    bt_sweep_result_free(&res->masked);
    bt_sweep_result_free(&res->pruned);
    bt_sweep_result_free(&res->scoring);
    memset(res, 0, sizeof *res);
}
