/* Byte-level BPE tokenization with the semantics of transformers' slow GPT2Tokenizer /
 * RobertaTokenizer (and, for plain text, of openai/gpt-2's encoder.py):
 *
 *   PreTrainedTokenizer.tokenize: add_prefix_space puts one space before the text; added
 *     tokens (<|endoftext|>, <s>, <mask>, ...) are cut out of the raw text and kept whole, and
 *     one with lstrip / rstrip swallows the whitespace next to it;
 *   _tokenize: the pre-tokenisation regex (bpe_split.c) cuts each remaining stretch into
 *     pieces; each piece's UTF-8 bytes become byte symbols (bytes_to_unicode), merged by BPE.
 *
 * BPE as in encoder.py: repeatedly take the adjacent pair of lowest merge rank and merge all
 * its occurrences left to right. Here a heap of candidate pairs makes that O(n log n) per
 * piece (a long run of letters or digits in bad input costs no quadratic time): all heap
 * entries of the lowest rank are taken out together and merged in position order, and only
 * then can pairs made by those merges compete. Symbols are vocabulary ids; the loader checked
 * that every merge and its result are in the vocabulary. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "bertology/common.h"
#include "textio.h"
#include "bpe.h"

typedef struct {
    int *ids;
    int cap, n;
} sink;

static inline void emit(sink *o, int id) {
    if (o->n < o->cap) o->ids[o->n++] = id;
}
static inline int full(const sink *o) { return o->n >= o->cap; }

/* Scratch growth on the hot path: the caller words the failure (b->failed, its own message). */
static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    return bt_grow(p, cap, need < 64 ? 64 : need, elem, "BPE scratch", NULL) ? -1 : 0;
}

static inline uint64_t mix64(uint64_t x) { /* splitmix64's finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t bt_bpe_merge_key(int32_t left, int32_t right) {
    return ((uint64_t)(uint32_t)left << 32 | (uint32_t)right) + 1;
}

size_t bt_bpe_merge_slot(const bt_bpe *b, uint64_t key) {
    const size_t mask = b->n_merge_slots - 1;
    size_t j = (size_t)mix64(key) & mask;
    while (b->merge[j].key && b->merge[j].key != key) j = (j + 1) & mask;
    return j;
}

static inline const bt_bpe_merge *merge_find(const bt_bpe *b, int32_t l, int32_t r) {
    if (l < 0 || r < 0 || !b->n_merge_slots) return NULL;
    const bt_bpe_merge *m = &b->merge[bt_bpe_merge_slot(b, bt_bpe_merge_key(l, r))];
    return m->key ? m : NULL;
}

/* Pushes the pair starting at node l if it is a merge. */
static inline void push_pair(bt_bpe *b, size_t *nh, int32_t l) {
    const int32_t r = b->next[l];
    if (r < 0) return;
    const bt_bpe_merge *m = merge_find(b, b->sym[l], b->sym[r]);
    if (m) bt_bpe_heap_push(b->heap, nh, (bt_bpe_cand){(uint64_t)m->rank << 32 | (uint32_t)l,
                                                b->sym[l], b->sym[r]});
}

#define DEAD (-2)

/* --- one piece --- */

static inline uint32_t fnv1a(const uint8_t *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
    return h;
}

/* Longer than 80 lines on purpose: the per-piece hot path (cache probe, merge heap, cache fill)
 * shares a dozen locals between its steps; split, they would be passed around by pointer. */
static int bpe_piece(bt_bpe *b, const uint8_t *s, size_t n, sink *o) {
    if (n == 1) {
        const int id = b->byte_id[s[0]];
        emit(o, id >= 0 ? id : b->unk);
        return 0;
    }
    bt_bpe_cache_entry *ce = NULL;
    uint32_t h = 0;
    if (n <= BT_BPE_CACHE_BYTES) {
        /* two ways per set, the most recently used first */
        h = fnv1a(s, n);
        ce = &b->cache[2 * (h & (BT_BPE_CACHE_SLOTS / 2 - 1))];
        for (int w = 0; w < 2; w++)
            if (ce[w].len == n && ce[w].hash == h && !memcmp(ce[w].bytes, s, n)) {
                if (w) {
                    const bt_bpe_cache_entry t = ce[0];
                    ce[0] = ce[1];
                    ce[1] = t;
                }
                for (int k = 0; k < ce->n_ids; k++) emit(o, ce->ids[k]);
                return 0;
            }
    }
    if (n > (size_t)INT32_MAX / 4 || grow((void **)&b->sym, &b->node_cap, n, sizeof *b->sym))
        return -1;
    /* next / prev / heap / batch follow node_cap; reallocated together when it grew */
    if (b->heap_cap < 3 * b->node_cap) {
        int32_t *nx = bt_realloc(b->next, b->node_cap, sizeof *nx, "BPE scratch", NULL);
        if (nx) b->next = nx;
        int32_t *pv = bt_realloc(b->prev, b->node_cap, sizeof *pv, "BPE scratch", NULL);
        if (pv) b->prev = pv;
        bt_bpe_cand *hp = bt_realloc(b->heap, 3 * b->node_cap, sizeof *hp, "BPE scratch", NULL);
        if (hp) b->heap = hp;
        bt_bpe_cand *bt = bt_realloc(b->batch, 3 * b->node_cap, sizeof *bt, "BPE scratch", NULL);
        if (bt) b->batch = bt;
        if (!nx || !pv || !hp || !bt) return -1;
        b->heap_cap = 3 * b->node_cap;
    }
    int32_t *sym = b->sym, *next = b->next, *prev = b->prev;
    for (size_t i = 0; i < n; i++) {
        sym[i] = b->byte_id[s[i]];
        prev[i] = (int32_t)i - 1;
        next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    size_t nh = 0;
    for (size_t i = 0; i + 1 < n; i++) push_pair(b, &nh, (int32_t)i);

    while (nh) {
        /* every candidate of the lowest rank, leftmost first (one pass of encoder.py) */
        const uint64_t rank = b->heap[0].key >> 32;
        size_t nb = 0;
        while (nh && b->heap[0].key >> 32 == rank) b->batch[nb++] = bt_bpe_heap_pop(b->heap, &nh);
        for (size_t k = 0; k < nb; k++) {
            const bt_bpe_cand c = b->batch[k];
            const int32_t l = (int32_t)(uint32_t)c.key, r = next[l];
            /* stale: the left symbol was merged away or changed, or so was its neighbour */
            if (sym[l] != c.left || r < 0 || sym[r] != c.right) continue;
            sym[l] = merge_find(b, c.left, c.right)->id;
            sym[r] = DEAD;
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            if (prev[l] >= 0) push_pair(b, &nh, prev[l]);
            push_pair(b, &nh, l);
        }
    }

    int out[BT_BPE_CACHE_IDS], n_out = 0;
    for (int32_t i = 0; i >= 0; i = next[i]) {
        const int id = sym[i] >= 0 ? sym[i] : b->unk;
        emit(o, id);
        if (n_out < BT_BPE_CACHE_IDS) out[n_out] = id;
        n_out++;
    }
    if (ce && n_out <= BT_BPE_CACHE_IDS) {
        ce[1] = ce[0];
        ce->hash = h;
        ce->len = (uint8_t)n;
        ce->n_ids = (uint8_t)n_out;
        memcpy(ce->bytes, s, n);
        for (int k = 0; k < n_out; k++) ce->ids[k] = out[k];
    }
    return 0;
}

/* Pre-tokenises a stretch of text between added tokens and encodes each piece. */
static int stretch(bt_bpe *b, const uint8_t *s, size_t len, sink *o) {
    for (size_t i = 0; i < len && !full(o);) {
        const size_t j = bt_bpe_piece_end(s, len, i);
        if (bpe_piece(b, s + i, j - i, o)) return -1;
        i = j;
    }
    return 0;
}

/* --- added tokens --- */

/* Python's str.isspace(), which lstrip()/rstrip() of added tokens strip (unlike the regex's
 * \s it includes U+001C..U+001F). */
static inline int py_space(int32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

static size_t skip_space_fwd(const uint8_t *s, size_t i, size_t end) {
    while (i < end) {
        int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(end - i), &cp);
        if (k <= 0 || !py_space(cp)) break;
        i += (size_t)k;
    }
    return i;
}

static size_t skip_space_back(const uint8_t *s, size_t begin, size_t end) {
    while (end > begin) {
        size_t j = end - 1;
        while (j > begin && (s[j] & 0xC0) == 0x80) j--;
        int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(s + j, (utf8proc_ssize_t)(end - j), &cp);
        if (k <= 0 || !py_space(cp)) break;
        end = j;
    }
    return end;
}

/* The added token at s[0..len), longest first (HF's trie); its index in b->added, or -1. */
static int added_at(const bt_bpe *b, const uint8_t *s, size_t len, size_t *l) {
    const bt_wp_table *t = &b->added;
    int best = -1;
    *l = 0;
    for (int k = 0; k < t->n; k++) {
        const size_t tl = (size_t)t->len[k];
        if (tl > *l && tl <= len && !memcmp(s, t->bytes + t->off[k], tl)) {
            best = k;
            *l = tl;
        }
    }
    return best;
}

int bt_bpe_tokenize(bt_bpe *b, const char *text, size_t len, int *ids, int cap, int *n,
                    bt_error *err) {
    *n = 0;
    const uint8_t *s = (const uint8_t *)text;
    /* Validate everything first, so that the verdict on a text does not depend on cap. */
    const size_t bad = bt_tok_utf8_error(text, len);
    if (bad < len) return bt_error_set(err, BT_EINPUT, "invalid UTF-8 at byte %zu", bad);
    if (b->add_prefix_space) {
        if (len == SIZE_MAX || grow((void **)&b->text, &b->text_cap, len + 1, 1))
            return bt_error_set(err, BT_EINTERNAL, "tokenizer: out of memory");
        b->text[0] = ' ';
        if (len) memcpy(b->text + 1, text, len);
        s = (const uint8_t *)b->text;
        len++;
    }
    sink o = {ids, cap > 0 ? cap : 0, 0};
    size_t seg = 0, i = 0;
    int prev_flags = 0;
    while (i < len && !full(&o)) {
        size_t l = 0;
        const int k = b->added.first[s[i]] ? added_at(b, s + i, len - i, &l) : -1;
        if (k < 0) {
            i++;
            continue;
        }
        size_t a = seg, e = i;
        if (prev_flags & BT_BPE_RSTRIP) a = skip_space_fwd(s, a, e);
        if (b->added_flags[k] & BT_BPE_LSTRIP) e = skip_space_back(s, a, e);
        if (e > a && stretch(b, s + a, e - a, &o))
            return bt_error_set(err, BT_EINTERNAL, "tokenizer: out of memory");
        emit(&o, b->added_id[k]);
        prev_flags = b->added_flags[k];
        i += l;
        seg = i;
    }
    if (seg < len && !full(&o)) {
        size_t a = seg;
        if (prev_flags & BT_BPE_RSTRIP) a = skip_space_fwd(s, a, len);
        if (a < len && stretch(b, s + a, len - a, &o))
            return bt_error_set(err, BT_EINTERNAL, "tokenizer: out of memory");
    }
    *n = o.n;
    return BT_OK;
}

const char *bt_bpe_id_to_token(const bt_bpe *b, int id, size_t *len) {
    if (id < 0 || id >= b->n_ids) return NULL;
    /* an added token's id wins, as in HF's convert_ids_to_tokens */
    for (int k = 0; k < b->added.n; k++)
        if (b->added_id[k] == id) {
            if (len) *len = (size_t)b->added.len[k];
            return b->added.bytes + b->added.off[k];
        }
    const int e = b->id_entry[id];
    if (e < 0) return NULL;
    if (len) *len = (size_t)b->vocab.len[e];
    return b->vocab.bytes + b->vocab.off[e];
}

int bt_bpe_token_to_id(const bt_bpe *b, const char *token, size_t len) {
    int k = bt_wp_table_find(&b->added, token, len);
    if (k >= 0) return b->added_id[k];
    k = bt_wp_table_find(&b->vocab, token, len);
    return k >= 0 ? b->entry_id[k] : -1;
}
