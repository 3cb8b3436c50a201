/* --task ud for the commands over a data set (docs/syntax.md "Other commands on a treebank"): a
 * CoNLL-U treebank read as sentences of words (bt_conllu), each sentence one example, and each
 * example's words kept so that run.h5 can join pieces to words (/words, docs/run_h5.md). A
 * treebank has no labels: a model without a language-model head has no loss and no score on it. */
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/dist.h"
#include "run_internal.h"

/* A language model's next-token loss needs two tokens (the engine would count a one-token
 * example as loss 0): one-token sentences are dropped from the examples and their words alike,
 * as --text drops one-token windows, and counted. */
static void drop_short(bt_run *x) {
    bt_dataset *d = &x->data;
    bt_conllu_pieces *pc = &x->ud_pieces;
    int e = 0;
    int64_t w = 0;
    d->n_tokens = 0;
    d->max_len = 0;
    for (int i = 0; i < d->n; i++) {
        const int64_t w0 = pc->word_off[i], nw = pc->word_off[i + 1] - w0;
        if (d->len[i] < 2) {
            x->skipped_short++;
            continue;
        }
        d->len[e] = d->len[i], d->off[e] = d->off[i], d->line[e] = d->line[i];
        pc->sent[e] = pc->sent[i];
        /* w <= w0: moving down in place is safe */
        memmove(pc->first + w, pc->first + w0, sizeof(int) * (size_t)nw);
        memmove(pc->count + w, pc->count + w0, sizeof(int) * (size_t)nw);
        memmove(pc->upos + w, pc->upos + w0, sizeof(int) * (size_t)nw);
        memmove(pc->head + w, pc->head + w0, sizeof(int) * (size_t)nw);
        memmove(pc->deprel + w, pc->deprel + w0, sizeof(int) * (size_t)nw);
        memmove(pc->rel + w, pc->rel + w0, sizeof(int) * (size_t)nw);
        pc->word_off[e] = w;
        w += nw;
        d->n_tokens += d->len[e];
        if (d->len[e] > d->max_len) d->max_len = d->len[e];
        e++;
    }
    pc->word_off[e] = w;
    d->n = pc->n = e;
}

int bt_run_setup_ud(const bt_run_options *o, bt_run *x, bt_error *err) {
    const bt_config *c = &x->model.cfg;
    const int lm = c->head == BT_HEAD_LM;
    /* importance differentiates a loss, mask and ablate watch a score: on unlabelled sentences
     * only a language model's next-token loss (and its 1/loss score) exists */
    if (!lm && (o->command & (BT_CMD_IMPORTANCE | BT_CMD_MASK | BT_CMD_ABLATE)))
        return bt_error_set(err, BT_EINPUT, "`task` ud: %s needs %s, but %s is a treebank without labels and %s has %s; "
                            "only a language model has one there (next-token loss); eval and syntax take any model",
                            o->name, o->command == BT_CMD_IMPORTANCE ? "a loss (labels or a language-model head)" : "a score",
                            o->data, o->model, c->head == BT_HEAD_NONE ? "no head" : "a classification head");
    x->is_ud = 1;
    x->meta_task = "ud";
    x->meta_split = o->data;
    x->no_labels = 1;
    int rc = bt_tok_load(o->tokenizer ? o->tokenizer : o->model, &x->tok, err);
    if (!rc) rc = bt_conllu_read(o->data, o->subset, &x->ud, err);
    if (!rc) rc = bt_conllu_encode(&x->ud, x->tok, o->max_seq_length, &x->data, &x->ud_pieces, err);
    if (rc) return rc;
    if (lm && o->command != BT_CMD_SYNTAX) drop_short(x); /* syntax computes no loss */
    if (x->data.n == 0)
        return bt_error_set(err, BT_EINPUT, "%s: no sentence of at least two tokens: a language model's loss needs a next "
                            "token", o->data);
    return BT_OK;
}

int bt_run_write_words(bt_run *x, bt_error *err) {
    const bt_conllu_pieces *pc = &x->ud_pieces;
    const bt_conllu *ud = &x->ud;
    bt_store *st = bt_run_store(x);
    const int64_t n = pc->n, nw = pc->word_off[pc->n];
    bt_error local = {0};
    int64_t *sent = bt_malloc((size_t)(n ? n : 1), sizeof(int64_t), "the words of run.h5", &local);
    int32_t *count = bt_malloc((size_t)(n ? n : 1), sizeof(int32_t), "the words of run.h5", &local);
    /* the writes are collective: every rank learns of a failed allocation before them */
    int rc = bt_dist_agree(x->comm, sent && count ? BT_OK : BT_EINTERNAL, &local, err);
    for (int64_t i = 0; !rc && i < n; i++) {
        sent[i] = pc->sent[i];
        count[i] = (int32_t)(pc->word_off[i + 1] - pc->word_off[i]);
    }
#define ARR(path, ty, len, data) if (!rc) rc = bt_store_write_array(st, path, ty, 1, &len, data, err)
    ARR("/words/sentence", BT_NPY_I64, n, sent);
    ARR("/words/count", BT_NPY_I32, n, count);
    ARR("/words/offset", BT_NPY_I64, n, pc->word_off);
    ARR("/words/first", BT_NPY_I32, nw, pc->first);
    ARR("/words/pieces", BT_NPY_I32, nw, pc->count);
    ARR("/words/upos", BT_NPY_I32, nw, pc->upos);
    ARR("/words/head", BT_NPY_I32, nw, pc->head);
    ARR("/words/deprel", BT_NPY_I32, nw, pc->deprel);
    ARR("/words/relation", BT_NPY_I32, nw, pc->rel);
#undef ARR
#define STR(attr, nm) if (!rc) rc = bt_store_write_strings(st, "/words", attr, (nm).n, (const char *const *)(nm).name, err)
    STR("upos_names", ud->upos_names);
    STR("deprel_names", ud->deprel_names);
    STR("relation_names", ud->rel_names);
#undef STR
    free(sent), free(count);
    return rc;
}
