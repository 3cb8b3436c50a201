/* GLUE examples -> packed token ids. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/dataset.h"

void bt_dataset_free(bt_dataset *d) {
    free(d->len), free(d->off), free(d->ids), free(d->types), free(d->labels), free(d->targets), free(d->line);
    memset(d, 0, sizeof *d);
}

int bt_dataset_encode(const bt_glue_examples *ex, bt_tok *tok, int max_len, bt_dataset *d, bt_error *err) {
    memset(d, 0, sizeof *d);
    /* worst case every example fills max_len (shrunk at the end): that many ints must be addressable */
    size_t worst;
    if (ex->n > INT_MAX || __builtin_mul_overflow(ex->n, (size_t)(max_len > 0 ? max_len : 0), &worst) ||
        worst >= SIZE_MAX / sizeof(int) - 1)
        return bt_error_set(err, BT_EINPUT, "%s: %zu examples of up to %d tokens are too many to tokenise at once",
                            ex->path, ex->n, max_len);
    const int n = (int)ex->n;
    const int regression = ex->task && ex->task->is_regression;
    d->n = n;
    d->len = bt_malloc((size_t)n, sizeof(int), "the examples", NULL);
    d->off = bt_malloc((size_t)n, sizeof(int64_t), "the examples", NULL);
    d->line = bt_malloc((size_t)n, sizeof(int64_t), "the examples", NULL);
    d->ids = bt_malloc((size_t)worst + 1, sizeof(int), "the token ids", NULL);
    d->types = bt_malloc((size_t)worst + 1, sizeof(int), "the token types", NULL);
    if (ex->labelled && !regression) d->labels = bt_malloc((size_t)n, sizeof(int), "the labels", NULL);
    if (ex->labelled && regression) d->targets = bt_malloc((size_t)n, sizeof(float), "the targets", NULL);
    if (!d->len || !d->off || !d->line || !d->ids || !d->types ||
        (ex->labelled && !d->labels && !d->targets)) {
        bt_dataset_free(d);
        return bt_error_set(err, BT_EINTERNAL, "out of memory tokenising %d examples", n);
    }
    int64_t pos = 0;
    for (int i = 0; i < n; i++) {
        const bt_glue_example *e = &ex->ex[i];
        int len = 0;
        const int rc = bt_tok_encode(tok, e->text_a, e->text_b, max_len, d->ids + pos, d->types + pos, &len, err);
        if (rc) {
            bt_error_prefix(err, "%s:%lld", ex->path, (long long)e->line);
            bt_dataset_free(d);
            return rc;
        }
        d->len[i] = len;
        d->off[i] = pos;
        d->line[i] = e->line;
        if (d->labels) d->labels[i] = e->label;
        if (d->targets) d->targets[i] = e->target;
        d->max_len = len > d->max_len ? len : d->max_len;
        pos += len;
    }
    d->n_tokens = pos;
    /* shrunk to fit: keeping the larger blocks is fine when it fails */
    int *ids = bt_realloc(d->ids, (size_t)pos + 1, sizeof(int), "the token ids", NULL);
    int *types = bt_realloc(d->types, (size_t)pos + 1, sizeof(int), "the token types", NULL);
    if (ids) d->ids = ids;
    if (types) d->types = types;
    return BT_OK;
}
