/* OpenAI GPT's BPE (openai_bpe.h). The merge loop is the one of OpenAIGPTTokenizer.bpe: take the
 * adjacent pair of lowest rank, merge all its occurrences left to right, repeat. As in bpe.c a
 * heap of candidate pairs makes that O(n log n) per word: all candidates of the lowest rank are
 * taken out together and merged in position order before pairs made by those merges compete.
 *
 * Unlike GPT-2's byte-level BPE, symbols are characters, and a merge's sides need not be in
 * the vocabulary: symbols are ids in a table of every string merges.txt names or makes, and
 * each symbol also keeps its byte span in the word, so that the final lookup in vocab.json
 * (or <unk>) works for symbols no merge knows. The word end "</w>" is written right after the
 * word's bytes, so the last symbol's span simply includes it. */
#include "bertology/common.h"
#include "openai_bpe.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

#include "textio.h"
#include "tok_ops.h"
#include "vocab_json.h"

#define MAX_ID BT_VOCAB_MAX_ID

static const char *json_string(const cJSON *root, const char *key) {
    const cJSON *v = root ? cJSON_GetObjectItemCaseSensitive(root, key) : NULL;
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content"); /* AddedToken */
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int bt_openai_bpe_detect(const char *dir) {
    char path[4096];
    bt_error e = {0};
    cJSON *tc = NULL, *cfg = NULL;
    int yes = 0;
    if (bt_text_read_json(dir, "tokenizer_config.json", 1, &tc, path, sizeof path, &e) == BT_OK && tc) {
        const char *cls = json_string(tc, "tokenizer_class");
        if (cls) {
            yes = !strcmp(cls, "OpenAIGPTTokenizer") || !strcmp(cls, "OpenAIGPTTokenizerFast");
            cJSON_Delete(tc);
            return yes;
        }
    }
    cJSON_Delete(tc);
    if (bt_text_read_json(dir, "config.json", 1, &cfg, path, sizeof path, &e) == BT_OK && cfg) {
        const char *mt = json_string(cfg, "model_type");
        yes = mt && !strcmp(mt, "openai-gpt");
    }
    cJSON_Delete(cfg);
    return yes;
}

static inline uint64_t mix64(uint64_t x) { /* splitmix64's finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline uint64_t merge_key(int32_t l, int32_t r) { return ((uint64_t)(uint32_t)l << 32 | (uint32_t)r) + 1; }

static size_t merge_slot(const bt_openai_bpe *g, uint64_t key) {
    const size_t mask = g->n_slots - 1;
    size_t j = (size_t)mix64(key) & mask;
    while (g->merge[j].key && g->merge[j].key != key) j = (j + 1) & mask;
    return j;
}

static const bt_openai_merge *merge_find(const bt_openai_bpe *g, int32_t l, int32_t r) {
    if (l < 0 || r < 0 || !g->n_slots) return NULL;
    const bt_openai_merge *m = &g->merge[merge_slot(g, merge_key(l, r))];
    return m->key ? m : NULL;
}

static int sym_intern(bt_wp_table *t, const char *s, size_t len) {
    int k = bt_wp_table_find(t, s, len);
    return k >= 0 ? k : bt_wp_table_add(t, s, len);
}

/* Python's str.isspace(), which merge.split() splits on. */
static int py_isspace(int32_t c) {
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
    if (c == 0x85) return 1;
    const utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

/* The whitespace-separated fields of s[0..n): up to 3 spans (a third means "not a pair"). */
static int fields(const char *s, size_t n, size_t fb[3], size_t fe[3]) {
    int k = 0;
    size_t i = 0;
    while (i < n && k < 3) {
        int32_t cp;
        utf8proc_ssize_t l = utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (l <= 0) return -1;
        if (py_isspace(cp)) {
            i += (size_t)l;
            continue;
        }
        fb[k] = i;
        while (i < n) {
            l = utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
            if (l <= 0) return -1;
            if (py_isspace(cp)) break;
            i += (size_t)l;
        }
        fe[k++] = i;
    }
    return k;
}

/* merges.txt as OpenAIGPTTokenizer reads it: text mode (\r\n and \r end lines too), split at
 * "\n", the first line and the last piece dropped (whatever they hold), each line split on
 * whitespace; the rank is the line's position, and only two-field lines make a merge. */
static int read_merges(const char *dir, bt_openai_bpe *g, bt_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    char *buf;
    size_t len;
    int rc = bt_read_file(path, BT_TEXT_FILE_MAX, &buf, &len, err);
    if (rc) return rc;
    const size_t bad = bt_tok_utf8_error(buf, len);
    if (bad < len) {
        free(buf);
        return bt_error_set(err, BT_EINPUT, "%s: invalid UTF-8 at byte %zu", path, bad);
    }
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n' || buf[i] == '\r';
    size_t slots = 16;
    while (slots < 2 * lines) slots *= 2;
    g->merge = bt_calloc(slots, sizeof *g->merge, "the merge table", NULL);
    char *cat = bt_malloc(len + 1, 1, "a merge", NULL);
    if (!g->merge || !cat) {
        free(buf);
        free(cat);
        return bt_error_set(err, BT_EINTERNAL, "out of memory");
    }
    g->n_slots = slots;
    long line = 0;
    for (size_t i = 0; i <= len && !rc;) {
        size_t j = i;
        while (j < len && buf[j] != '\n' && buf[j] != '\r') j++;
        const int last = j >= len; /* the piece after the final newline: dropped */
        const size_t next = j < len && buf[j] == '\r' && j + 1 < len && buf[j + 1] == '\n' ? j + 2 : j + 1;
        const char *s = buf + i;
        const size_t n = j - i;
        i = next;
        if (last) break;
        if (line++ == 0) continue;
        size_t fb[3], fe[3];
        if (fields(s, n, fb, fe) != 2) continue;
        const size_t nl = fe[0] - fb[0], nr = fe[1] - fb[1];
        memcpy(cat, s + fb[0], nl);
        memcpy(cat + nl, s + fb[1], nr);
        const int l = sym_intern(&g->sym, s + fb[0], nl), r = sym_intern(&g->sym, s + fb[1], nr),
                  m = sym_intern(&g->sym, cat, nl + nr);
        if (l < 0 || r < 0 || m < 0) {
            rc = bt_error_set(err, BT_EINTERNAL, "out of memory");
            break;
        }
        /* a pair listed twice keeps its later rank, as dict(zip(merges, ranks)) */
        const uint64_t key = merge_key(l, r);
        bt_openai_merge *e = &g->merge[merge_slot(g, key)];
        e->key = key;
        e->rank = (int32_t)(line - 2);
        e->id = m;
        g->n_merges++;
    }
    free(cat);
    free(buf);
    return rc;
}

static int read_vocab(const char *dir, bt_openai_bpe *g, bt_error *err) {
    return bt_vocab_json_read(dir, &g->vocab, &g->entry_id, &g->id_entry, &g->n_ids, err);
}

static int vocab_id(const bt_openai_bpe *g, const char *s, size_t len) {
    const int k = bt_wp_table_find(&g->vocab, s, len);
    return k >= 0 ? g->entry_id[k] : -1;
}

/* Scratch growth on the hot path: the caller words the failure (g->failed). */
static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    return bt_grow(p, cap, need < 64 ? 64 : need, elem, "BPE scratch", NULL) ? -1 : 0;
}

static void push_pair(bt_openai_bpe *g, size_t *nh, int32_t l) {
    const int32_t r = g->next[l];
    if (r < 0) return;
    const bt_openai_merge *m = merge_find(g, g->sid[l], g->sid[r]);
    if (m) bt_bpe_heap_push(g->heap, nh, (bt_openai_cand){(uint64_t)(uint32_t)m->rank << 32 | (uint32_t)l, g->sid[l], g->sid[r]});
}

static int grow_nodes(bt_openai_bpe *g, size_t n) {
    if (n <= g->node_cap) return 0;
    size_t c = g->node_cap ? g->node_cap : 64;
    while (c < n) c *= 2;
    int32_t **arrs[5] = {&g->sid, &g->next, &g->prev, &g->beg, &g->end};
    for (int k = 0; k < 5; k++) {
        int32_t *q = bt_realloc(*arrs[k], c, sizeof *q, "BPE scratch", NULL);
        if (!q) return -1;
        *arrs[k] = q;
    }
    bt_openai_cand *h = bt_realloc(g->heap, 3 * c, sizeof *h, "BPE scratch", NULL);
    if (h) g->heap = h;
    bt_openai_cand *b = h ? bt_realloc(g->batch, 3 * c, sizeof *b, "BPE scratch", NULL) : NULL;
    if (b) g->batch = b;
    if (!h || !b) return -1;
    g->node_cap = c;
    g->heap_cap = 3 * c;
    return 0;
}

/* OpenAIGPTTokenizer.bpe on one word of n code points, then each symbol through vocab.json. */
static int bpe_word(void *ctx, const int32_t *cp, size_t n, int *ids, int cap) {
    bt_openai_bpe *g = ctx;
    if (!n || g->failed || n > (size_t)INT32_MAX / 8) return 0;
    if (grow((void **)&g->u8, &g->u8_cap, 4 * n + 5, 1) || grow_nodes(g, n)) {
        g->failed = 1;
        return 0;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        g->beg[i] = (int32_t)k;
        k += (size_t)utf8proc_encode_char(cp[i], g->u8 + k);
        g->end[i] = (int32_t)k;
        g->prev[i] = (int32_t)i - 1;
        g->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    memcpy(g->u8 + k, "</w>", 4);
    g->end[n - 1] += 4;
    for (size_t i = 0; i < n; i++)
        g->sid[i] = bt_wp_table_find(&g->sym, (const char *)g->u8 + g->beg[i], (size_t)(g->end[i] - g->beg[i]));
    size_t nh = 0;
    for (size_t i = 0; i + 1 < n; i++) push_pair(g, &nh, (int32_t)i);
    while (nh) {
        const uint64_t rank = g->heap[0].key >> 32;
        size_t nb = 0;
        while (nh && g->heap[0].key >> 32 == rank) g->batch[nb++] = bt_bpe_heap_pop(g->heap, &nh);
        for (size_t b = 0; b < nb; b++) {
            const bt_openai_cand c = g->batch[b];
            const int32_t l = (int32_t)(uint32_t)c.key, r = g->next[l];
            if (g->sid[l] != c.left || r < 0 || g->sid[r] != c.right) continue; /* stale */
            g->sid[l] = merge_find(g, c.left, c.right)->id;
            g->end[l] = g->end[r];
            g->sid[r] = -2;
            g->next[l] = g->next[r];
            if (g->next[r] >= 0) g->prev[g->next[r]] = l;
            if (g->prev[l] >= 0) push_pair(g, &nh, g->prev[l]);
            push_pair(g, &nh, l);
        }
    }
    int out = 0;
    for (int32_t i = 0; i >= 0 && out < cap; i = g->next[i]) {
        const char *s = (const char *)g->u8 + g->beg[i];
        const size_t len = (size_t)(g->end[i] - g->beg[i]);
        int id = vocab_id(g, s, len);
        if (id < 0) id = g->unk;
        if (id < 0) {
            g->failed = 2;
            snprintf(g->missing, sizeof g->missing, "%.*s", (int)(len > 60 ? 60 : len), s);
            return out;
        }
        ids[out++] = id;
    }
    return out;
}

int bt_openai_bpe_load(const char *dir, bt_openai_bpe *g, bt_error *err) {
    memset(g, 0, sizeof *g);
    snprintf(g->unk_token, sizeof g->unk_token, "<unk>");
    char path[4096];
    int rc = BT_OK;
    /* unk_token and model_max_length of tokenizer_config.json, special_tokens_map.json last */
    static const char *const files[2] = {"tokenizer_config.json", "special_tokens_map.json"};
    for (int f = 0; f < 2 && !rc; f++) {
        cJSON *root;
        if ((rc = bt_text_read_json(dir, files[f], 1, &root, path, sizeof path, err)) || !root) break;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "unk_token");
        const char *s = json_string(root, "unk_token");
        if (v && !cJSON_IsNull(v)) {
            if (!s || !s[0] || strlen(s) >= sizeof g->unk_token)
                rc = bt_error_set(err, BT_EINPUT, "%s: field 'unk_token' must be a short non-empty string", path);
            else
                snprintf(g->unk_token, sizeof g->unk_token, "%s", s);
        }
        v = cJSON_GetObjectItemCaseSensitive(root, "model_max_length");
        if (!rc && f == 0 && v && !cJSON_IsNull(v)) {
            if (!cJSON_IsNumber(v) || v->valuedouble < 1)
                rc = bt_error_set(err, BT_EINPUT, "%s: field 'model_max_length' must be a positive number", path);
            else
                g->model_max_length = v->valuedouble >= (double)INT_MAX ? INT_MAX : (long)v->valuedouble;
        }
        cJSON_Delete(root);
    }
    snprintf(g->vocab_path, sizeof g->vocab_path, "%s/vocab.json", dir);
    if (!rc) rc = read_vocab(dir, g, err);
    if (!rc) rc = read_merges(dir, g, err);
    if (!rc) {
        g->unk = vocab_id(g, g->unk_token, strlen(g->unk_token));
        /* BasicTokenizer(do_lower_case=True): strip_accents None follows the lowercasing */
        g->basic.do_lower = 1;
        g->basic.strip = 1;
        g->basic.chinese = 1;
        g->basic.basic = 1;
        for (int r = 0; r < BT_TOK_N_SPECIAL; r++) g->basic.special_id[r] = -1;
        g->basic.word_fn = bpe_word;
        g->basic.word_ctx = g;
    }
    if (rc) bt_openai_bpe_free(g);
    return rc;
}

void bt_openai_bpe_free(bt_openai_bpe *g) {
    bt_wp_table_free(&g->vocab);
    bt_wp_table_free(&g->sym);
    bt_wp_free(&g->basic);
    free(g->entry_id);
    free(g->id_entry);
    free(g->merge);
    free(g->sid);
    free(g->next);
    free(g->prev);
    free(g->beg);
    free(g->end);
    free(g->heap);
    free(g->batch);
    free(g->u8);
    memset(g, 0, sizeof *g);
}

/* The unk token where the text, lowercased, spells it: PreTrainedTokenizer.tokenize lowercases
 * the text one character at a time around special tokens (do_lower_case), then cuts the added
 * tokens out. U+0130 lowercases to two characters and never spells a token here. */
static size_t unk_at(const bt_openai_bpe *g, const char *s, size_t len) {
    if (g->unk < 0) return 0;
    const uint8_t *u = (const uint8_t *)g->unk_token, *t = (const uint8_t *)s;
    const size_t un = strlen(g->unk_token);
    size_t i = 0, j = 0;
    while (j < un) {
        int32_t a, b;
        if (i >= len) return 0;
        utf8proc_ssize_t ka = utf8proc_iterate(t + i, (utf8proc_ssize_t)(len - i), &a);
        utf8proc_ssize_t kb = utf8proc_iterate(u + j, (utf8proc_ssize_t)(un - j), &b);
        if (ka <= 0 || kb <= 0 || a == 0x130 || utf8proc_tolower(a) != b) return 0;
        i += (size_t)ka;
        j += (size_t)kb;
    }
    return i;
}

int bt_openai_bpe_tokenize(bt_openai_bpe *g, const char *text, size_t len, int *ids, int cap, int *n, bt_error *err) {
    *n = 0;
    const size_t bad = bt_tok_utf8_error(text, len);
    if (bad < len) return bt_error_set(err, BT_EINPUT, "invalid UTF-8 at byte %zu", bad);
    if (cap < 0) cap = 0;
    g->failed = 0;
    int k = 0, rc = BT_OK;
    size_t seg = 0, i = 0;
    while (i <= len && k < cap && !rc) {
        const size_t u = i < len ? unk_at(g, text + i, len - i) : 0;
        if (i < len && !u) {
            i++;
            continue;
        }
        if (i > seg) {
            int m = 0;
            rc = bt_wp_tokenize(&g->basic, text + seg, i - seg, ids + k, cap - k, &m, err);
            k += m;
        }
        if (u && k < cap) ids[k++] = g->unk;
        i += u ? u : 1;
        seg = i;
    }
    if (!rc && g->failed == 1) rc = bt_error_set(err, BT_EINTERNAL, "tokenizer: out of memory");
    if (!rc && g->failed == 2)
        rc = bt_error_set(err, BT_EINPUT, "'%s' is not in %s, which has no unk token '%s'", g->missing,
                          g->vocab_path, g->unk_token);
    *n = rc ? 0 : k;
    return rc;
}

const char *bt_openai_bpe_id_to_token(const bt_openai_bpe *g, int id, size_t *len) {
    const int k = id >= 0 && id < g->n_ids ? g->id_entry[id] : -1;
    if (k < 0) return NULL;
    if (len) *len = (size_t)g->vocab.len[k];
    return g->vocab.bytes + g->vocab.off[k];
}

int bt_openai_bpe_token_to_id(const bt_openai_bpe *g, const char *token, size_t len) { return vocab_id(g, token, len); }

/* ---- the OpenAI GPT kind of bt_tok (tok_ops.h) ---- */

static int oa_claims(const char *dir) {
    return bt_tok_has_file(dir, "vocab.json") && bt_tok_has_file(dir, "merges.txt") && bt_openai_bpe_detect(dir);
}
static int oa_load(void *s, const char *dir, bt_error *err) { return bt_openai_bpe_load(dir, s, err); }
static void oa_free(void *s) { bt_openai_bpe_free(s); }
static int oa_kind(const void *s) { return BT_TOK_OPENAI_BPE; }
static const char *oa_name(const void *s) { return "BPE with </w> word ends (OpenAI GPT)"; }
static int oa_vocab_size(const void *s) { return ((const bt_openai_bpe *)s)->n_ids; }
static long oa_max_length(const void *s) { return ((const bt_openai_bpe *)s)->model_max_length; }
static int oa_special_id(const void *s, int role) { return role == BT_TOK_UNK ? ((const bt_openai_bpe *)s)->unk : -1; }
static int oa_num_special(const void *s, int pair) { return 0; }
static const char *oa_id_to_token(const void *s, int id, size_t *len) { return bt_openai_bpe_id_to_token(s, id, len); }
static int oa_token_to_id(const void *s, const char *token, size_t len) { return bt_openai_bpe_token_to_id(s, token, len); }

static int oa_tokenize(void *s, const char *text, size_t len, int *ids, int cap, int *n, bt_error *err) {
    return bt_openai_bpe_tokenize(s, text, len, ids, cap, n, err);
}

/* OpenAIGPTTokenizer adds nothing: a (b), token types 0 */
static int oa_build(const void *s, const int *a, int na, const int *b, int nb, int *ids, int *types) {
    return bt_tok_build_plain(a, na, b, nb, ids, types);
}

const bt_tok_ops bt_tok_openai_bpe_ops = {
    .state_size = sizeof(bt_openai_bpe), .claims = oa_claims, .load = oa_load, .free = oa_free, .kind = oa_kind,
    .name = oa_name, .vocab_size = oa_vocab_size, .model_max_length = oa_max_length, .special_id = oa_special_id,
    .num_special = oa_num_special, .id_to_token = oa_id_to_token, .token_to_id = oa_token_to_id,
    .tokenize = oa_tokenize, .build = oa_build,
};
