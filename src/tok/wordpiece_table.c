/* String -> id hash table for vocabularies (open addressing, linear probing, FNV-1a). */
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "wordpiece.h"

#define FNV_BASIS 2166136261u
#define FNV_PRIME 16777619u

static inline uint32_t fnv_more(uint32_t h, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)s[i]) * FNV_PRIME;
    return h;
}

/* The continuation hash starts from the state after "##" so that lookups of "##" + piece need
 * no copy of the piece. */
static uint32_t fnv_cont_basis(void) { return fnv_more(FNV_BASIS, "##", 2); }

static int rehash(bt_wp_table *t, size_t n_slots) {
    int *slot = bt_malloc(n_slots, sizeof *slot, "a string table", NULL);
    uint32_t *hash = bt_malloc(n_slots, sizeof *hash, "a string table", NULL);
    if (!slot || !hash) {
        free(slot);
        free(hash);
        return -1;
    }
    for (size_t i = 0; i < n_slots; i++) slot[i] = -1;
    for (size_t i = 0; i < t->n_slots; i++) {
        if (t->slot[i] < 0) continue;
        size_t j = t->slot_hash[i] & (n_slots - 1);
        while (slot[j] >= 0) j = (j + 1) & (n_slots - 1);
        slot[j] = t->slot[i];
        hash[j] = t->slot_hash[i];
    }
    free(t->slot);
    free(t->slot_hash);
    t->slot = slot;
    t->slot_hash = hash;
    t->n_slots = n_slots;
    return 0;
}

/* Slot holding s, or the empty slot where it would go. */
static size_t probe(const bt_wp_table *t, uint32_t h, const char *prefix, size_t plen,
                    const char *s, size_t len) {
    size_t j = h & (t->n_slots - 1);
    for (;;) {
        int id = t->slot[j];
        if (id < 0) return j;
        if (t->slot_hash[j] == h && (size_t)t->len[id] == plen + len) {
            const char *k = t->bytes + t->off[id];
            if (!memcmp(k, prefix, plen) && !memcmp(k + plen, s, len)) return j;
        }
        j = (j + 1) & (t->n_slots - 1);
    }
}

int bt_wp_table_add(bt_wp_table *t, const char *s, size_t len) {
    if (len > (size_t)1 << 30 || t->n == (1 << 30)) return -1;
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        size_t *off = bt_realloc(t->off, (size_t)cap, sizeof *off, "a string table", NULL);
        if (!off) return -1;
        t->off = off;
        int *l = bt_realloc(t->len, (size_t)cap, sizeof *l, "a string table", NULL);
        if (!l) return -1;
        t->len = l;
        t->cap = cap;
    }
    if (t->n_bytes + len + 1 > t->bytes_cap) {
        size_t cap = t->bytes_cap ? 2 * t->bytes_cap : 4096;
        while (cap < t->n_bytes + len + 1) cap *= 2;
        char *b = bt_realloc(t->bytes, cap, 1, "a string table", NULL);
        if (!b) return -1;
        t->bytes = b;
        t->bytes_cap = cap;
    }
    if (2 * ((size_t)t->n + 1) > t->n_slots && rehash(t, t->n_slots ? 2 * t->n_slots : 128))
        return -1;

    int id = t->n++;
    t->off[id] = t->n_bytes;
    t->len[id] = (int)len;
    if (len) memcpy(t->bytes + t->n_bytes, s, len);
    t->bytes[t->n_bytes + len] = '\0';
    t->n_bytes += len + 1;
    if ((int)len > t->max_len) t->max_len = (int)len;
    if (len) t->first[(uint8_t)s[0]] = 1;

    uint32_t h = fnv_more(FNV_BASIS, s, len);
    size_t j = probe(t, h, "", 0, s, len);
    t->slot[j] = id; /* a duplicate string now maps to the later id */
    t->slot_hash[j] = h;
    return id;
}

int bt_wp_table_find(const bt_wp_table *t, const char *s, size_t len) {
    if (!t->n || len > (size_t)t->max_len) return -1;
    return t->slot[probe(t, fnv_more(FNV_BASIS, s, len), "", 0, s, len)];
}

int bt_wp_table_find_cont(const bt_wp_table *t, const char *s, size_t len) {
    if (!t->n || len + 2 > (size_t)t->max_len) return -1;
    return t->slot[probe(t, fnv_more(fnv_cont_basis(), s, len), "##", 2, s, len)];
}

void bt_wp_table_free(bt_wp_table *t) {
    free(t->bytes);
    free(t->off);
    free(t->len);
    free(t->slot);
    free(t->slot_hash);
    memset(t, 0, sizeof *t);
}
