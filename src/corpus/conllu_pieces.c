/* Word-by-word tokenisation of CoNLL-U sentences (bt_conllu_encode in bertology/conllu.h):
 * the pieces of each word, so that attention and hidden states can be joined back to words. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/conllu.h"

typedef struct {
    int *ids;
    size_t cap;
} idbuf;

static int need(void **p, size_t *cap, size_t n, size_t elem) {
    return bt_grow(p, cap, n < 1024 ? 1024 : n, elem, "the pieces", NULL) ? -1 : 0;
}

/* The model's special tokens around a single sequence: what bt_tok_encode adds to "". */
static int specials(bt_tok *tok, int *pre, int *n_pre, int *suf, int *n_suf, bt_error *err) {
    const int ns = bt_tok_num_special_tokens(tok, 0);
    *n_pre = *n_suf = 0;
    if (ns == 0) return 0;
    if (ns != 2)
        return bt_error_set(err, BT_EINPUT, "%s adds %d special tokens to a sentence; word alignment knows 0 or 2",
                            bt_tok_name(tok), ns);
    int ids[2], n = 0;
    int rc = bt_tok_encode(tok, "", NULL, 2, ids, NULL, &n, err);
    if (rc) return rc;
    if (n != 2) return bt_error_set(err, BT_EINTERNAL, "%s: empty text encodes to %d tokens, not 2", bt_tok_name(tok), n);
    pre[0] = ids[0], suf[0] = ids[1];
    *n_pre = *n_suf = 1;
    return 0;
}

int bt_conllu_encode(const bt_conllu *c, bt_tok *tok, int max_len, bt_dataset *d, bt_conllu_pieces *pc,
                     bt_error *err) {
    memset(d, 0, sizeof *d);
    memset(pc, 0, sizeof *pc);
    if (max_len < 1) return bt_error_set(err, BT_EINPUT, "max length %d: need at least 1", max_len);
    int pre[1] = {0}, suf[1] = {0};
    int rc = specials(tok, pre, &pc->n_prefix, suf, &pc->n_suffix, err);
    if (rc) return rc;
    const int room = max_len - pc->n_prefix - pc->n_suffix;
    const int bpe = bt_tok_kind_of(tok) == BT_TOK_BPE;
    const size_t ns = (size_t)(c->n_sents ? c->n_sents : 1), nw = (size_t)(c->n_words ? c->n_words : 1);
#define ARRAY(p, n) (p) = bt_malloc(n, sizeof *(p), "the sentences' words", NULL)
    ARRAY(d->len, ns), ARRAY(d->off, ns), ARRAY(d->line, ns), ARRAY(pc->sent, ns), ARRAY(pc->word_off, ns + 1);
    ARRAY(pc->first, nw), ARRAY(pc->count, nw), ARRAY(pc->upos, nw), ARRAY(pc->head, nw), ARRAY(pc->deprel, nw);
    ARRAY(pc->rel, nw);
#undef ARRAY
    size_t ids_cap = 0, word_cap = 0;
    char *word = NULL; /* " " + FORM for BPE */
    if (!d->len || !d->off || !d->line || !pc->sent || !pc->word_off || !pc->first || !pc->count || !pc->upos ||
        !pc->head || !pc->deprel || !pc->rel || need((void **)&d->ids, &ids_cap, (size_t)max_len, sizeof(int))) {
        rc = bt_error_set(err, BT_EINTERNAL, "%s: out of memory", c->path);
        goto out;
    }
    pc->word_off[0] = 0;
    int64_t kept_words = 0;
    for (int s = 0; s < c->n_sents && !rc; s++) {
        const int64_t w0 = c->sent_word[s], n = c->sent_word[s + 1] - w0;
        const int64_t at = d->n_tokens;
        if (need((void **)&d->ids, &ids_cap, (size_t)(at + max_len + 1), sizeof(int))) {
            rc = bt_error_set(err, BT_EINTERNAL, "%s: out of memory", c->path);
            break;
        }
        int *ids = d->ids + at, T = 0, fits = 1, empty = 0;
        for (int k = 0; k < pc->n_prefix; k++) ids[T++] = pre[k];
        for (int64_t i = 0; i < n && fits; i++) {
            const char *form = c->form[w0 + i];
            size_t len = strlen(form);
            if (bpe && i > 0) {
                if (need((void **)&word, &word_cap, len + 2, 1)) {
                    rc = bt_error_set(err, BT_EINTERNAL, "%s: out of memory", c->path);
                    break;
                }
                word[0] = ' ';
                memcpy(word + 1, form, len + 1);
                form = word;
                len++;
            }
            /* room + 1 ids at most: one more than fits tells that the sentence is too long */
            const int used = T - pc->n_prefix, cap = room - used + 1;
            int got = 0;
            rc = bt_tok_tokenize(tok, form, len, ids + T, cap, &got, err);
            if (rc) {
                bt_error_prefix(err, "%s:%lld: word %lld", c->path, (long long)c->line[w0 + i], (long long)i + 1);
                break;
            }
            if (got == 0) empty = 1;
            if (got > room - used) fits = 0;
            pc->first[kept_words + i] = T;
            pc->count[kept_words + i] = got;
            T += got;
        }
        if (rc) break;
        if (!fits || empty) {
            if (!fits) pc->skipped_long++;
            else pc->skipped_empty++;
            continue;
        }
        for (int k = 0; k < pc->n_suffix; k++) ids[T++] = suf[k];
        for (int64_t i = 0; i < n; i++) {
            pc->upos[kept_words + i] = c->upos[w0 + i];
            pc->head[kept_words + i] = c->head[w0 + i];
            pc->deprel[kept_words + i] = c->deprel[w0 + i];
            pc->rel[kept_words + i] = c->rel[w0 + i];
        }
        kept_words += n;
        const int e = d->n++;
        d->len[e] = T;
        d->off[e] = at;
        d->line[e] = c->sent_line[s];
        d->n_tokens += T;
        if (T > d->max_len) d->max_len = T;
        pc->sent[e] = s;
        pc->word_off[e + 1] = kept_words;
    }
    pc->n = d->n;
    if (!rc) {
        d->types = bt_calloc((size_t)d->n_tokens, sizeof *d->types, "token types", err);
        if (!d->types) rc = BT_EINTERNAL;
    }
    if (!rc && d->n == 0)
        rc = bt_error_set(err, BT_EINPUT, "%s: no sentence fits in %d tokens (%lld longer, %lld with a word of no pieces)",
                          c->path, max_len, (long long)pc->skipped_long, (long long)pc->skipped_empty);
out:
    free(word);
    if (rc) {
        bt_dataset_free(d);
        bt_conllu_pieces_free(pc);
    }
    return rc;
}

void bt_conllu_pieces_free(bt_conllu_pieces *p) {
    free(p->sent), free(p->word_off), free(p->first), free(p->count), free(p->upos), free(p->head);
    free(p->deprel), free(p->rel);
    memset(p, 0, sizeof *p);
}
