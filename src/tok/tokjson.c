/* tokenizer.json (tokjson.h): the tokenizers library's serialisation read component by
 * component, each checked against the few variants bertology implements exactly, everything
 * else refused with the component's name and the field at fault. */
#include "bertology/common.h"
#include "tokjson.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "textio.h"
#include "tok_ops.h"

#define MAX_ID ((1 << 24) - 1)

typedef struct {
    const char *path;
    bt_error *err;
} ctx;

static int refuse(const ctx *c, const char *fmt, const char *a, const char *b) {
    return bt_error_set(c->err, BT_EINPUT, "%s: %s%s%s", c->path, a, fmt, b ? b : "");
}

static const char *type_of(const cJSON *o) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) ? t->valuestring : "?";
}

/* An optional bool field: absent or null -> def. */
static int opt_bool(const ctx *c, const cJSON *o, const char *where, const char *key, int def, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return BT_OK;
    }
    if (!cJSON_IsBool(v))
        return bt_error_set(c->err, BT_EINPUT, "%s: %s.%s must be true or false", c->path, where, key);
    *out = cJSON_IsTrue(v);
    return BT_OK;
}

/* A field that must be absent, null, or one given value. */
static int must_be(const ctx *c, const cJSON *o, const char *where, const char *key, const char *str, int num) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return BT_OK;
    if (str && cJSON_IsString(v) && !strcmp(v->valuestring, str)) return BT_OK;
    if (!str && cJSON_IsNumber(v) && v->valuedouble == num) return BT_OK;
    if (!str && cJSON_IsBool(v) && cJSON_IsTrue(v) == num) return BT_OK;
    char want[64];
    if (str)
        snprintf(want, sizeof want, "\"%s\"", str);
    else
        snprintf(want, sizeof want, "%d", num);
    return bt_error_set(c->err, BT_EINPUT, "%s: %s.%s is not supported unless it is %s or null", c->path, where, key,
                        want);
}

static int utf8_ok(const char *s) { return bt_tok_utf8_error(s, strlen(s)) == strlen(s); }

/* --- models --- */

static int load_wordpiece(const ctx *c, const cJSON *m, bt_wordpiece *wp) {
    int rc;
    if ((rc = must_be(c, m, "model", "continuing_subword_prefix", "##", 0)) ||
        (rc = must_be(c, m, "model", "max_input_chars_per_word", NULL, BT_WP_MAX_WORD_CHARS)))
        return rc;
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(m, "vocab");
    if (!cJSON_IsObject(vocab)) return refuse(c, "model.vocab is not an object", "", NULL);
    const int n = cJSON_GetArraySize(vocab);
    const char **by_id = bt_calloc((size_t)n + 1, sizeof *by_id, "model.vocab", c->err);
    if (!by_id) return BT_EINTERNAL;
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        const double v = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (!(v >= 0 && v < n && v == (double)(int)v) || by_id[(int)v] || !utf8_ok(e->string)) {
            rc = bt_error_set(c->err, BT_EINPUT, "%s: model.vocab: \"%.60s\" has no id of its own in 0..%d", c->path,
                              e->string, n - 1);
            break;
        }
        by_id[(int)v] = e->string;
    }
    for (int i = 0; i < n && !rc; i++)
        if (bt_wp_table_add(&wp->vocab, by_id[i], strlen(by_id[i])) < 0)
            rc = bt_error_set(c->err, BT_EINTERNAL, "out of memory");
    free(by_id);
    if (rc) return rc;
    if (!n) return refuse(c, "model.vocab is empty", "", NULL);
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(m, "unk_token");
    if (!cJSON_IsString(unk)) return refuse(c, "model.unk_token is not a string", "", NULL);
    wp->special_id[BT_TOK_UNK] = bt_wp_table_find(&wp->vocab, unk->valuestring, strlen(unk->valuestring));
    if (wp->special_id[BT_TOK_UNK] < 0)
        return bt_error_set(c->err, BT_EINPUT, "%s: model.unk_token '%.60s' is not in model.vocab", c->path,
                            unk->valuestring);
    return BT_OK;
}

static int vocab_id(const bt_bpe *b, const char *s, size_t len) {
    const int k = bt_wp_table_find(&b->vocab, s, len);
    return k >= 0 ? b->entry_id[k] : -1;
}

static int bpe_merge(const ctx *c, bt_bpe *b, int rank, const char *l, size_t nl, const char *r, size_t nr,
                     char *cat) {
    memcpy(cat, l, nl);
    memcpy(cat + nl, r, nr);
    const int li = vocab_id(b, l, nl), ri = vocab_id(b, r, nr), mi = vocab_id(b, cat, nl + nr);
    if (li < 0 || ri < 0 || mi < 0) {
        const char *what = li < 0 ? l : ri < 0 ? r : cat;
        const size_t wl = li < 0 ? nl : ri < 0 ? nr : nl + nr;
        char at[32];
        snprintf(at, sizeof at, "%d", rank);
        return bt_error_set(c->err, BT_EINPUT, "%s: model.merges[%s]: '%.*s' is not in model.vocab", c->path, at,
                            (int)(wl > 60 ? 60 : wl), what);
    }
    const uint64_t key = bt_bpe_merge_key(li, ri);
    bt_bpe_merge *e = &b->merge[bt_bpe_merge_slot(b, key)];
    if (!e->key) b->n_merges++;
    e->key = key;
    e->rank = rank; /* a pair listed twice keeps its later rank */
    e->id = mi;
    return BT_OK;
}

static int load_bpe(const ctx *c, const cJSON *m, bt_bpe *b) {
    int rc, flag = 0;
    const cJSON *dr = cJSON_GetObjectItemCaseSensitive(m, "dropout");
    if (dr && !cJSON_IsNull(dr)) return refuse(c, "model.dropout is not supported (BPE dropout is random)", "", NULL);
    if ((rc = must_be(c, m, "model", "continuing_subword_prefix", "", 0)) ||
        (rc = must_be(c, m, "model", "end_of_word_suffix", "", 0)))
        return rc;
    if ((rc = opt_bool(c, m, "model", "byte_fallback", 0, &flag))) return rc;
    if (flag) return refuse(c, "model.byte_fallback true is not supported", "", NULL);
    if ((rc = opt_bool(c, m, "model", "ignore_merges", 0, &flag))) return rc;
    if (flag) return refuse(c, "model.ignore_merges true is not supported", "", NULL);

    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(m, "vocab");
    if (!cJSON_IsObject(vocab)) return refuse(c, "model.vocab is not an object", "", NULL);
    const int n = cJSON_GetArraySize(vocab);
    b->entry_id = bt_malloc((size_t)n + 1, sizeof *b->entry_id, "model.vocab", c->err);
    if (!b->entry_id) return BT_EINTERNAL;
    const cJSON *e;
    int max_id = -1;
    cJSON_ArrayForEach(e, vocab) {
        const double v = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (!(v >= 0 && v <= MAX_ID && v == (double)(int)v) || !utf8_ok(e->string))
            return bt_error_set(c->err, BT_EINPUT, "%s: model.vocab: the id of \"%.60s\" is not an integer in [0, %d]",
                                c->path, e->string, MAX_ID);
        const int k = bt_wp_table_add(&b->vocab, e->string, strlen(e->string));
        if (k < 0) return bt_error_set(c->err, BT_EINTERNAL, "out of memory");
        b->entry_id[k] = (int)v;
        if ((int)v > max_id) max_id = (int)v;
    }
    if (max_id < 0) return refuse(c, "model.vocab is empty", "", NULL);
    b->n_ids = max_id + 1;
    b->id_entry = bt_malloc((size_t)b->n_ids, sizeof *b->id_entry, "the id table", c->err);
    if (!b->id_entry) return BT_EINTERNAL;
    for (int i = 0; i < b->n_ids; i++) b->id_entry[i] = -1;
    for (int k = 0; k < b->vocab.n; k++) b->id_entry[b->entry_id[k]] = k;

    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(m, "merges");
    if (!cJSON_IsArray(merges)) return refuse(c, "model.merges is not a list", "", NULL);
    const int nm = cJSON_GetArraySize(merges);
    size_t slots = 16;
    while (slots < 2 * (size_t)nm + 2) slots *= 2;
    b->merge = bt_calloc(slots, sizeof *b->merge, "the merge table", NULL);
    size_t longest = 0;
    cJSON_ArrayForEach(e, merges) {
        if (cJSON_IsString(e)) longest += strlen(e->valuestring);
        if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(e->child) &&
            cJSON_IsString(e->child->next))
            longest += strlen(e->child->valuestring) + strlen(e->child->next->valuestring);
    }
    char *cat = bt_malloc(longest + 1, 1, "a merge", NULL);
    if (!b->merge || !cat) {
        free(cat);
        return bt_error_set(c->err, BT_EINTERNAL, "out of memory");
    }
    b->n_merge_slots = slots;
    int rank = 0;
    cJSON_ArrayForEach(e, merges) {
        /* "left right" (one space) or ["left", "right"] (tokenizers >= 0.20) */
        if (cJSON_IsString(e)) {
            const char *s = e->valuestring, *sp = strchr(s, ' ');
            if (!sp || strchr(sp + 1, ' ')) {
                rc = bt_error_set(c->err, BT_EINPUT, "%s: model.merges[%d] is not two symbols separated by one space",
                                  c->path, rank);
                break;
            }
            rc = bpe_merge(c, b, rank, s, (size_t)(sp - s), sp + 1, strlen(sp + 1), cat);
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(e->child) &&
                   cJSON_IsString(e->child->next)) {
            const char *l = e->child->valuestring, *r = e->child->next->valuestring;
            rc = bpe_merge(c, b, rank, l, strlen(l), r, strlen(r), cat);
        } else {
            rc = bt_error_set(c->err, BT_EINPUT, "%s: model.merges[%d] is neither \"a b\" nor [\"a\", \"b\"]",
                              c->path, rank);
        }
        if (rc) break;
        rank++;
    }
    free(cat);
    if (rc) return rc;
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(m, "unk_token");
    b->unk = -1;
    if (cJSON_IsString(unk)) {
        b->unk = vocab_id(b, unk->valuestring, strlen(unk->valuestring));
        if (b->unk < 0)
            return bt_error_set(c->err, BT_EINPUT, "%s: model.unk_token '%.60s' is not in model.vocab", c->path,
                                unk->valuestring);
    } else if (unk && !cJSON_IsNull(unk)) {
        return refuse(c, "model.unk_token is not a string or null", "", NULL);
    }
    for (int x = 0; x < 256; x++) {
        char u8[4];
        const utf8proc_ssize_t k = utf8proc_encode_char(bt_bpe_byte_char((uint8_t)x), (uint8_t *)u8);
        b->byte_id[x] = vocab_id(b, u8, (size_t)k);
        if (b->byte_id[x] < 0 && b->unk < 0)
            return bt_error_set(c->err, BT_EINPUT, "%s: model.vocab has no token for byte 0x%02x and there is no "
                                "unk_token", c->path, x);
    }
    b->style = BT_BPE_GPT2; /* what the post-processor adds is the template's business */
    if (!(b->cache = bt_calloc(BT_BPE_CACHE_SLOTS, sizeof *b->cache, "the BPE cache", c->err))) return BT_EINTERNAL;
    return BT_OK;
}

/* --- normalizer, pre-tokenizer --- */

/* NFD, Lowercase, StripAccents, alone or in a Sequence (each at most once; StripAccents only
 * after NFD, since it only drops the marks NFD has split off): no cleaning, no CJK spacing. */
static int load_simple_normalizers(const ctx *c, const cJSON *nz, bt_wordpiece *wp) {
    const cJSON *list = NULL, *e, *one[1] = {nz};
    int n = 1;
    if (!strcmp(type_of(nz), "Sequence")) {
        list = cJSON_GetObjectItemCaseSensitive(nz, "normalizers");
        if (!cJSON_IsArray(list)) return refuse(c, "normalizer.normalizers is not a list", "", NULL);
        n = cJSON_GetArraySize(list);
    }
    int nfd = 0, lower = 0, strip = 0, i = 0;
    for (e = list ? list->child : one[0]; i < n && e; e = list ? e->next : NULL, i++) {
        const char *t = type_of(e);
        int *seen = !strcmp(t, "NFD") ? &nfd : !strcmp(t, "Lowercase") ? &lower : !strcmp(t, "StripAccents") ? &strip
                                                                                                                : NULL;
        if (!seen)
            return bt_error_set(c->err, BT_EINPUT, "%s: normalizer '%.40s' is not supported (BertNormalizer, NFD, "
                                "Lowercase, StripAccents)", c->path, t);
        if (*seen) return bt_error_set(c->err, BT_EINPUT, "%s: normalizer '%.40s' appears twice", c->path, t);
        if (seen == &strip && !nfd)
            return refuse(c, "normalizer StripAccents without NFD before it is not supported", "", NULL);
        *seen = 1;
    }
    wp->no_clean = 1;
    wp->nfd = nfd;
    wp->do_lower = lower;
    wp->strip = strip;
    wp->chinese = 0;
    return BT_OK;
}

static int load_normalizer(const ctx *c, const cJSON *nz, int kind, bt_wordpiece *wp) {
    if (!nz || cJSON_IsNull(nz)) {
        if (kind == BT_TOK_BPE) return BT_OK;
        return refuse(c, "normalizer is null; WordPiece is read with BertNormalizer only", "", NULL);
    }
    const char *t = type_of(nz);
    if (kind == BT_TOK_BPE)
        return bt_error_set(c->err, BT_EINPUT, "%s: normalizer '%.40s' is not supported with a byte-level BPE model "
                            "(none is)", c->path, t);
    if (strcmp(t, "BertNormalizer")) return load_simple_normalizers(c, nz, wp);
    int clean = 1, lower = 1, chinese = 1, rc;
    if ((rc = opt_bool(c, nz, "normalizer", "clean_text", 1, &clean)) ||
        (rc = opt_bool(c, nz, "normalizer", "lowercase", 1, &lower)) ||
        (rc = opt_bool(c, nz, "normalizer", "handle_chinese_chars", 1, &chinese)))
        return rc;
    if (!clean) return refuse(c, "normalizer.clean_text false is not supported", "", NULL);
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(nz, "strip_accents");
    int strip = lower; /* null: follow lowercase */
    if (sa && !cJSON_IsNull(sa)) {
        if (!cJSON_IsBool(sa)) return refuse(c, "normalizer.strip_accents must be true, false or null", "", NULL);
        strip = cJSON_IsTrue(sa);
    }
    wp->do_lower = lower;
    wp->strip = strip;
    wp->chinese = chinese;
    return BT_OK;
}

static int load_pre_tokenizer(const ctx *c, const cJSON *pt, int kind, bt_wordpiece *wp, bt_tj *tj) {
    const char *t = pt && !cJSON_IsNull(pt) ? type_of(pt) : "null";
    if (kind == BT_TOK_WORDPIECE) {
        if (strcmp(t, "BertPreTokenizer"))
            return bt_error_set(c->err, BT_EINPUT, "%s: pre_tokenizer '%.40s' is not supported with WordPiece "
                                "(BertPreTokenizer is)", c->path, t);
        wp->basic = 1;
        return BT_OK;
    }
    if (strcmp(t, "ByteLevel"))
        return bt_error_set(c->err, BT_EINPUT, "%s: pre_tokenizer '%.40s' is not supported with BPE (ByteLevel is)",
                            c->path, t);
    int rc, regex = 1;
    if ((rc = opt_bool(c, pt, "pre_tokenizer", "add_prefix_space", 1, &tj->prefix_space)) ||
        (rc = opt_bool(c, pt, "pre_tokenizer", "use_regex", 1, &regex)))
        return rc;
    if (!regex) return refuse(c, "pre_tokenizer.use_regex false is not supported", "", NULL);
    return BT_OK;
}

/* --- added tokens --- */

static int added_find(const bt_tj *tj, const char *s) { return bt_wp_table_find(&tj->added, s, strlen(s)); }

static int load_added(const ctx *c, const cJSON *root, int kind, bt_wordpiece *wp, bt_bpe *b, bt_tj *tj,
                      int normalizer) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!list || cJSON_IsNull(list)) return BT_OK;
    if (!cJSON_IsArray(list)) return refuse(c, "added_tokens is not a list", "", NULL);
    const cJSON *e;
    int i = 0, rc = BT_OK;
    cJSON_ArrayForEach(e, list) {
        char where[48];
        snprintf(where, sizeof where, "added_tokens[%d]", i++);
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        const cJSON *idv = cJSON_GetObjectItemCaseSensitive(e, "id");
        if (!cJSON_IsObject(e) || !cJSON_IsString(content) || !content->valuestring[0] ||
            !utf8_ok(content->valuestring) || !cJSON_IsNumber(idv) || idv->valuedouble < 0 ||
            idv->valuedouble > MAX_ID || idv->valuedouble != (double)(int)idv->valuedouble)
            return bt_error_set(c->err, BT_EINPUT, "%s: %s needs a non-empty UTF-8 'content' and an integer 'id'",
                                c->path, where);
        const char *s = content->valuestring;
        const int id = (int)idv->valuedouble;
        int single = 0, lstrip = 0, rstrip = 0, norm = 0;
        if ((rc = opt_bool(c, e, where, "single_word", 0, &single)) || (rc = opt_bool(c, e, where, "lstrip", 0, &lstrip)) ||
            (rc = opt_bool(c, e, where, "rstrip", 0, &rstrip)) || (rc = opt_bool(c, e, where, "normalized", 0, &norm)))
            return rc;
        if (single)
            return bt_error_set(c->err, BT_EINPUT, "%s: %s ('%.40s'): single_word true is not supported", c->path,
                                where, s);
        if (norm && normalizer)
            return bt_error_set(c->err, BT_EINPUT, "%s: %s ('%.40s'): normalized true is not supported with a "
                                "normalizer", c->path, where, s);
        if (added_find(tj, s) >= 0) continue; /* the first one wins */
        /* the token's id must exist: in the vocabulary, or right after it */
        if (kind == BT_TOK_WORDPIECE) {
            if (id == wp->vocab.n) {
                if (bt_wp_table_add(&wp->vocab, s, strlen(s)) < 0)
                    return bt_error_set(c->err, BT_EINTERNAL, "out of memory");
            } else if (id > wp->vocab.n) {
                return bt_error_set(c->err, BT_EINPUT, "%s: %s ('%.40s') has id %d, past the vocabulary's %d ids",
                                    c->path, where, s, id, wp->vocab.n);
            }
        } else if (id >= b->n_ids) {
            int *ie = bt_realloc(b->id_entry, (size_t)id + 1, sizeof *ie, "the id table", c->err);
            if (!ie) return BT_EINTERNAL;
            for (int k = b->n_ids; k <= id; k++) ie[k] = -1;
            b->id_entry = ie;
            b->n_ids = id + 1;
        }
        const int k = bt_wp_table_add(&tj->added, s, strlen(s));
        int *ids = k >= 0 ? bt_realloc(tj->added_id, (size_t)k + 1, sizeof *ids, "the added tokens", NULL) : NULL;
        if (ids) tj->added_id = ids;
        uint8_t *fl = ids ? bt_realloc(tj->added_flags, (size_t)k + 1, 1, "the added tokens", NULL) : NULL;
        if (fl) tj->added_flags = fl;
        if (!fl) return bt_error_set(c->err, BT_EINTERNAL, "out of memory");
        tj->added_id[k] = id;
        tj->added_flags[k] = (uint8_t)((lstrip ? BT_BPE_LSTRIP : 0) | (rstrip ? BT_BPE_RSTRIP : 0));
    }
    return BT_OK;
}

/* The id of a token string: an added token, else the model's vocabulary; -1 if neither. */
static int token_id(const bt_tj *tj, int kind, const bt_wordpiece *wp, const bt_bpe *b, const char *s) {
    int k = added_find(tj, s);
    if (k >= 0) return tj->added_id[k];
    if (kind == BT_TOK_WORDPIECE) return bt_wp_table_find(&wp->vocab, s, strlen(s));
    return vocab_id(b, s, strlen(s));
}

/* --- post-processor --- */

static int side_add(const ctx *c, bt_tj_side *s, int seq, int id, int type) {
    if (s->n == BT_TJ_MAX_PIECES) return refuse(c, "post_processor: template longer than 16 pieces", "", NULL);
    s->seq[s->n] = seq;
    s->id[s->n] = id;
    s->type[s->n] = type;
    s->n++;
    return BT_OK;
}

/* [token, id] of BertProcessing / RobertaProcessing. */
static int proc_token(const ctx *c, const cJSON *p, const char *key, int *id) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, key);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 || !cJSON_IsNumber(cJSON_GetArrayItem(v, 1)))
        return bt_error_set(c->err, BT_EINPUT, "%s: post_processor.%s is not [token, id]", c->path, key);
    const double d = cJSON_GetArrayItem(v, 1)->valuedouble;
    if (!(d >= 0 && d <= MAX_ID && d == (double)(int)d))
        return bt_error_set(c->err, BT_EINPUT, "%s: post_processor.%s has no valid id", c->path, key);
    *id = (int)d;
    return BT_OK;
}

static int template_side(const ctx *c, const cJSON *list, const cJSON *specials, const char *name, bt_tj_side *s) {
    if (!cJSON_IsArray(list)) return refuse(c, " is not a list", "post_processor.", name);
    const cJSON *e;
    int rc = BT_OK;
    cJSON_ArrayForEach(e, list) {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "SpecialToken");
        const cJSON *sq = cJSON_GetObjectItemCaseSensitive(e, "Sequence");
        const cJSON *body = sp ? sp : sq;
        const cJSON *idv = cJSON_GetObjectItemCaseSensitive(body, "id");
        const cJSON *tv = cJSON_GetObjectItemCaseSensitive(body, "type_id");
        const int type = cJSON_IsNumber(tv) ? (int)tv->valuedouble : 0;
        if (!body || !cJSON_IsString(idv) || type < 0 || type > 1)
            return refuse(c, ": a piece is neither SpecialToken nor Sequence A/B with type_id 0/1", "post_processor.",
                          name);
        if (sq) {
            const int seq = !strcmp(idv->valuestring, "A") ? 0 : !strcmp(idv->valuestring, "B") ? 1 : -1;
            if (seq < 0) return refuse(c, ": a Sequence is neither A nor B", "post_processor.", name);
            rc = side_add(c, s, seq, -1, type);
        } else {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(specials, idv->valuestring);
            const cJSON *ids = cJSON_GetObjectItemCaseSensitive(st, "ids");
            if (!cJSON_IsArray(ids) || !cJSON_GetArraySize(ids))
                return bt_error_set(c->err, BT_EINPUT, "%s: post_processor.special_tokens has no ids for '%.40s'",
                                    c->path, idv->valuestring);
            const cJSON *x;
            cJSON_ArrayForEach(x, ids) {
                if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > MAX_ID)
                    return bt_error_set(c->err, BT_EINPUT, "%s: post_processor.special_tokens['%.40s'] has a bad id",
                                        c->path, idv->valuestring);
                if ((rc = side_add(c, s, -1, (int)x->valuedouble, type))) return rc;
            }
        }
        if (rc) return rc;
    }
    return BT_OK;
}

static int load_post(const ctx *c, const cJSON *p, bt_tj *tj) {
    if (!p || cJSON_IsNull(p)) return BT_OK;
    const char *t = type_of(p);
    int rc, cls, sep;
    if (!strcmp(t, "ByteLevel")) return BT_OK; /* offsets only */
    if (!strcmp(t, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "processors"), *e;
        if (!cJSON_IsArray(list)) return refuse(c, "post_processor.processors is not a list", "", NULL);
        cJSON_ArrayForEach(e, list) {
            if (tj->has_template && strcmp(type_of(e), "ByteLevel"))
                return refuse(c, "post_processor: more than one processor adds tokens", "", NULL);
            if ((rc = load_post(c, e, tj))) return rc;
        }
        return BT_OK;
    }
    bt_tj_side *s = &tj->single, *q = &tj->pair;
    if (!strcmp(t, "BertProcessing") || !strcmp(t, "RobertaProcessing")) {
        if ((rc = proc_token(c, p, "cls", &cls)) || (rc = proc_token(c, p, "sep", &sep))) return rc;
        const int roberta = t[0] == 'R';
        side_add(c, s, -1, cls, 0), side_add(c, s, 0, -1, 0), side_add(c, s, -1, sep, 0);
        side_add(c, q, -1, cls, 0), side_add(c, q, 0, -1, 0), side_add(c, q, -1, sep, 0);
        if (roberta) side_add(c, q, -1, sep, 0);
        side_add(c, q, 1, -1, !roberta), side_add(c, q, -1, sep, !roberta);
        tj->has_template = 1;
        return BT_OK;
    }
    if (!strcmp(t, "TemplateProcessing")) {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(p, "special_tokens");
        if ((rc = template_side(c, cJSON_GetObjectItemCaseSensitive(p, "single"), sp, "single", s)) ||
            (rc = template_side(c, cJSON_GetObjectItemCaseSensitive(p, "pair"), sp, "pair", q)))
            return rc;
        int na = 0, nb = 0;
        for (int i = 0; i < s->n; i++) na += s->seq[i] == 0, nb += s->seq[i] == 1;
        if (na != 1 || nb) return refuse(c, "post_processor.single must hold sequence A once and not B", "", NULL);
        na = nb = 0;
        for (int i = 0; i < q->n; i++) na += q->seq[i] == 0, nb += q->seq[i] == 1;
        if (na != 1 || nb != 1) return refuse(c, "post_processor.pair must hold sequences A and B once each", "", NULL);
        tj->has_template = 1;
        return BT_OK;
    }
    return bt_error_set(c->err, BT_EINPUT, "%s: post_processor '%.40s' is not supported (BertProcessing, "
                        "RobertaProcessing, TemplateProcessing, ByteLevel)", c->path, t);
}

/* --- roles, from the classic files when present, else what tokenizer.json implies --- */

static const char *const ROLE_KEYS[BT_TOK_N_SPECIAL] = {"unk_token", "cls_token", "sep_token", "pad_token",
                                                         "mask_token"};

static int role_strings(const char *dir, const char **names, char store[][128], long *max_len, bt_error *err) {
    static const char *const files[2] = {"tokenizer_config.json", "special_tokens_map.json"};
    for (int f = 0; f < 2; f++) {
        char path[4096];
        cJSON *root;
        const int rc = bt_text_read_json(dir, files[f], 1, &root, path, sizeof path, err);
        if (rc) return rc;
        if (!root) continue; /* optional */
        for (int r = 0; r < BT_TOK_N_SPECIAL; r++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, ROLE_KEYS[r]);
            if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
            if (cJSON_IsString(v) && strlen(v->valuestring) < 128) {
                snprintf(store[r], 128, "%s", v->valuestring);
                names[r] = store[r];
            }
        }
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model_max_length");
        if (f == 0 && cJSON_IsNumber(m) && m->valuedouble >= 1)
            *max_len = m->valuedouble >= (double)INT_MAX ? INT_MAX : (long)m->valuedouble;
        cJSON_Delete(root);
    }
    return BT_OK;
}

static int set_roles(const char *dir, int kind, bt_wordpiece *wp, bt_bpe *b, bt_tj *tj, bt_error *err) {
    static const char *const bert[BT_TOK_N_SPECIAL] = {NULL, "[CLS]", "[SEP]", "[PAD]", "[MASK]"};
    static const char *const bpe[BT_TOK_N_SPECIAL] = {"<|endoftext|>", "<s>", "</s>", "<pad>", "<mask>"};
    const char *names[BT_TOK_N_SPECIAL];
    char store[BT_TOK_N_SPECIAL][128];
    long max_len = 0;
    for (int r = 0; r < BT_TOK_N_SPECIAL; r++) names[r] = kind == BT_TOK_WORDPIECE ? bert[r] : bpe[r];
    int rc = role_strings(dir, names, store, &max_len, err);
    if (rc) return rc;
    int *id = kind == BT_TOK_WORDPIECE ? wp->special_id : b->special_id;
    const int unk = id[BT_TOK_UNK];
    for (int r = 0; r < BT_TOK_N_SPECIAL; r++) id[r] = names[r] ? token_id(tj, kind, wp, b, names[r]) : -1;
    /* the model's unk_token, and the template's first and last special as cls and sep */
    if (kind == BT_TOK_WORDPIECE || b->unk >= 0) id[BT_TOK_UNK] = kind == BT_TOK_WORDPIECE ? unk : b->unk;
    if (tj->has_template && tj->single.n > 1 && tj->single.seq[0] < 0 && tj->single.seq[tj->single.n - 1] < 0) {
        id[BT_TOK_CLS] = tj->single.id[0];
        id[BT_TOK_SEP] = tj->single.id[tj->single.n - 1];
    }
    if (kind == BT_TOK_WORDPIECE)
        wp->model_max_length = max_len;
    else
        b->model_max_length = max_len;
    return BT_OK;
}

int bt_tj_load(const char *dir, int *kind, bt_wordpiece *wp, bt_bpe *b, bt_tj *tj, bt_error *err) {
    memset(tj, 0, sizeof *tj);
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    ctx c = {path, err};
    char *buf;
    size_t len;
    int rc = bt_read_file(path, BT_TEXT_FILE_MAX, &buf, &len, err);
    if (rc) return rc;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    const long at = end ? (long)(end - buf) : 0;
    free(buf);
    if (!root) return bt_error_set(err, BT_EINPUT, "%s: invalid JSON near byte %ld", path, at);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *mt = cJSON_IsObject(model) ? type_of(model) : "none";
    const cJSON *nz = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (!cJSON_IsObject(root)) {
        rc = refuse(&c, "top level is not an object", "", NULL);
    } else if (!strcmp(mt, "WordPiece")) {
        *kind = BT_TOK_WORDPIECE;
        memset(wp, 0, sizeof *wp);
        for (int r = 0; r < BT_TOK_N_SPECIAL; r++) wp->special_id[r] = -1;
        rc = load_wordpiece(&c, model, wp);
    } else if (!strcmp(mt, "BPE")) {
        *kind = BT_TOK_BPE;
        memset(b, 0, sizeof *b);
        rc = load_bpe(&c, model, b);
    } else {
        rc = bt_error_set(err, BT_EINPUT, "%s: model type '%.40s' is not supported (WordPiece, BPE)", path, mt);
    }
    if (!rc) rc = load_normalizer(&c, nz, *kind, wp);
    if (!rc) rc = load_pre_tokenizer(&c, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), *kind, wp, tj);
    if (!rc) rc = load_post(&c, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), tj);
    if (!rc) rc = load_added(&c, root, *kind, wp, b, tj, nz && !cJSON_IsNull(nz));
    if (!rc) rc = set_roles(dir, *kind, wp, b, tj, err);
    if (!rc && *kind == BT_TOK_WORDPIECE && wp->special_id[BT_TOK_UNK] < 0)
        rc = refuse(&c, "WordPiece needs an unk_token", "", NULL);
    cJSON_Delete(root);
    if (rc) {
        if (*kind == BT_TOK_WORDPIECE) bt_wp_free(wp);
        if (*kind == BT_TOK_BPE) bt_bpe_free(b);
        bt_tj_free(tj);
    }
    return rc;
}

void bt_tj_free(bt_tj *tj) {
    bt_wp_table_free(&tj->added);
    free(tj->added_id);
    free(tj->added_flags);
    free(tj->buf);
    memset(tj, 0, sizeof *tj);
}

/* --- encoding --- */

/* Rust's char::is_whitespace (Unicode White_Space), which the library's lstrip/rstrip trim. */
static int rust_space(int32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static size_t skip_fwd(const uint8_t *s, size_t i, size_t end) {
    while (i < end) {
        int32_t cp;
        const utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(end - i), &cp);
        if (k <= 0 || !rust_space(cp)) break;
        i += (size_t)k;
    }
    return i;
}

static size_t skip_back(const uint8_t *s, size_t begin, size_t end) {
    while (end > begin) {
        size_t j = end - 1;
        while (j > begin && (s[j] & 0xC0) == 0x80) j--;
        int32_t cp;
        const utf8proc_ssize_t k = utf8proc_iterate(s + j, (utf8proc_ssize_t)(end - j), &cp);
        if (k <= 0 || !rust_space(cp)) break;
        end = j;
    }
    return end;
}

/* One split between added tokens through the model's pipeline. */
static int split(bt_tj *tj, int kind, bt_wordpiece *wp, bt_bpe *b, const char *s, size_t len, int *ids, int cap,
                 int *n, bt_error *err) {
    *n = 0;
    if (!len) return BT_OK; /* the library drops empty splits */
    if (kind == BT_TOK_WORDPIECE) return bt_wp_tokenize(wp, s, len, ids, cap, n, err);
    if (tj->prefix_space && s[0] != ' ') {
        if (len + 1 > tj->buf_cap) {
            char *q = bt_realloc(tj->buf, 2 * len + 2, 1, "tokenizer scratch", err);
            if (!q) return BT_EINTERNAL;
            tj->buf = q;
            tj->buf_cap = 2 * len + 2;
        }
        tj->buf[0] = ' ';
        memcpy(tj->buf + 1, s, len);
        s = tj->buf;
        len++;
    }
    return bt_bpe_tokenize(b, s, len, ids, cap, n, err);
}

int bt_tj_tokenize(bt_tj *tj, int kind, bt_wordpiece *wp, bt_bpe *b, const char *text, size_t len, int *ids, int cap,
                   int *n, bt_error *err) {
    *n = 0;
    const size_t bad = bt_tok_utf8_error(text, len);
    if (bad < len) return bt_error_set(err, BT_EINPUT, "invalid UTF-8 at byte %zu", bad);
    if (cap < 0) cap = 0;
    const uint8_t *s = (const uint8_t *)text;
    const bt_wp_table *t = &tj->added;
    size_t seg = 0, i = 0;
    int k = 0, m, rc;
    while (i < len && k < cap) {
        int best = -1;
        size_t l = 0;
        if (t->first[s[i]])
            for (int a = 0; a < t->n; a++) {
                const size_t tl = (size_t)t->len[a];
                if (tl > l && tl <= len - i && !memcmp(s + i, t->bytes + t->off[a], tl)) best = a, l = tl;
            }
        if (best < 0) {
            i++;
            continue;
        }
        size_t e = i;
        if (tj->added_flags[best] & BT_BPE_LSTRIP) e = skip_back(s, seg, e);
        if ((rc = split(tj, kind, wp, b, text + seg, e - seg, ids + k, cap - k, &m, err))) return rc;
        k += m;
        if (k < cap) ids[k++] = tj->added_id[best];
        i += l;
        if (tj->added_flags[best] & BT_BPE_RSTRIP) i = skip_fwd(s, i, len);
        seg = i;
    }
    if (seg < len && k < cap) {
        if ((rc = split(tj, kind, wp, b, text + seg, len - seg, ids + k, cap - k, &m, err))) return rc;
        k += m;
    }
    *n = k;
    return BT_OK;
}

int bt_tj_num_special(const bt_tj *tj, int pair) {
    if (!tj->has_template) return 0;
    const bt_tj_side *s = pair ? &tj->pair : &tj->single;
    int n = 0;
    for (int i = 0; i < s->n; i++) n += s->seq[i] < 0;
    return n;
}

int bt_tj_build(const bt_tj *tj, const int *a, int na, const int *b, int nb, int *ids, int *types) {
    int k = 0;
    if (!tj->has_template) {
        memcpy(ids, a, (size_t)na * sizeof *ids);
        if (b) memcpy(ids + na, b, (size_t)nb * sizeof *ids);
        k = na + (b ? nb : 0);
        if (types) memset(types, 0, (size_t)k * sizeof *types);
        return k;
    }
    const bt_tj_side *s = b ? &tj->pair : &tj->single;
    for (int i = 0; i < s->n; i++) {
        const int *src = s->seq[i] == 0 ? a : b;
        const int cnt = s->seq[i] < 0 ? 1 : s->seq[i] == 0 ? na : nb;
        for (int j = 0; j < cnt; j++) {
            if (types) types[k] = s->type[i];
            ids[k++] = s->seq[i] < 0 ? s->id[i] : src[j];
        }
    }
    return k;
}

const char *bt_tj_added_token(const bt_tj *tj, int id, size_t *len) {
    for (int k = 0; k < tj->added.n; k++)
        if (tj->added_id[k] == id) {
            if (len) *len = (size_t)tj->added.len[k];
            return tj->added.bytes + tj->added.off[k];
        }
    return NULL;
}

/* ---- the tokenizer.json kind of bt_tok (tok_ops.h): the WordPiece or byte-level BPE model it
 * holds, with the added tokens and the template in front ---- */

typedef struct {
    int kind; /* BT_TOK_WORDPIECE or BT_TOK_BPE: which of wp and bpe is loaded */
    bt_wordpiece wp;
    bt_bpe bpe;
    bt_tj tj;
} tokjson;

/* The kind the model is, for what tokenizer.json adds nothing to. */
static const bt_tok_ops *model_ops(const tokjson *t) {
    return t->kind == BT_TOK_WORDPIECE ? &bt_tok_wordpiece_ops : &bt_tok_byte_bpe_ops;
}
static const void *model_state(const tokjson *t) {
    return t->kind == BT_TOK_WORDPIECE ? (const void *)&t->wp : (const void *)&t->bpe;
}

static int tj_claims(const char *dir) { return bt_tok_has_file(dir, "tokenizer.json"); }

static int tj_load(void *s, const char *dir, bt_error *err) {
    tokjson *t = s;
    return bt_tj_load(dir, &t->kind, &t->wp, &t->bpe, &t->tj, err);
}

static void tj_free(void *s) {
    tokjson *t = s;
    bt_wp_free(&t->wp);
    bt_bpe_free(&t->bpe);
    bt_tj_free(&t->tj);
}

static int tj_kind(const void *s) { return ((const tokjson *)s)->kind; }
static const char *tj_name(const void *s) {
    return tj_kind(s) == BT_TOK_WORDPIECE ? "WordPiece (tokenizer.json)" : "byte-level BPE (tokenizer.json)";
}
static int tj_vocab_size(const void *s) { return model_ops(s)->vocab_size(model_state(s)); }
static long tj_max_length(const void *s) { return model_ops(s)->model_max_length(model_state(s)); }
static int tj_special_id(const void *s, int role) { return model_ops(s)->special_id(model_state(s), role); }
static int tj_num_special(const void *s, int pair) { return bt_tj_num_special(&((const tokjson *)s)->tj, pair); }

static const char *tj_id_to_token(const void *s, int id, size_t *len) {
    const char *added = bt_tj_added_token(&((const tokjson *)s)->tj, id, len);
    return added ? added : model_ops(s)->id_to_token(model_state(s), id, len);
}

static int tj_token_to_id(const void *s, const char *token, size_t len) {
    const bt_tj *tj = &((const tokjson *)s)->tj;
    const int added = bt_wp_table_find(&tj->added, token, len);
    return added >= 0 ? tj->added_id[added] : model_ops(s)->token_to_id(model_state(s), token, len);
}

static int tj_tokenize(void *s, const char *text, size_t len, int *ids, int cap, int *n, bt_error *err) {
    tokjson *t = s;
    return bt_tj_tokenize(&t->tj, t->kind, &t->wp, &t->bpe, text, len, ids, cap, n, err);
}

static int tj_build(const void *s, const int *a, int na, const int *b, int nb, int *ids, int *types) {
    const int k = bt_tj_build(&((const tokjson *)s)->tj, a, na, b, nb, ids, types);
    /* byte-level BPE models take no token types (transformers' tokenizers return none) */
    if (types && tj_kind(s) == BT_TOK_BPE) memset(types, 0, (size_t)k * sizeof *types);
    return k;
}

const bt_tok_ops bt_tok_json_ops = {
    .state_size = sizeof(tokjson), .claims = tj_claims, .load = tj_load, .free = tj_free, .kind = tj_kind,
    .name = tj_name, .vocab_size = tj_vocab_size, .model_max_length = tj_max_length, .special_id = tj_special_id,
    .num_special = tj_num_special, .id_to_token = tj_id_to_token, .token_to_id = tj_token_to_id,
    .tokenize = tj_tokenize, .build = tj_build,
};
