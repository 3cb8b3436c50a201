/* Reading a byte-level BPE model directory: vocab.json, merges.txt, and the conventions of the
 * family from tokenizer_config.json / special_tokens_map.json / config.json.
 *
 * The family is picked as transformers' AutoTokenizer does: tokenizer_config.json's
 * tokenizer_class first (GPT2Tokenizer or RobertaTokenizer, with or without Fast), else
 * config.json's model_type (gpt2, roberta); a directory with neither (a bare vocabulary) is
 * read as GPT-2. merges.txt is read as the tokenizers library reads it: a first line starting
 * "#version" is skipped, every other non-empty line is two symbols separated by one space, and
 * both symbols and their concatenation must be in vocab.json. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "bertology/common.h"
#include "added_tokens.h"
#include "textio.h"
#include "tok_ops.h"
#include "vocab_json.h"
#include "bpe.h"

#define MAX_ID BT_VOCAB_MAX_ID

static int valid_utf8(const char *s, size_t len) { return bt_tok_utf8_error(s, len) == len; }

/* dir/name parsed into *root (NULL when the file is absent and optional). */
/* --- conventions of the family --- */

/* Special-token roles: the five of bt_tok_special, then the two only BPE models name. */
enum { SP_BOS = BT_TOK_N_SPECIAL, SP_EOS, SP_N };
static const char *const SP_KEYS[SP_N] = {"unk_token", "cls_token",  "sep_token", "pad_token",
                                          "mask_token", "bos_token", "eos_token"};

typedef struct {
    char *content; /* NULL = the model has none */
    int flags;     /* BT_BPE_LSTRIP | BT_BPE_RSTRIP */
    int flags_given;
} sp_token;

typedef struct {
    char *content;
    int id, flags;
} dec_token;

typedef struct {
    sp_token sp[SP_N];
    dec_token *dec; /* tokenizer_config.json added_tokens_decoder */
    int n_dec;
} bpe_config;

static void config_free(bpe_config *c) {
    for (int r = 0; r < SP_N; r++) free(c->sp[r].content);
    for (int i = 0; i < c->n_dec; i++) free(c->dec[i].content);
    free(c->dec);
    memset(c, 0, sizeof *c);
}

static int set_content(char **dst, const char *s) {
    free(*dst);
    *dst = s ? bt_strdup(s, "a special token", NULL) : NULL;
    return s && !*dst ? -1 : 0;
}

/* "lstrip" / "rstrip" of an AddedToken object. */
static int strip_flags(const cJSON *o, const char *path, const char *what, int *flags,
                       bt_error *err) {
    static const char *const keys[2] = {"lstrip", "rstrip"};
    for (int k = 0; k < 2; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, keys[k]);
        if (!v) continue;
        if (!cJSON_IsBool(v))
            return bt_error_set(err, BT_EINPUT, "%s: field '%s.%s' must be true or false", path,
                                what, keys[k]);
        if (cJSON_IsTrue(v)) *flags |= k ? BT_BPE_RSTRIP : BT_BPE_LSTRIP;
    }
    return BT_OK;
}

/* A special token is a string, an AddedToken object {"content": ..., "lstrip": ...}, or null. */
static int get_special(const cJSON *root, int role, bpe_config *c, const char *path,
                       bt_error *err) {
    const char *key = SP_KEYS[role];
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) return BT_OK;
    sp_token *t = &c->sp[role];
    if (cJSON_IsNull(v)) {
        set_content(&t->content, NULL);
        return BT_OK;
    }
    int flags = 0, given = 0;
    if (cJSON_IsObject(v)) {
        int rc = strip_flags(v, path, key, &flags, err);
        if (rc) return rc;
        given = 1;
        v = cJSON_GetObjectItemCaseSensitive(v, "content");
    }
    if (!cJSON_IsString(v) || !v->valuestring[0] ||
        !valid_utf8(v->valuestring, strlen(v->valuestring)))
        return bt_error_set(err, BT_EINPUT, "%s: field '%s' must be a non-empty UTF-8 string "
                            "or an object with a 'content' string", path, key);
    if (set_content(&t->content, v->valuestring))
        return bt_error_set(err, BT_EINTERNAL, "out of memory");
    t->flags = flags;
    t->flags_given = given;
    return BT_OK;
}

static int get_added_decoder(const cJSON *root, bpe_config *c, const char *path,
                             bt_error *err) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "added_tokens_decoder");
    if (!d || cJSON_IsNull(d)) return BT_OK;
    if (!cJSON_IsObject(d))
        return bt_error_set(err, BT_EINPUT, "%s: field 'added_tokens_decoder' must be an "
                            "object", path);
    const int n = cJSON_GetArraySize(d);
    c->dec = bt_calloc((size_t)n + 1, sizeof *c->dec, "added_tokens_decoder", err);
    if (!c->dec) return BT_EINTERNAL;
    const cJSON *e;
    cJSON_ArrayForEach(e, d) {
        char *end;
        errno = 0;
        const long id = strtol(e->string, &end, 10);
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (end == e->string || *end || errno || id < 0 || id > MAX_ID)
            return bt_error_set(err, BT_EINPUT, "%s: added_tokens_decoder key '%.40s' is not "
                                "an id in [0, %d]", path, e->string, MAX_ID);
        if (!cJSON_IsObject(e) || !cJSON_IsString(content) || !content->valuestring[0] ||
            !valid_utf8(content->valuestring, strlen(content->valuestring)))
            return bt_error_set(err, BT_EINPUT, "%s: added_tokens_decoder['%ld'] must be an "
                                "object with a non-empty UTF-8 'content'", path, id);
        dec_token *t = &c->dec[c->n_dec];
        int rc = strip_flags(e, path, "added_tokens_decoder", &t->flags, err);
        if (rc) return rc;
        t->id = (int)id;
        if (!(t->content = bt_strdup(content->valuestring, "an added token", err))) return BT_EINTERNAL;
        c->n_dec++;
    }
    return BT_OK;
}

static int style_of_class(const char *cls) {
    if (!strcmp(cls, "GPT2Tokenizer") || !strcmp(cls, "GPT2TokenizerFast")) return BT_BPE_GPT2;
    if (!strcmp(cls, "RobertaTokenizer") || !strcmp(cls, "RobertaTokenizerFast"))
        return BT_BPE_ROBERTA;
    return 0;
}

/* The family from config.json's model_type, when tokenizer_class did not say. */
static int style_of_model(const char *dir, int *style, bt_error *err) {
    char path[4096];
    cJSON *root;
    int rc = bt_text_read_json(dir, "config.json", 1, &root, path, sizeof path, err);
    if (rc) return rc;
    *style = BT_BPE_GPT2; /* a bare vocabulary directory: plain GPT-2 BPE */
    const cJSON *mt = root ? cJSON_GetObjectItemCaseSensitive(root, "model_type") : NULL;
    if (cJSON_IsString(mt)) {
        const char *t = mt->valuestring;
        if (!strcmp(t, "gpt2"))
            *style = BT_BPE_GPT2;
        else if (!strcmp(t, "roberta"))
            *style = BT_BPE_ROBERTA;
        else if (!strcmp(t, "openai-gpt"))
            rc = bt_error_set(err, BT_EINPUT, "%s: model_type 'openai-gpt' tokenizes with "
                              "OpenAI GPT's lowercasing BPE ('</w>' word ends), not byte-level "
                              "BPE; it is not supported", path);
        else
            rc = bt_error_set(err, BT_EINPUT, "%s: model_type '%.60s' has no known byte-level "
                              "BPE conventions (known: gpt2, roberta); name them with "
                              "tokenizer_class GPT2Tokenizer or RobertaTokenizer in "
                              "tokenizer_config.json", path, t);
    } else if (mt && !cJSON_IsNull(mt)) {
        rc = bt_error_set(err, BT_EINPUT, "%s: field 'model_type' must be a string", path);
    }
    cJSON_Delete(root);
    return rc;
}

static int apply_tokenizer_config(const cJSON *root, bt_bpe *b, bpe_config *c, int *style,
                                  const char *path, bt_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "tokenizer_class");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v) || !(*style = style_of_class(v->valuestring)))
            return bt_error_set(err, BT_EINPUT, "%s: tokenizer_class '%.60s' is not a "
                                "byte-level BPE tokenizer bertology knows (GPT2Tokenizer, "
                                "RobertaTokenizer)", path,
                                cJSON_IsString(v) ? v->valuestring : "?");
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "add_prefix_space");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsBool(v))
            return bt_error_set(err, BT_EINPUT, "%s: field 'add_prefix_space' must be true or "
                                "false", path);
        b->add_prefix_space = cJSON_IsTrue(v);
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "model_max_length");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 1)
            return bt_error_set(err, BT_EINPUT, "%s: field 'model_max_length' must be a "
                                "positive number", path);
        /* transformers writes 1e30 for "no limit" */
        b->model_max_length =
            v->valuedouble >= (double)INT_MAX ? INT_MAX : (long)v->valuedouble;
    }
    int rc = get_added_decoder(root, c, path, err);
    for (int r = 0; r < SP_N && !rc; r++) rc = get_special(root, r, c, path, err);
    return rc;
}

/* Defaults of GPT2Tokenizer / RobertaTokenizer.__init__. */
static int set_defaults(bpe_config *c, int style) {
    static const char *const gpt2[SP_N] = {"<|endoftext|>", NULL, NULL, NULL, NULL,
                                           "<|endoftext|>", "<|endoftext|>"};
    static const char *const roberta[SP_N] = {"<unk>", "<s>", "</s>", "<pad>", "<mask>",
                                              "<s>",   "</s>"};
    const char *const *d = style == BT_BPE_ROBERTA ? roberta : gpt2;
    for (int r = 0; r < SP_N; r++)
        if (set_content(&c->sp[r].content, d[r])) return -1;
    return 0;
}

/* --- vocab.json and merges.txt --- */

static int read_vocab(const char *dir, bt_bpe *b, bt_error *err) {
    return bt_vocab_json_read(dir, &b->vocab, &b->entry_id, &b->id_entry, &b->n_ids, err);
}

static int vocab_id(const bt_bpe *b, const char *s, size_t len) {
    const int k = bt_wp_table_find(&b->vocab, s, len);
    return k >= 0 ? b->entry_id[k] : -1;
}

static int read_merges(const char *dir, bt_bpe *b, bt_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    char *buf;
    size_t len;
    int rc = bt_read_file(path, BT_TEXT_FILE_MAX, &buf, &len, err);
    if (rc) return rc;
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    size_t slots = 16;
    while (slots < 2 * lines) slots *= 2;
    b->merge = bt_calloc(slots, sizeof *b->merge, "the merge table", NULL);
    char *cat = bt_malloc(len + 1, 1, "a merge", NULL); /* left + right of the current line */
    if (!b->merge || !cat) {
        free(buf);
        free(cat);
        return bt_error_set(err, BT_EINTERNAL, "out of memory");
    }
    b->n_merge_slots = slots;
    long line = 0;
    for (size_t i = 0; i < len && !rc;) {
        char *s = buf + i, *nl = memchr(s, '\n', len - i);
        size_t n = nl ? (size_t)(nl - s) : len - i;
        i += n + 1;
        line++;
        if (n && s[n - 1] == '\r') n--;
        if (line == 1 && n >= 8 && !memcmp(s, "#version", 8)) continue;
        if (!n) continue;
        char *sp = memchr(s, ' ', n);
        if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - s))) {
            rc = bt_error_set(err, BT_EINPUT, "%s:%ld: expected two symbols separated by one "
                              "space", path, line);
            break;
        }
        const size_t nl_ = (size_t)(sp - s), nr = n - nl_ - 1;
        memcpy(cat, s, nl_);
        memcpy(cat + nl_, sp + 1, nr);
        const int l = vocab_id(b, s, nl_), r = vocab_id(b, sp + 1, nr),
                  m = vocab_id(b, cat, nl_ + nr);
        const char *what = l < 0 ? s : r < 0 ? sp + 1 : cat;
        const size_t wl = l < 0 ? nl_ : r < 0 ? nr : nl_ + nr;
        if (l < 0 || r < 0 || m < 0) {
            rc = bt_error_set(err, BT_EINPUT, "%s:%ld: '%.*s' is not in vocab.json", path,
                              line, (int)(wl > 60 ? 60 : wl), what);
            break;
        }
        /* a pair listed twice keeps its later rank, as Python's dict(zip(merges, ranks)) */
        const uint64_t key = bt_bpe_merge_key(l, r);
        bt_bpe_merge *e = &b->merge[bt_bpe_merge_slot(b, key)];
        e->key = key;
        e->rank = b->n_merges++;
        e->id = m;
    }
    free(cat);
    free(buf);
    return rc;
}

/* --- the tokens cut out of the text --- */

static int add_added(bt_bpe *b, const char *s, int id, int flags, bt_error *err) {
    const size_t len = strlen(s);
    if (bt_wp_table_find(&b->added, s, len) >= 0) return BT_OK; /* the first one wins */
    const int k = bt_wp_table_add(&b->added, s, len);
    int *ids = k >= 0 ? bt_realloc(b->added_id, (size_t)k + 1, sizeof *ids, "the added tokens", NULL) : NULL;
    if (ids) b->added_id = ids;
    uint8_t *fl = ids ? bt_realloc(b->added_flags, (size_t)k + 1, 1, "the added tokens", NULL) : NULL;
    if (fl) b->added_flags = fl;
    if (!fl) return bt_error_set(err, BT_EINTERNAL, "out of memory");
    b->added_id[k] = id;
    b->added_flags[k] = (uint8_t)flags;
    if (id >= b->n_ids) {
        int *ie = bt_realloc(b->id_entry, (size_t)id + 1, sizeof *ie, "the id table", err);
        if (!ie) return BT_EINTERNAL;
        for (int i = b->n_ids; i <= id; i++) ie[i] = -1;
        b->id_entry = ie;
        b->n_ids = id + 1;
    }
    return BT_OK;
}

static int added_json(void *ctx, const char *token, int id, const char *path, bt_error *err) {
    (void)path;
    return add_added(ctx, token, id, 0, err);
}

static int setup_specials(const char *dir, bt_bpe *b, const bpe_config *c, bt_error *err) {
    int rc = BT_OK;
    /* added_tokens_decoder holds the flags HF saved; they win over the defaults */
    for (int i = 0; i < c->n_dec && !rc; i++)
        rc = add_added(b, c->dec[i].content, c->dec[i].id, c->dec[i].flags, err);
    for (int r = 0; r < SP_N && !rc; r++) {
        const sp_token *t = &c->sp[r];
        int id = -1;
        if (t->content) {
            const int k = bt_wp_table_find(&b->added, t->content, strlen(t->content));
            id = k >= 0 ? b->added_id[k] : vocab_id(b, t->content, strlen(t->content));
            /* RobertaTokenizer makes <mask> an AddedToken with lstrip unless told otherwise */
            const int flags = t->flags_given ? t->flags
                              : (b->style == BT_BPE_ROBERTA && r == BT_TOK_MASK) ? BT_BPE_LSTRIP
                                                                                : 0;
            if (id >= 0) rc = add_added(b, t->content, id, flags, err);
        }
        if (r < BT_TOK_N_SPECIAL) b->special_id[r] = id;
        /* RoBERTa inputs cannot be built without <s> and </s> */
        if (!rc && id < 0 && b->style == BT_BPE_ROBERTA && (r == BT_TOK_CLS || r == BT_TOK_SEP))
            rc = t->content ? bt_error_set(err, BT_EINPUT, "%s/vocab.json: no token '%s' (the "
                                           "%s)", dir, t->content, SP_KEYS[r])
                            : bt_error_set(err, BT_EINPUT, "%s: the %s is null in the tokenizer "
                                           "config, RoBERTa needs one", dir, SP_KEYS[r]);
    }
    b->unk = b->special_id[BT_TOK_UNK];
    return rc;
}

int bt_bpe_load(const char *dir, bt_bpe *b, bt_error *err) {
    memset(b, 0, sizeof *b);
    bpe_config c;
    memset(&c, 0, sizeof c);
    char path[4096];
    cJSON *tc = NULL, *stm = NULL;
    int style = 0;
    int rc = bt_text_read_json(dir, "tokenizer_config.json", 1, &tc, path, sizeof path, err);
    /* the family first: it sets the defaults that the files then override */
    if (!rc && tc) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(tc, "tokenizer_class");
        if (cJSON_IsString(v)) style = style_of_class(v->valuestring);
    }
    if (!rc && !style) rc = style_of_model(dir, &style, err);
    b->style = style;
    if (!rc && set_defaults(&c, style)) rc = bt_error_set(err, BT_EINTERNAL, "out of memory");
    if (!rc && tc) rc = apply_tokenizer_config(tc, b, &c, &style, path, err);
    /* special_tokens_map.json is applied last: transformers lets it override the config */
    if (!rc) rc = bt_text_read_json(dir, "special_tokens_map.json", 1, &stm, path, sizeof path, err);
    for (int r = 0; r < SP_N && !rc && stm; r++) rc = get_special(stm, r, &c, path, err);
    cJSON_Delete(tc);
    cJSON_Delete(stm);

    if (!rc) rc = read_vocab(dir, b, err);
    if (!rc) rc = read_merges(dir, b, err);
    if (!rc) rc = bt_added_tokens_read(dir, added_json, b, err);
    if (!rc) rc = setup_specials(dir, b, &c, err);
    for (int x = 0; x < 256 && !rc; x++) {
        char u8[4];
        const utf8proc_ssize_t k = utf8proc_encode_char(bt_bpe_byte_char((uint8_t)x),
                                                        (uint8_t *)u8);
        b->byte_id[x] = vocab_id(b, u8, (size_t)k);
        if (b->byte_id[x] < 0 && b->unk < 0)
            rc = bt_error_set(err, BT_EINPUT, "%s/vocab.json: no token for byte 0x%02x ('%.*s') "
                              "and no unk_token", dir, x, (int)k, u8);
    }
    if (!rc && !(b->cache = bt_calloc(BT_BPE_CACHE_SLOTS, sizeof *b->cache, "the BPE cache", err))) rc = BT_EINTERNAL;
    config_free(&c);
    if (rc) bt_bpe_free(b);
    return rc;
}

void bt_bpe_free(bt_bpe *b) {
    bt_wp_table_free(&b->vocab);
    bt_wp_table_free(&b->added);
    free(b->entry_id);
    free(b->id_entry);
    free(b->merge);
    free(b->added_id);
    free(b->added_flags);
    free(b->sym);
    free(b->next);
    free(b->prev);
    free(b->heap);
    free(b->batch);
    free(b->text);
    free(b->cache);
    memset(b, 0, sizeof *b);
}

/* ---- the byte-level BPE kind of bt_tok (tok_ops.h) ---- */

/* after openai-gpt's kind, which claims the same files first */
static int bpe_claims(const char *dir) {
    return bt_tok_has_file(dir, "vocab.json") && bt_tok_has_file(dir, "merges.txt");
}
static int bpe_load(void *s, const char *dir, bt_error *err) { return bt_bpe_load(dir, s, err); }
static void bpe_free(void *s) { bt_bpe_free(s); }
static int bpe_kind(const void *s) { return BT_TOK_BPE; }
static int roberta(const void *s) { return ((const bt_bpe *)s)->style == BT_BPE_ROBERTA; }
static const char *bpe_name(const void *s) { return roberta(s) ? "byte-level BPE (RoBERTa)" : "byte-level BPE (GPT-2)"; }
static int bpe_vocab_size(const void *s) { return ((const bt_bpe *)s)->n_ids; }
static long bpe_max_length(const void *s) { return ((const bt_bpe *)s)->model_max_length; }
static int bpe_special_id(const void *s, int role) { return ((const bt_bpe *)s)->special_id[role]; }
static int bpe_num_special(const void *s, int pair) { return roberta(s) ? (pair ? 4 : 2) : 0; }
static const char *bpe_id_to_token(const void *s, int id, size_t *len) { return bt_bpe_id_to_token(s, id, len); }
static int bpe_token_to_id(const void *s, const char *token, size_t len) { return bt_bpe_token_to_id(s, token, len); }

static int bpe_tokenize(void *s, const char *text, size_t len, int *ids, int cap, int *n, bt_error *err) {
    return bt_bpe_tokenize(s, text, len, ids, cap, n, err);
}

/* build_inputs_with_special_tokens of GPT2Tokenizer (a + b, nothing added) and of
 * RobertaTokenizer (<s> a </s>, <s> a </s></s> b </s>). Neither model takes token types
 * (model_input_names has no token_type_ids), so they are all 0. */
static int bpe_build(const void *s, const int *a, int na, const int *b, int nb, int *ids, int *types) {
    if (!roberta(s)) return bt_tok_build_plain(a, na, b, nb, ids, types);
    const bt_bpe *bpe = s;
    const int cls = bpe->special_id[BT_TOK_CLS], sep = bpe->special_id[BT_TOK_SEP];
    int k = 0;
    ids[k++] = cls;
    memcpy(ids + k, a, (size_t)na * sizeof *ids);
    k += na;
    ids[k++] = sep;
    if (b) {
        ids[k++] = sep;
        memcpy(ids + k, b, (size_t)nb * sizeof *ids);
        k += nb;
        ids[k++] = sep;
    }
    if (types) memset(types, 0, (size_t)k * sizeof *types);
    return k;
}

const bt_tok_ops bt_tok_byte_bpe_ops = {
    .state_size = sizeof(bt_bpe), .claims = bpe_claims, .load = bpe_load, .free = bpe_free, .kind = bpe_kind,
    .name = bpe_name, .vocab_size = bpe_vocab_size, .model_max_length = bpe_max_length, .special_id = bpe_special_id,
    .num_special = bpe_num_special, .id_to_token = bpe_id_to_token, .token_to_id = bpe_token_to_id,
    .tokenize = bpe_tokenize, .build = bpe_build,
};
