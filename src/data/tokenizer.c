/* The generic tokenizer: picks the implementation from the model directory and builds model
 * inputs (special tokens, token types, truncation) on top of its plain tokenization. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bertology/tokenizer.h"
#include "bpe.h"
#include "gpt_bpe.h"
#include "tokjson.h"
#include "wordpiece.h"

struct bt_tok {
    int kind;
    bt_wordpiece wp;
    bt_bpe bpe;
    bt_gptbpe gpt;
    int json;  /* read from tokenizer.json: tj cuts the added tokens and builds the inputs */
    bt_tj tj;
    int *scratch; /* ids of text_a then text_b before truncation, 2 * scratch_cap */
    int scratch_cap;
};

static int is_file(const char *dir, const char *name) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* build_inputs_with_special_tokens of GPT2Tokenizer (a + b, nothing added) and of
 * RobertaTokenizer (<s> a </s>, <s> a </s></s> b </s>). Neither model takes token types
 * (model_input_names has no token_type_ids), so they are all 0. Returns the length. */
static int bpe_inputs(const bt_bpe *bpe, const int *a, int na, const int *b, int nb, int *ids,
                      int *types) {
    const int roberta = bpe && bpe->style == BT_BPE_ROBERTA;
    const int cls = roberta ? bpe->special_id[BT_TOK_CLS] : -1, sep = roberta ? bpe->special_id[BT_TOK_SEP] : -1;
    int k = 0;
    if (roberta) ids[k++] = cls;
    memcpy(ids + k, a, (size_t)na * sizeof *ids);
    k += na;
    if (roberta) ids[k++] = sep;
    if (b) {
        if (roberta) ids[k++] = sep;
        memcpy(ids + k, b, (size_t)nb * sizeof *ids);
        k += nb;
        if (roberta) ids[k++] = sep;
    }
    if (types) memset(types, 0, (size_t)k * sizeof *types);
    return k;
}

int bt_tok_load(const char *model_dir, bt_tok **out, bt_error *err) {
    *out = NULL;
    struct stat st;
    if (stat(model_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return bt_error_set(err, BT_EINPUT, "%s: not a directory", model_dir);
    bt_tok *tok = calloc(1, sizeof *tok);
    if (!tok) return bt_error_set(err, BT_EINTERNAL, "out of memory");
    int rc;
    if (is_file(model_dir, "vocab.txt")) {
        tok->kind = BT_TOK_WORDPIECE;
        rc = bt_wp_load(model_dir, &tok->wp, err);
    } else if (is_file(model_dir, "vocab.json") && is_file(model_dir, "merges.txt") &&
               bt_gptbpe_is_gpt(model_dir)) {
        tok->kind = BT_TOK_GPT;
        rc = bt_gptbpe_load(model_dir, &tok->gpt, err);
    } else if (is_file(model_dir, "vocab.json") && is_file(model_dir, "merges.txt")) {
        tok->kind = BT_TOK_BPE;
        rc = bt_bpe_load(model_dir, &tok->bpe, err);
    } else if (is_file(model_dir, "tokenizer.json")) {
        tok->json = 1;
        rc = bt_tj_load(model_dir, &tok->kind, &tok->wp, &tok->bpe, &tok->tj, err);
    } else {
        rc = bt_error_set(err, BT_EINPUT, "%s: no tokenizer files (vocab.txt, vocab.json "
                          "+ merges.txt, or tokenizer.json)", model_dir);
    }
    if (rc) {
        free(tok);
        return rc;
    }
    *out = tok;
    return BT_OK;
}

void bt_tok_free(bt_tok *tok) {
    if (!tok) return;
    bt_wp_free(&tok->wp);
    bt_bpe_free(&tok->bpe);
    bt_gptbpe_free(&tok->gpt);
    bt_tj_free(&tok->tj);
    free(tok->scratch);
    free(tok);
}

int bt_tok_kind_of(const bt_tok *tok) { return tok->kind; }

int bt_tok_vocab_size(const bt_tok *tok) {
    if (tok->kind == BT_TOK_GPT) return tok->gpt.n_ids;
    return tok->kind == BT_TOK_BPE ? tok->bpe.n_ids : tok->wp.vocab.n;
}

int bt_tok_model_max_length(const bt_tok *tok) {
    const long m = tok->kind == BT_TOK_BPE   ? tok->bpe.model_max_length
                   : tok->kind == BT_TOK_GPT ? tok->gpt.model_max_length
                                             : tok->wp.model_max_length;
    return m > INT_MAX ? INT_MAX : (int)m;
}

int bt_tok_special_id(const bt_tok *tok, int role) {
    if (role < 0 || role >= BT_TOK_N_SPECIAL) return -1;
    if (tok->kind == BT_TOK_GPT) return role == BT_TOK_UNK ? tok->gpt.unk : -1;
    return tok->kind == BT_TOK_BPE ? tok->bpe.special_id[role] : tok->wp.special_id[role];
}

int bt_tok_num_special_tokens(const bt_tok *tok, int pair) {
    if (tok->json) return bt_tj_num_special(&tok->tj, pair);
    if (tok->kind == BT_TOK_GPT) return 0;
    if (tok->kind == BT_TOK_BPE) return tok->bpe.style == BT_BPE_ROBERTA ? (pair ? 4 : 2) : 0;
    return pair ? 3 : 2;
}

const char *bt_tok_name(const bt_tok *tok) {
    if (tok->json) return tok->kind == BT_TOK_WORDPIECE ? "WordPiece (tokenizer.json)" : "byte-level BPE (tokenizer.json)";
    if (tok->kind == BT_TOK_WORDPIECE) return "WordPiece (BERT)";
    if (tok->kind == BT_TOK_GPT) return "BPE with </w> word ends (OpenAI GPT)";
    return tok->bpe.style == BT_BPE_ROBERTA ? "byte-level BPE (RoBERTa)"
                                            : "byte-level BPE (GPT-2)";
}

const char *bt_tok_id_to_token(const bt_tok *tok, int id, size_t *len) {
    const char *added = tok->json ? bt_tj_added_token(&tok->tj, id, len) : NULL;
    if (added) return added;
    if (tok->kind == BT_TOK_BPE) return bt_bpe_id_to_token(&tok->bpe, id, len);
    if (tok->kind == BT_TOK_GPT) return bt_gptbpe_id_to_token(&tok->gpt, id, len);
    const bt_wp_table *v = &tok->wp.vocab;
    if (id < 0 || id >= v->n) return NULL;
    if (len) *len = (size_t)v->len[id];
    return v->bytes + v->off[id];
}

int bt_tok_token_to_id(const bt_tok *tok, const char *token, size_t len) {
    const int added = tok->json ? bt_wp_table_find(&tok->tj.added, token, len) : -1;
    if (added >= 0) return tok->tj.added_id[added];
    if (tok->kind == BT_TOK_BPE) return bt_bpe_token_to_id(&tok->bpe, token, len);
    if (tok->kind == BT_TOK_GPT) return bt_gptbpe_token_to_id(&tok->gpt, token, len);
    return bt_wp_table_find(&tok->wp.vocab, token, len);
}

int bt_tok_tokenize(bt_tok *tok, const char *text, size_t len, int *ids, int cap, int *n,
                    bt_error *err) {
    if (tok->json)
        return bt_tj_tokenize(&tok->tj, tok->kind, &tok->wp, &tok->bpe, text, len, ids, cap, n, err);
    if (tok->kind == BT_TOK_BPE) return bt_bpe_tokenize(&tok->bpe, text, len, ids, cap, n, err);
    if (tok->kind == BT_TOK_GPT) return bt_gptbpe_tokenize(&tok->gpt, text, len, ids, cap, n, err);
    return bt_wp_tokenize(&tok->wp, text, len, ids, cap, n, err);
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
        int *s = realloc(tok->scratch, 2 * (size_t)max_len * sizeof *s);
        if (!s) return bt_error_set(err, BT_EINTERNAL, "out of memory");
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

    if (tok->json) {
        *n = bt_tj_build(&tok->tj, a, na, pair ? b : NULL, nb, ids, types);
        /* byte-level BPE models take no token types (transformers' tokenizers return none) */
        if (types && tok->kind == BT_TOK_BPE) memset(types, 0, (size_t)*n * sizeof *types);
        return BT_OK;
    }
    if (tok->kind == BT_TOK_BPE || tok->kind == BT_TOK_GPT) {
        /* a GPT tokenizer's bpe is zeroed: style 0 adds nothing, as GPT-2's */
        *n = bpe_inputs(tok->kind == BT_TOK_BPE ? &tok->bpe : NULL, a, na, pair ? b : NULL, nb, ids, types);
        return BT_OK;
    }
    const int cls = tok->wp.special_id[BT_TOK_CLS], sep = tok->wp.special_id[BT_TOK_SEP];
    int k = 0;
    ids[k++] = cls;
    memcpy(ids + k, a, (size_t)na * sizeof *ids);
    k += na;
    ids[k++] = sep;
    const int first = k;
    if (pair) {
        memcpy(ids + k, b, (size_t)nb * sizeof *ids);
        k += nb;
        ids[k++] = sep;
    }
    if (types)
        for (int i = 0; i < k; i++) types[i] = i < first ? 0 : 1;
    *n = k;
    return BT_OK;
}
