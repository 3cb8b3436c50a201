/* Reading a WordPiece model directory: vocab.txt, tokenizer_config.json and
 * special_tokens_map.json, with the defaults of transformers' BertTokenizer. */
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
#include "wordpiece.h"


static int valid_utf8(const char *s, size_t len) { return bt_tok_utf8_error(s, len) == len; }

int bt_wp_vocab_read(const char *path, bt_wp_table *vocab, bt_error *err) {
    char *buf;
    size_t len;
    int rc = bt_read_file(path, BT_TEXT_FILE_MAX, &buf, &len, err);
    if (rc) return rc;
    /* Lines end at \n, \r\n or \r: Python's universal newlines, which load_vocab reads with. */
    size_t i = 0;
    int line = 1;
    while (i < len) {
        size_t j = i;
        while (j < len && buf[j] != '\n' && buf[j] != '\r') j++;
        if (!valid_utf8(buf + i, j - i)) {
            free(buf);
            return bt_error_set(err, BT_EINPUT, "%s:%d: invalid UTF-8", path, line);
        }
        if (bt_wp_table_add(vocab, buf + i, j - i) < 0) {
            free(buf);
            return bt_error_set(err, BT_EINTERNAL, "%s:%d: out of memory", path, line);
        }
        if (j < len && buf[j] == '\r' && j + 1 < len && buf[j + 1] == '\n') j++;
        i = j + 1;
        line++;
    }
    free(buf);
    if (vocab->n == 0) return bt_error_set(err, BT_EINPUT, "%s: no tokens", path);
    return BT_OK;
}

static void set_str(char **dst, const char *s) {
    free(*dst);
    *dst = s ? bt_strdup(s, "a special token", NULL) : NULL;
}

static const char *const SPECIAL_KEYS[BT_TOK_N_SPECIAL] = {"unk_token", "cls_token", "sep_token",
                                                           "pad_token", "mask_token"};
static const char *const SPECIAL_DEFAULTS[BT_TOK_N_SPECIAL] = {"[UNK]", "[CLS]", "[SEP]",
                                                               "[PAD]", "[MASK]"};

static int get_bool(const cJSON *root, const char *key, int *dst, const char *path,
                    bt_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) return BT_OK;
    if (!cJSON_IsBool(v))
        return bt_error_set(err, BT_EINPUT, "%s: field '%s' must be true or false", path, key);
    *dst = cJSON_IsTrue(v);
    return BT_OK;
}

/* A special token is a string, an AddedToken object {"content": ...}, or null (none). */
static int get_special(const cJSON *root, int role, bt_wp_config *cfg, const char *path,
                       bt_error *err) {
    const char *key = SPECIAL_KEYS[role];
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) return BT_OK;
    if (cJSON_IsNull(v)) {
        set_str(&cfg->special[role], NULL);
        return BT_OK;
    }
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return bt_error_set(err, BT_EINPUT, "%s: field '%s' must be a non-empty string or an "
                            "object with a 'content' string", path, key);
    set_str(&cfg->special[role], v->valuestring);
    return cfg->special[role] ? BT_OK : bt_error_set(err, BT_EINTERNAL, "out of memory");
}

static int apply_config(const cJSON *root, bt_wp_config *cfg, const char *path, bt_error *err) {
    int rc;
    if ((rc = get_bool(root, "do_lower_case", &cfg->do_lower_case, path, err)) ||
        (rc = get_bool(root, "do_basic_tokenize", &cfg->do_basic_tokenize, path, err)) ||
        (rc = get_bool(root, "tokenize_chinese_chars", &cfg->tokenize_chinese_chars, path, err)))
        return rc;

    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "strip_accents");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsBool(v))
            return bt_error_set(err, BT_EINPUT, "%s: field 'strip_accents' must be true, false "
                                "or null", path);
        cfg->strip_accents = cJSON_IsTrue(v);
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "model_max_length");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 1)
            return bt_error_set(err, BT_EINPUT, "%s: field 'model_max_length' must be a "
                                "positive number", path);
        /* transformers writes 1e30 for "no limit" */
        cfg->model_max_length = v->valuedouble >= (double)INT_MAX ? INT_MAX : (long)v->valuedouble;
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "never_split");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsArray(v))
            return bt_error_set(err, BT_EINPUT, "%s: field 'never_split' must be a list of "
                                "strings", path);
        int n = cJSON_GetArraySize(v), k = 0;
        char **list = bt_calloc((size_t)n + 1, sizeof *list, "never_split", err);
        if (!list) return BT_EINTERNAL;
        const cJSON *e;
        cJSON_ArrayForEach(e, v) {
            if (!cJSON_IsString(e)) {
                for (int i = 0; i < k; i++) free(list[i]);
                free(list);
                return bt_error_set(err, BT_EINPUT, "%s: never_split[%d] is not a string",
                                    path, k);
            }
            list[k++] = bt_strdup(e->valuestring, "never_split", NULL);
        }
        for (int i = 0; i < cfg->n_never_split; i++) free(cfg->never_split[i]);
        free(cfg->never_split);
        cfg->never_split = list;
        cfg->n_never_split = k;
        for (int i = 0; i < k; i++)
            if (!list[i]) return bt_error_set(err, BT_EINTERNAL, "out of memory");
    }

    for (int r = 0; r < BT_TOK_N_SPECIAL; r++)
        if ((rc = get_special(root, r, cfg, path, err))) return rc;
    return BT_OK;
}

int bt_wp_config_read(const char *dir, bt_wp_config *cfg, bt_error *err) {
    memset(cfg, 0, sizeof *cfg);
    cfg->do_lower_case = 1;
    cfg->do_basic_tokenize = 1;
    cfg->tokenize_chinese_chars = 1;
    cfg->strip_accents = -1;
    for (int r = 0; r < BT_TOK_N_SPECIAL; r++) {
        cfg->special[r] = bt_strdup(SPECIAL_DEFAULTS[r], "a special token", err);
        if (!cfg->special[r]) return BT_EINTERNAL;
    }

    /* special_tokens_map.json is applied last: transformers lets it override the config. */
    static const char *const files[2] = {"tokenizer_config.json", "special_tokens_map.json"};
    char path[4096];
    for (int f = 0; f < 2; f++) {
        cJSON *root;
        int rc = bt_text_read_json(dir, files[f], 1, &root, path, sizeof path, err);
        if (rc) return rc;
        if (!root) continue;
        if (f == 0) {
            rc = apply_config(root, cfg, path, err);
        } else {
            for (int r = 0; r < BT_TOK_N_SPECIAL && !rc; r++)
                rc = get_special(root, r, cfg, path, err);
        }
        cJSON_Delete(root);
        if (rc) return rc;
    }
    return BT_OK;
}

void bt_wp_config_free(bt_wp_config *cfg) {
    for (int r = 0; r < BT_TOK_N_SPECIAL; r++) free(cfg->special[r]);
    for (int i = 0; i < cfg->n_never_split; i++) free(cfg->never_split[i]);
    free(cfg->never_split);
    memset(cfg, 0, sizeof *cfg);
}

/* An added_tokens.json token: its id continues the vocabulary (or names the same string in
 * it), and it is cut out of the raw text like a special token. */
static int add_token(void *ctx, const char *token, int id, const char *path, bt_error *err) {
    bt_wordpiece *wp = ctx;
    const size_t len = strlen(token);
    if (id == wp->vocab.n) {
        if (bt_wp_table_add(&wp->vocab, token, len) < 0) return bt_error_set(err, BT_EINTERNAL, "out of memory");
    } else if (id > wp->vocab.n || (size_t)wp->vocab.len[id] != len ||
               memcmp(wp->vocab.bytes + wp->vocab.off[id], token, len)) {
        return bt_error_set(err, BT_EINPUT, "%s: '%.60s' has id %d; the vocabulary has %d tokens and added ids "
                            "must continue it", path, token, id, wp->vocab.n);
    }
    if (bt_wp_table_find(&wp->special, token, len) < 0 && bt_wp_table_add(&wp->special, token, len) < 0)
        return bt_error_set(err, BT_EINTERNAL, "out of memory");
    return BT_OK;
}

int bt_wp_load(const char *dir, bt_wordpiece *wp, bt_error *err) {
    memset(wp, 0, sizeof *wp);
    bt_wp_config cfg;
    int rc = bt_wp_config_read(dir, &cfg, err);
    if (rc) {
        bt_wp_config_free(&cfg);
        return rc;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    rc = bt_wp_vocab_read(path, &wp->vocab, err);
    if (!rc) rc = bt_added_tokens_read(dir, add_token, wp, err);

    wp->do_lower = cfg.do_lower_case;
    wp->strip = cfg.do_lower_case ? cfg.strip_accents != 0 : cfg.strip_accents == 1;
    wp->chinese = cfg.tokenize_chinese_chars;
    wp->basic = cfg.do_basic_tokenize;
    wp->model_max_length = cfg.model_max_length;

    for (int r = 0; r < BT_TOK_N_SPECIAL && !rc; r++) {
        const char *s = cfg.special[r];
        if (s && !valid_utf8(s, strlen(s))) {
            rc = bt_error_set(err, BT_EINPUT, "%s: the %s is not valid UTF-8", dir,
                              SPECIAL_KEYS[r]);
            break;
        }
        wp->special_id[r] = s ? bt_wp_table_find(&wp->vocab, s, strlen(s)) : -1;
        if (s && bt_wp_table_add(&wp->special, s, strlen(s)) < 0)
            rc = bt_error_set(err, BT_EINTERNAL, "out of memory");
        /* Encoding cannot go on without these three. */
        if (!rc && wp->special_id[r] < 0 &&
            (r == BT_TOK_UNK || r == BT_TOK_CLS || r == BT_TOK_SEP)) {
            if (s)
                rc = bt_error_set(err, BT_EINPUT, "%s: no token '%s' (the %s)", path, s,
                                  SPECIAL_KEYS[r]);
            else
                rc = bt_error_set(err, BT_EINPUT, "%s: the %s is null in the tokenizer "
                                  "config, WordPiece needs one", dir, SPECIAL_KEYS[r]);
        }
    }
    for (int i = 0; i < cfg.n_never_split && !rc; i++)
        if (!valid_utf8(cfg.never_split[i], strlen(cfg.never_split[i])))
            rc = bt_error_set(err, BT_EINPUT, "%s: never_split[%d] is not valid UTF-8", dir, i);
        else if (bt_wp_table_add(&wp->never, cfg.never_split[i], strlen(cfg.never_split[i])) < 0)
            rc = bt_error_set(err, BT_EINTERNAL, "out of memory");
    bt_wp_config_free(&cfg);
    if (rc) bt_wp_free(wp);
    return rc;
}

void bt_wp_free(bt_wordpiece *wp) {
    bt_wp_table_free(&wp->vocab);
    bt_wp_table_free(&wp->never);
    bt_wp_table_free(&wp->special);
    free(wp->cp);
    free(wp->cp2);
    free(wp->u8);
    memset(wp, 0, sizeof *wp);
}

/* ---- the WordPiece kind of bt_tok (tok_ops.h) ---- */

static int wp_claims(const char *dir) { return bt_tok_has_file(dir, "vocab.txt"); }
static int wp_load(void *s, const char *dir, bt_error *err) { return bt_wp_load(dir, s, err); }
static void wp_free(void *s) { bt_wp_free(s); }
static int wp_kind(const void *s) { return BT_TOK_WORDPIECE; }
static const char *wp_name(const void *s) { return "WordPiece (BERT)"; }
static int wp_vocab_size(const void *s) { return ((const bt_wordpiece *)s)->vocab.n; }
static long wp_max_length(const void *s) { return ((const bt_wordpiece *)s)->model_max_length; }
static int wp_special_id(const void *s, int role) { return ((const bt_wordpiece *)s)->special_id[role]; }
static int wp_num_special(const void *s, int pair) { return pair ? 3 : 2; }

static const char *wp_id_to_token(const void *s, int id, size_t *len) {
    const bt_wp_table *v = &((const bt_wordpiece *)s)->vocab;
    if (id < 0 || id >= v->n) return NULL;
    if (len) *len = (size_t)v->len[id];
    return v->bytes + v->off[id];
}

static int wp_token_to_id(const void *s, const char *token, size_t len) {
    return bt_wp_table_find(&((const bt_wordpiece *)s)->vocab, token, len);
}

static int wp_tokenize(void *s, const char *text, size_t len, int *ids, int cap, int *n, bt_error *err) {
    return bt_wp_tokenize(s, text, len, ids, cap, n, err);
}

/* BertTokenizer: [CLS] a [SEP] (b [SEP]), token types 0 up to the first [SEP], 1 after it. */
static int wp_build(const void *s, const int *a, int na, const int *b, int nb, int *ids, int *types) {
    const bt_wordpiece *wp = s;
    const int cls = wp->special_id[BT_TOK_CLS], sep = wp->special_id[BT_TOK_SEP];
    int k = 0;
    ids[k++] = cls;
    memcpy(ids + k, a, (size_t)na * sizeof *ids);
    k += na;
    ids[k++] = sep;
    const int first = k;
    if (b) {
        memcpy(ids + k, b, (size_t)nb * sizeof *ids);
        k += nb;
        ids[k++] = sep;
    }
    if (types)
        for (int i = 0; i < k; i++) types[i] = i < first ? 0 : 1;
    return k;
}

const bt_tok_ops bt_tok_wordpiece_ops = {
    .state_size = sizeof(bt_wordpiece), .claims = wp_claims, .load = wp_load, .free = wp_free, .kind = wp_kind,
    .name = wp_name, .vocab_size = wp_vocab_size, .model_max_length = wp_max_length, .special_id = wp_special_id,
    .num_special = wp_num_special, .id_to_token = wp_id_to_token, .token_to_id = wp_token_to_id,
    .tokenize = wp_tokenize, .build = wp_build,
};
