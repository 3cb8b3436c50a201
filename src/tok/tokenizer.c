/* The generic tokenizer: the kind that claims the model directory (tok_ops.h), and what every
 * kind shares: truncation of a text pair and the scratch buffers around the kind's own model
 * inputs. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bertology/common.h"
#include "bertology/tokenizer.h"
#include "tok_ops.h"

struct bt_tok {
    const bt_tok_ops *ops;
    void *state; /* the kind's own (ops->state_size bytes) */
    int *scratch; /* ids of text_a then text_b before truncation, 2 * scratch_cap */
    int scratch_cap;
};

/* The kinds in the order they claim a directory: vocab.txt first (a BERT directory may also
 * carry a tokenizer.json), openai-gpt's vocab.json + merges.txt before GPT-2's, tokenizer.json
 * only when no classic files are there. */
enum { KIND_WORDPIECE, KIND_OPENAI_BPE, KIND_BYTE_BPE, KIND_JSON, N_KINDS };
static const bt_tok_ops *const KINDS[] = {
    [KIND_WORDPIECE] = &bt_tok_wordpiece_ops,
    [KIND_OPENAI_BPE] = &bt_tok_openai_bpe_ops,
    [KIND_BYTE_BPE] = &bt_tok_byte_bpe_ops,
    [KIND_JSON] = &bt_tok_json_ops,
};
_Static_assert(sizeof KINDS / sizeof KINDS[0] == N_KINDS, "one bt_tok_ops per tokenizer kind");

int bt_tok_has_file(const char *dir, const char *name) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int bt_tok_build_plain(const int *a, int na, const int *b, int nb, int *ids, int *types) {
    memcpy(ids, a, (size_t)na * sizeof *ids);
    int k = na;
    if (b) {
        memcpy(ids + k, b, (size_t)nb * sizeof *ids);
        k += nb;
    }
    if (types) memset(types, 0, (size_t)k * sizeof *types);
    return k;
}

int bt_tok_load(const char *model_dir, bt_tok **out, bt_error *err) {
    *out = NULL;
    struct stat st;
    if (stat(model_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return bt_error_set(err, BT_EINPUT, "%s: not a directory", model_dir);
    const bt_tok_ops *ops = NULL;
    for (int k = 0; k < N_KINDS && !ops; k++)
        if (KINDS[k]->claims(model_dir)) ops = KINDS[k];
    if (!ops)
        return bt_error_set(err, BT_EINPUT, "%s: no tokenizer files (vocab.txt, vocab.json "
                            "+ merges.txt, or tokenizer.json)", model_dir);
    bt_tok *tok = bt_calloc(1, sizeof *tok, "a tokenizer", err);
    void *state = tok ? bt_calloc(1, ops->state_size, "a tokenizer", err) : NULL;
    if (!state) {
        free(tok);
        return BT_EINTERNAL;
    }
    const int rc = ops->load(state, model_dir, err);
    if (rc) {
        free(state);
        free(tok);
        return rc;
    }
    tok->ops = ops;
    tok->state = state;
    *out = tok;
    return BT_OK;
}

void bt_tok_free(bt_tok *tok) {
    if (!tok) return;
    tok->ops->free(tok->state);
    free(tok->state);
    free(tok->scratch);
    free(tok);
}

int bt_tok_kind_of(const bt_tok *tok) { return tok->ops->kind(tok->state); }

int bt_tok_vocab_size(const bt_tok *tok) { return tok->ops->vocab_size(tok->state); }

int bt_tok_model_max_length(const bt_tok *tok) {
    const long m = tok->ops->model_max_length(tok->state);
    return m > INT_MAX ? INT_MAX : (int)m;
}

int bt_tok_special_id(const bt_tok *tok, int role) {
    if (role < 0 || role >= BT_TOK_N_SPECIAL) return -1;
    return tok->ops->special_id(tok->state, role);
}

int bt_tok_num_special_tokens(const bt_tok *tok, int pair) { return tok->ops->num_special(tok->state, pair); }

const char *bt_tok_name(const bt_tok *tok) { return tok->ops->name(tok->state); }

const char *bt_tok_id_to_token(const bt_tok *tok, int id, size_t *len) {
    return tok->ops->id_to_token(tok->state, id, len);
}

int bt_tok_token_to_id(const bt_tok *tok, const char *token, size_t len) {
    return tok->ops->token_to_id(tok->state, token, len);
}

int bt_tok_tokenize(bt_tok *tok, const char *text, size_t len, int *ids, int cap, int *n,
                    bt_error *err) {
    return tok->ops->tokenize(tok->state, text, len, ids, cap, n, err);
}

int bt_tok_encode(bt_tok *tok, const char *text_a, const char *text_b, int max_len, int *ids,
                  int *types, int *n, bt_error *err) {
    return bt_tok_encode_n(tok, text_a, strlen(text_a), text_b, text_b ? strlen(text_b) : 0,
                           max_len, ids, types, n, err);
}

int bt_tok_encode_n(bt_tok *tok, const char *text_a, size_t a_len, const char *text_b,
                    size_t b_len, int max_len, int *ids, int *types, int *n, bt_error *err) {
    *n = 0;
    const int pair = text_b != NULL;
    const int n_special = bt_tok_num_special_tokens(tok, pair);
    if (max_len < n_special || max_len < 1)
        return bt_error_set(err, BT_EINPUT, "max length %d leaves no room for the %d special "
                            "tokens", max_len, n_special);
    if (max_len > tok->scratch_cap) {
        int *s = bt_realloc(tok->scratch, 2 * (size_t)max_len, sizeof *s, "a text's token ids", err);
        if (!s) return BT_EINTERNAL;
        tok->scratch = s;
        tok->scratch_cap = max_len;
    }
    /* Tokenizing each text only up to max_len ids gives the same result as tokenizing it all:
     * neither can keep more than max_len - n_special, and longest_first removes tokens from the
     * longer side, so a side cut at max_len is trimmed exactly as the full one would be. */
    int *a = tok->scratch, *b = tok->scratch + max_len;
    int na, nb = 0;
    int rc = bt_tok_tokenize(tok, text_a, a_len, a, max_len, &na, err);
    if (rc) {
        if (pair) bt_error_prefix(err, "first text");
        return rc;
    }
    if (pair && (rc = bt_tok_tokenize(tok, text_b, b_len, b, max_len, &nb, err))) {
        bt_error_prefix(err, "second text");
        return rc;
    }
    /* truncate_sequences(strategy='longest_first'): one token at a time from the end of the
     * longer sequence, from the second one when both are as long */
    const int budget = max_len - n_special;
    while (na + nb > budget) {
        if (na > nb)
            na--;
        else
            nb--;
    }

    *n = tok->ops->build(tok->state, a, na, pair ? b : NULL, nb, ids, types);
    return BT_OK;
}
