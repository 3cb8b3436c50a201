/* Opening a run: the inputs of every command over a data set, loaded on every rank and checked
 * against each other before any pass starts (a bad input fails here, naming its file, and never
 * in the middle of a sweep). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/dist.h"
#include "bertology/npy.h"
#include "run_internal.h"

/* "0,3-5" -> sorted distinct layers within [0, n). */
static int parse_layers(const char *spec, int n, int *out, int *count, bt_error *err) {
    unsigned char seen[BT_MAX_LAYERS + 1] = {0};
    *count = 0;
    if (!spec[0]) {
        for (int i = 0; i < n; i++) out[(*count)++] = i;
        return BT_OK;
    }
    const char *p = spec;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p) return bt_error_set(err, BT_EINPUT, "`layers` %s: expected a list like 0,3-5", spec);
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1) return bt_error_set(err, BT_EINPUT, "`layers` %s: expected a list like 0,3-5", spec);
            p = end;
        }
        if (a < 0 || b >= n || a > b)
            return bt_error_set(err, BT_EINPUT, "`layers` %s: layers must be within 0..%d", spec, n - 1);
        for (long i = a; i <= b; i++) seen[i] = 1;
        if (*p == ',') p++;
        else if (*p) return bt_error_set(err, BT_EINPUT, "`layers` %s: expected a list like 0,3-5", spec);
    }
    for (int i = 0; i < n; i++)
        if (seen[i]) out[(*count)++] = i;
    return BT_OK;
}

/* A tokenizer larger than the model's embedding table would fail in the middle of the pass:
 * refuse it here, naming the example's line. */
static int check_vocab(const bt_run_options *o, const bt_run *x, bt_error *err) {
    const bt_dataset *d = &x->data;
    const int V = x->model.cfg.vocab_size;
    for (int i = 0; i < d->n; i++)
        for (int t = 0; t < d->len[i]; t++)
            if (d->ids[d->off[i] + t] >= V)
                return bt_error_set(err, BT_EINPUT, "%s:%lld: token id %d from the tokenizer of %s is outside the model's "
                                    "vocabulary of %d (vocab_size in %s/config.json)",
                                    o->text ? o->text : x->is_ud || x->is_code ? o->data : x->examples.path,
                                    (long long)d->line[i], d->ids[d->off[i] + t], o->tokenizer ? o->tokenizer : o->model,
                                    V, o->model);
    return BT_OK;
}

/* An [L, H] float array from a .npy file (a head mask, head scores): what names it in errors. */
static int read_head_array(const char *path, const char *what, const bt_config *c, float **out, bt_error *err) {
    bt_npy_info info;
    int rc = bt_npy_read_f32(path, &info, out, err);
    if (rc) return rc;
    if (info.ndim != 2 || info.shape[0] != c->n_layers || info.shape[1] != c->n_heads) {
        char shape[128];
        bt_format_shape(shape, sizeof shape, info.ndim, info.shape, ", ");
        return bt_error_set(err, BT_EINPUT, "%s: %s has shape %s, the model needs [%d, %d]", path, what, shape,
                            c->n_layers, c->n_heads);
    }
    return BT_OK;
}

static int setup_local(const bt_run_options *o, bt_run *x, bt_error *err) {
    int rc = bt_model_load(o->model, &x->model, err);
    if (rc) return rc;
    const bt_config *c = &x->model.cfg;
    if ((o->task || o->text) && o->max_seq_length > c->max_pos - c->pos_offset)
        return bt_error_set(err, BT_EINPUT, "`max_seq_length` %d exceeds the %d positions of %s/config.json",
                            o->max_seq_length, c->max_pos - c->pos_offset, o->model);
    if (o->method == BT_SWEEP_ATTATTR && c->head != BT_HEAD_CLASSIFY && c->head != BT_HEAD_REGRESS)
        return bt_error_set(err, BT_EINPUT, "%s: `method` attattr attributes a class probability or a regression output: "
                            "it needs a model with a classification or regression head (this one has %s)", o->model,
                            c->head == BT_HEAD_LM ? "a language-model head" : "none");
    if (o->head_mask_path) {
        if ((rc = read_head_array(o->head_mask_path, "head mask", c, &x->head_mask, err))) return rc;
        for (int i = 0; i < c->n_layers * c->n_heads; i++)
            if (x->head_mask[i] != 0.0f && x->head_mask[i] != 1.0f)
                return bt_error_set(err, BT_EINPUT, "%s: entry [%d, %d] is %g; a head mask holds 0 or 1",
                                    o->head_mask_path, i / c->n_heads, i % c->n_heads, x->head_mask[i]);
    }
    if (o->scores_path) {
        if ((rc = read_head_array(o->scores_path, "head scores", c, &x->scores, err))) return rc;
        /* a NaN or infinite score would rank a head by accident, not by its merit */
        for (int i = 0; i < c->n_layers * c->n_heads; i++)
            if (!isfinite(x->scores[i]))
                return bt_error_set(err, BT_EINPUT, "%s: entry [%d, %d] is %g; head scores must be finite",
                                    o->scores_path, i / c->n_heads, i % c->n_heads, x->scores[i]);
    }
    rc = parse_layers(o->layers ? o->layers : "", c->n_layers, x->attn_layers, &x->n_attn_layers, err);
    if (rc) return rc;
    /* hidden states: the embeddings output and after each selected layer */
    x->n_hidden_layers = 0;
    if (!(o->layers && o->layers[0])) x->hidden_layers[x->n_hidden_layers++] = 0;
    for (int i = 0; i < x->n_attn_layers; i++) x->hidden_layers[x->n_hidden_layers++] = x->attn_layers[i] + 1;
    if (o->text) {
        if (c->head != BT_HEAD_LM)
            return bt_error_set(err, BT_EINPUT, "%s: `text` scores a language model, but this model has %s", o->model,
                                c->head == BT_HEAD_NONE ? "no head" : "a classification head (use `task`)");
        rc = bt_tok_load(o->tokenizer ? o->tokenizer : o->model, &x->tok, err);
        if (rc) return rc;
        rc = bt_dataset_from_text(o->text, x->tok, o->max_seq_length, &x->data, &x->text_stats, err);
        if (!rc && o->subset > 0 && o->subset < x->data.n) x->data.n = o->subset; /* the first N windows */
        return rc ? rc : check_vocab(o, x, err);
    }
    if (!o->task) return BT_OK;
    if (!strcmp(o->task, "code")) {
        rc = bt_run_setup_code(o, x, err);
        return rc ? rc : check_vocab(o, x, err);
    }
    if (!strcmp(o->task, "ud")) {
        rc = bt_run_setup_ud(o, x, err);
        return rc ? rc : check_vocab(o, x, err);
    }
    x->task = bt_glue_task_find(o->task, err);
    if (!x->task) return BT_EINPUT;
    if (c->head == BT_HEAD_LM)
        return bt_error_set(err, BT_EINPUT, "%s: %s is a language model without a classification head: it cannot "
                            "score the %s task%s (use `text` FILE, or a ForSequenceClassification model)",
                            o->model, x->model.model_type, x->task->name, x->task->is_pair ? " (sentence pairs)" : "");
    if (x->task->is_regression != (c->head == BT_HEAD_REGRESS) && c->head != BT_HEAD_NONE)
        return bt_error_set(err, BT_EINPUT, "%s: a %s model (num_labels %d) cannot score %s, a %s task", o->model,
                            c->head == BT_HEAD_REGRESS ? "regression" : "classification", c->n_labels,
                            x->task->name, x->task->is_regression ? "regression" : "classification");
    if (!x->task->is_regression && c->head == BT_HEAD_CLASSIFY && c->n_labels != x->task->num_labels)
        return bt_error_set(err, BT_EINPUT, "%s: the model has %d labels, task %s has %d", o->model, c->n_labels,
                            x->task->name, x->task->num_labels);
    rc = bt_tok_load(o->tokenizer ? o->tokenizer : o->model, &x->tok, err);
    if (rc) return rc;
    bt_glue_read_opts ro = {.skip_bad_lines = o->skip_bad_lines, .max_examples = (size_t)o->subset};
    rc = bt_glue_read(x->task, o->data, o->split, &ro, &x->examples, err);
    if (rc) return rc;
    rc = bt_dataset_encode(&x->examples, x->tok, o->max_seq_length, &x->data, err);
    return rc ? rc : check_vocab(o, x, err);
}

int bt_run_open(MPI_Comm comm, const bt_run_options *o, bt_run *x, bt_error *err) {
    memset(x, 0, sizeof *x);
    x->o = o;
    x->comm = comm;
    MPI_Comm_rank(comm, &x->rank);
    MPI_Comm_size(comm, &x->n_ranks);
    bt_error local = {0};
    int rc = bt_run_agree_kernels(comm, o, err);
    if (!rc) rc = bt_dist_agree(comm, setup_local(o, x, &local), &local, err);
    if (rc) bt_run_close(x);
    return rc;
}

void bt_run_close(bt_run *x) {
    bt_run_file_free(x);
    bt_dataset_free(&x->data);
    bt_conllu_free(&x->ud);
    bt_conllu_pieces_free(&x->ud_pieces);
    bt_run_code_free(x);
    bt_glue_examples_free(&x->examples);
    bt_tok_free(x->tok);
    bt_model_free(&x->model);
    free(x->head_mask);
    free(x->scores);
    memset(x, 0, sizeof *x);
}

bt_sweep_options bt_run_sweep_options(const bt_run *x) {
    const bt_run_options *o = x->o;
    bt_sweep_options s = bt_sweep_options_default();
    s.granularity = o->granularity;
    s.hf_compat = o->hf_compat;
    s.layer_norm = o->layer_norm;
    s.global_norm = o->global_norm;
    s.token_norm = o->token_norm;
    if (o->batch_size) {
        s.plan.mode = BT_PLAN_BY_SIZE;
        s.plan.batch_size = o->batch_size;
    } else {
        int64_t bt = o->batch_tokens ? o->batch_tokens : BT_PLAN_DEFAULT_BATCH_TOKENS;
        if (bt < x->data.max_len) bt = x->data.max_len; /* a batch must hold the longest example */
        s.plan.batch_tokens = bt;
    }
    /* The attribution costs m * sum_l (L - l) layer passes per example, some 100-1000 forward
     * passes: one example per batch unless told otherwise, so that the batches spread evenly
     * over many ranks and a checkpoint holds seconds of work, not hours */
    if (o->method == BT_SWEEP_ATTATTR && !o->batch_size && !o->batch_tokens) s.plan.max_seqs = 1;
    const bt_config *c = &x->model.cfg;
    s.plan.cost = bt_plan_cost_transformer(c->n_layers, c->d_model, c->d_ff);
    s.head_mask = x->head_mask;
    s.metrics = x->task ? &x->task->metrics : NULL;
    s.method = o->method;
    s.steps = o->steps;
    s.attr_pred = o->attr_pred;
    s.save_attributions = o->save_attributions;
    s.keep_attentions = o->save_attentions || o->save_rollout; /* the rollout is made of every layer's */
    s.keep_hidden = o->save_hidden;
    s.progress = o->quiet ? NULL : stderr;
    s.label = o->name;
    s.checkpoint = bt_run_resume_hooks(x); /* once run.h5 is open */
    return s;
}

