/* The sweep's sink of a run: every batch's per-example results and the tensors asked for
 * (--save-attentions, --save-hidden, --save-rollout), copied out of the engine and written into
 * run.h5; attattr's maxima and maps (--method attattr, --save-attributions) come with the batch. */
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "run_internal.h"

bt_store_layout bt_run_layout(const bt_run *x, int has_loss) {
    const bt_run_options *o = x->o;
    const bt_config *c = &x->model.cfg;
    const int seq_head = c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS;
    bt_store_layout l = {.n_layers = c->n_layers, .n_heads = c->n_heads,
                         .n_labels = seq_head && !x->no_labels ? c->n_labels : 0,
                         .regression = c->head == BT_HEAD_REGRESS && !x->no_labels,
                         .has_loss = has_loss, .has_entropy = 1, .d_model = c->d_model,
                         .n_examples = x->data.n, .lengths = x->data.len,
                         .n_attn_layers = o->save_attentions ? x->n_attn_layers : 0, .attn_layers = x->attn_layers,
                         .n_hidden_layers = o->save_hidden ? x->n_hidden_layers : 0, .hidden_layers = x->hidden_layers,
                         /* attattr scores heads in importance only; mask ranks by it but keeps
                          * no per-example rows of its steps */
                         .has_attr_max = o->method == BT_SWEEP_ATTATTR && o->command == BT_CMD_IMPORTANCE,
                         .save_attributions = o->save_attributions, .save_rollout = o->save_rollout,
                         .tensor_dtype = o->dtype_f16 ? BT_STORE_F16 : BT_STORE_F32,
                         /* independent writes by default: a rank never waits for another at
                          * a batch (collective ones cost 35 % more CPU at np=2 in spin-waits on
                          * a shared node, docs/sweep.md) */
                         .io_mode = o->io_mode};
    return l;
}

static int grow_scratch(struct bt_run_file *s, int n, size_t ntok, size_t nattn, size_t nhid, bt_error *err) {
    /* the rollout is one float per token (ntok) */
    size_t cap_l = s->cap_rows, cap_t = s->cap_rows;
    if (bt_grow((void **)&s->labels, &cap_l, (size_t)n, sizeof(int), "a batch's labels", err) ||
        bt_grow((void **)&s->targets, &cap_t, (size_t)n, sizeof(float), "a batch's targets", err) ||
        bt_grow((void **)&s->rows, &s->cap_rows, (size_t)n, sizeof(int64_t), "a batch's rows", err) ||
        bt_grow((void **)&s->tokens, &s->cap_tokens, ntok, sizeof(int), "a batch's tokens", err) ||
        (s->save_attentions && bt_grow((void **)&s->attn, &s->cap_attn, nattn, sizeof(float), "a batch's attentions", err)) ||
        (s->save_hidden && bt_grow((void **)&s->hidden, &s->cap_hidden, nhid, sizeof(float), "a batch's hidden states", err)) ||
        (s->save_rollout &&
         bt_grow((void **)&s->rollout, &s->cap_rollout, ntok, sizeof(float), "a batch's rollouts", err)))
        return BT_EINTERNAL;
    return BT_OK;
}

/* The token whose relevance the rollout traces: the one the model's output reads. BERT-style
 * classifiers (and an encoder alone) read the first; GPT-2's classifier and an LM head the last. */
static int rollout_row(const bt_config *c, int T) {
    return c->cls_last || c->head == BT_HEAD_LM ? T - 1 : 0;
}

/* Copies batch b's rows and tensors into the scratch, in the batch's order. */
static int gather_rows(const bt_run *x, struct bt_run_file *s, const bt_sweep_batch *b, bt_error *err) {
    const int H = x->model.cfg.n_heads, D = x->model.cfg.d_model;
    size_t t = 0, a = 0, h = 0;
    for (int k = 0; k < b->n; k++) {
        const int i = b->examples[k], T = x->data.len[i];
        s->rows[k] = i;
        s->labels[k] = x->data.labels ? x->data.labels[i] : -1;
        s->targets[k] = x->data.targets ? x->data.targets[i] : 0.0f;
        memcpy(s->tokens + t, x->data.ids + x->data.off[i], sizeof(int) * T);
        int rc = s->save_rollout ? bt_engine_rollout(b->engine, k, rollout_row(&x->model.cfg, T), s->rollout + t, err)
                                 : BT_OK;
        t += T;
        for (int j = 0; s->save_attentions && j < x->n_attn_layers && !rc; j++) {
            rc = bt_engine_copy_attention(b->engine, k, x->attn_layers[j], s->attn + a, err);
            a += (size_t)H * T * T;
        }
        for (int j = 0; s->save_hidden && j < x->n_hidden_layers && !rc; j++) {
            rc = bt_engine_copy_hidden(b->engine, k, x->hidden_layers[j], s->hidden + h, err);
            h += (size_t)T * D;
        }
        if (rc) return rc;
    }
    return BT_OK;
}

static int sink_write(const bt_run *x, struct bt_run_file *s, const bt_sweep_batch *b, bt_error *err) {
    const int H = x->model.cfg.n_heads, D = x->model.cfg.d_model;
    bt_store_rows r = {0};
    if (b->n > 0) {
        size_t ntok = 0, nattn = 0, nhid = 0;
        for (int k = 0; k < b->n; k++) {
            const size_t T = (size_t)x->data.len[b->examples[k]];
            ntok += T;
            nattn += (size_t)x->n_attn_layers * H * T * T;
            nhid += (size_t)x->n_hidden_layers * T * D;
        }
        int rc = grow_scratch(s, b->n, ntok, nattn, nhid, err);
        if (!rc) rc = gather_rows(x, s, b, err);
        if (rc) return rc;
        r = (bt_store_rows){.n = b->n, .rows = s->rows, .index = s->rows, .token_ids = s->tokens,
                            .labels = x->data.labels ? s->labels : NULL, .targets = x->data.targets ? s->targets : NULL,
                            .logits = b->logits, .loss = b->loss, .gate_grad = b->gate_grad, .entropy = b->entropy,
                            .attentions = s->save_attentions ? s->attn : NULL,
                            .hidden = s->save_hidden ? s->hidden : NULL,
                            /* attattr's come from the sweep in the batch's order, as the store takes them */
                            .attr_max = b->attr_max, .attributions = b->attributions,
                            .rollout = s->save_rollout ? s->rollout : NULL};
    }
    return bt_store_write_examples(s->store, &r, err);
}

int bt_run_sink(void *ctx, const bt_sweep_batch *b, bt_error *err) {
    bt_run *x = ctx;
    if (!x->file || !x->file->store) return bt_error_set(err, BT_EINTERNAL, "run.h5 is not open");
    const double t0 = MPI_Wtime();
    const int rc = sink_write(x, x->file, b, err);
    x->sink_seconds += MPI_Wtime() - t0;
    return rc;
}
