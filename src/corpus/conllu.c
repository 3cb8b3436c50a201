/* CoNLL-U reader (bertology/conllu.h): one pass over the file, words appended to growing
 * arrays, labels interned in small hash tables, every rule checked where it can first fail so
 * that the message names the line at fault. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/conllu.h"
#include "bertology/tokenizer.h" /* bt_tok_utf8_error */

/* ---- label interning: open addressing, ids in order of first appearance, sorted at the end */

typedef struct {
    char **name; /* [n] by id */
    int n, cap;
    int *slot;   /* [nslot] id + 1, 0 = empty */
    int nslot;
} interner;

static uint64_t fnv(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int intern_grow(interner *t) {
    const int ns = t->nslot ? 2 * t->nslot : 64;
    int *slot = bt_calloc((size_t)ns, sizeof *slot, "a label table", NULL);
    if (!slot) return -1;
    for (int i = 0; i < t->n; i++) {
        size_t k = fnv(t->name[i]) & (size_t)(ns - 1);
        while (slot[k]) k = (k + 1) & (size_t)(ns - 1);
        slot[k] = i + 1;
    }
    free(t->slot);
    t->slot = slot;
    t->nslot = ns;
    return 0;
}

/* id of s (len bytes, copied when new), -1 if out of memory */
static int intern(interner *t, const char *s, size_t len) {
    if (2 * (t->n + 1) > t->nslot && intern_grow(t)) return -1;
    char tmp[256];
    char *key = len < sizeof tmp ? tmp : bt_malloc(len + 1, 1, "a label", NULL);
    if (!key) return -1;
    memcpy(key, s, len);
    key[len] = '\0';
    size_t k = fnv(key) & (size_t)(t->nslot - 1);
    int id = -1;
    while (t->slot[k]) {
        if (!strcmp(t->name[t->slot[k] - 1], key)) {
            id = t->slot[k] - 1;
            break;
        }
        k = (k + 1) & (size_t)(t->nslot - 1);
    }
    if (id < 0) {
        if (t->n == t->cap) {
            const int c = t->cap ? 2 * t->cap : 32;
            char **nm = bt_realloc(t->name, (size_t)c, sizeof *nm, "a label table", NULL);
            if (!nm) goto oom;
            t->name = nm;
            t->cap = c;
        }
        char *copy = bt_malloc(len + 1, 1, "a label", NULL);
        if (!copy) goto oom;
        memcpy(copy, key, len + 1);
        t->name[t->n] = copy;
        t->slot[k] = t->n + 1;
        id = t->n++;
    }
    if (key != tmp) free(key);
    return id;
oom:
    if (key != tmp) free(key);
    return -1;
}

static const char *const *g_sort_names; /* qsort has no context argument */
static int by_name(const void *a, const void *b) {
    return strcmp(g_sort_names[*(const int *)a], g_sort_names[*(const int *)b]);
}

/* Moves t's names into out sorted and renumbers ids[0..n) accordingly. */
static int intern_finish(interner *t, int *ids, int64_t n, bt_conllu_names *out) {
    int *order = bt_malloc((size_t)t->n, sizeof(int), "a label table", NULL);
    int *rank = bt_malloc((size_t)t->n, sizeof(int), "a label table", NULL);
    out->name = bt_malloc((size_t)t->n, sizeof(char *), "a label table", NULL);
    if (!order || !rank || !out->name) {
        free(order), free(rank);
        return -1;
    }
    for (int i = 0; i < t->n; i++) order[i] = i;
    g_sort_names = (const char *const *)t->name;
    qsort(order, (size_t)t->n, sizeof *order, by_name);
    for (int r = 0; r < t->n; r++) {
        rank[order[r]] = r;
        out->name[r] = t->name[order[r]];
    }
    out->n = t->n;
    for (int64_t i = 0; i < n; i++) ids[i] = rank[ids[i]];
    free(order), free(rank), free(t->name), free(t->slot);
    memset(t, 0, sizeof *t);
    return 0;
}

static void intern_free(interner *t) {
    for (int i = 0; i < t->n; i++) free(t->name[i]);
    free(t->name), free(t->slot);
    memset(t, 0, sizeof *t);
}

static void names_free(bt_conllu_names *nm) {
    for (int i = 0; i < nm->n; i++) free(nm->name[i]);
    free(nm->name);
    memset(nm, 0, sizeof *nm);
}

/* ---- parsing */

typedef struct {
    bt_conllu *c;
    interner upos, deprel, rel;
    size_t word_cap, sent_cap, pool_len;
    int64_t *form_off;      /* [word_cap] FORM offsets into the pool until the pool is final */
    /* the sentence being read */
    int n_words;            /* words so far */
    int64_t first_line;     /* line of its first word */
    int roots;              /* HEAD = 0 words so far */
} reader;

static int grow_words(reader *r) {
    bt_conllu *c = r->c;
    if ((size_t)c->n_words < r->word_cap) return 0;
    const size_t n = r->word_cap ? 2 * r->word_cap : 4096;
#define RE(p) do { void *q = bt_realloc(p, n, sizeof *(p), "the words", NULL); if (!q) return -1; (p) = q; } while (0)
    RE(r->form_off); RE(c->upos); RE(c->head); RE(c->deprel); RE(c->rel); RE(c->line);
#undef RE
    r->word_cap = n;
    return 0;
}

static int grow_sents(reader *r) {
    bt_conllu *c = r->c;
    if ((size_t)c->n_sents + 1 < r->sent_cap) return 0;
    const size_t n = r->sent_cap ? 2 * r->sent_cap : 1024;
    int64_t *sw = bt_realloc(c->sent_word, n, sizeof *sw, "the sentences", NULL);
    if (!sw) return -1;
    c->sent_word = sw;
    int64_t *sl = bt_realloc(c->sent_line, n, sizeof *sl, "the sentences", NULL);
    if (!sl) return -1;
    c->sent_line = sl;
    r->sent_cap = n;
    return 0;
}

/* Decimal integer in [lo, hi] spanning exactly s[0..len). */
static int parse_int(const char *s, size_t len, long lo, long hi, long *out) {
    if (len == 0 || len > 12) return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* The sentence just ended (blank line or end of file at line `line`): heads within it, one root. */
static int end_sentence(reader *r, const char *path, bt_error *err) {
    bt_conllu *c = r->c;
    if (r->n_words == 0) return 0;
    const int64_t w0 = c->n_words - r->n_words;
    for (int i = 0; i < r->n_words; i++)
        if (c->head[w0 + i] > r->n_words)
            return bt_error_set(err, BT_EINPUT, "%s:%lld: HEAD %d is outside the sentence of %d words", path,
                                (long long)c->line[w0 + i], c->head[w0 + i], r->n_words);
    if (r->roots != 1)
        return bt_error_set(err, BT_EINPUT, "%s:%lld: the sentence has %d roots (HEAD 0), CoNLL-U needs exactly one",
                            path, (long long)r->first_line, r->roots);
    if (grow_sents(r)) return bt_error_set(err, BT_EINTERNAL, "%s: out of memory", path);
    c->sent_line[c->n_sents] = r->first_line;
    c->n_sents++;
    c->sent_word[c->n_sents] = c->n_words;
    r->n_words = 0;
    r->roots = 0;
    return 0;
}

static const char *COLS[10] = {"ID", "FORM", "LEMMA", "UPOS", "XPOS", "FEATS", "HEAD", "DEPREL", "DEPS", "MISC"};

static int word_line(reader *r, const char *path, int64_t ln, const char *s, size_t len, char *pool,
                     bt_error *err) {
    bt_conllu *c = r->c;
    const char *f[10];
    size_t fl[10];
    int nf = 0, more = 0;
    const char *p = s, *end = s + len;
    while (nf < 10) {
        const char *t = memchr(p, '\t', (size_t)(end - p));
        f[nf] = p;
        fl[nf] = (size_t)((t ? t : end) - p);
        nf++;
        if (!t) break;
        p = t + 1;
        more = nf == 10;
    }
    if (nf < 10 || more)
        return bt_error_set(err, BT_EINPUT, "%s:%lld: %s columns, CoNLL-U has 10 (tab-separated)", path,
                            (long long)ln, nf < 10 ? "too few" : "more than 10");
    for (int k = 0; k < 10; k++)
        if (fl[k] == 0)
            return bt_error_set(err, BT_EINPUT, "%s:%lld: column %d (%s) is empty", path, (long long)ln, k + 1, COLS[k]);
    /* multiword-token ranges and empty nodes are not syntactic words */
    if (memchr(f[0], '-', fl[0]) || memchr(f[0], '.', fl[0])) return 0;
    long id, head;
    if (parse_int(f[0], fl[0], 1, INT_MAX - 1, &id))
        return bt_error_set(err, BT_EINPUT, "%s:%lld: ID '%.*s' is not a positive integer (nor a range 3-4 or an empty node 8.1)",
                            path, (long long)ln, (int)(fl[0] > 40 ? 40 : fl[0]), f[0]);
    if (id != r->n_words + 1)
        return bt_error_set(err, BT_EINPUT, "%s:%lld: word ID %ld where %d was expected (IDs run 1, 2, 3, ... in a sentence)",
                            path, (long long)ln, id, r->n_words + 1);
    if (parse_int(f[6], fl[6], 0, INT_MAX - 1, &head))
        return bt_error_set(err, BT_EINPUT, "%s:%lld: HEAD '%.*s' is not an integer >= 0", path, (long long)ln,
                            (int)(fl[6] > 40 ? 40 : fl[6]), f[6]);
    if (head == id) return bt_error_set(err, BT_EINPUT, "%s:%lld: word %ld is its own HEAD", path, (long long)ln, id);
    if (grow_words(r)) return bt_error_set(err, BT_EINTERNAL, "%s: out of memory", path);
    const int64_t w = c->n_words;
    size_t ul = 0;
    while (ul < fl[7] && f[7][ul] != ':') ul++;
    if (ul == 0) return bt_error_set(err, BT_EINPUT, "%s:%lld: DEPREL '%.*s' has no universal relation before ':'",
                                     path, (long long)ln, (int)(fl[7] > 40 ? 40 : fl[7]), f[7]);
    c->upos[w] = intern(&r->upos, f[3], fl[3]);
    c->deprel[w] = intern(&r->deprel, f[7], fl[7]);
    c->rel[w] = intern(&r->rel, f[7], ul);
    if (c->upos[w] < 0 || c->deprel[w] < 0 || c->rel[w] < 0) return bt_error_set(err, BT_EINTERNAL, "%s: out of memory", path);
    c->head[w] = (int)head;
    c->line[w] = ln;
    /* FORM stays in place in the pool: the tab after it becomes its terminator */
    r->form_off[w] = f[1] - pool;
    ((char *)f[1])[fl[1]] = '\0';
    if (r->n_words == 0) r->first_line = ln;
    if (head == 0) r->roots++;
    r->n_words++;
    c->n_words++;
    return 0;
}

static int parse_pool(reader *r, const char *path, char *pool, size_t len, int max_sents, bt_error *err) {
    bt_conllu *c = r->c;
    int64_t ln = 0;
    size_t pos = 0;
    int rc = 0;
    while (pos < len && !rc && !(max_sents > 0 && c->n_sents >= max_sents)) {
        ln++;
        char *s = pool + pos;
        char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        if (n && s[n - 1] == '\r') n--;
        if (memchr(s, '\0', n)) return bt_error_set(err, BT_EINPUT, "%s:%lld: NUL byte in the line", path, (long long)ln);
        const size_t bad = bt_tok_utf8_error(s, n);
        if (bad < n)
            return bt_error_set(err, BT_EINPUT, "%s:%lld: invalid UTF-8 at byte %zu of the line", path, (long long)ln, bad + 1);
        size_t k = 0;
        while (k < n && (s[k] == ' ' || s[k] == '\t')) k++;
        if (k == n) rc = end_sentence(r, path, err);
        else if (s[0] == '#') continue;
        else rc = word_line(r, path, ln, s, n, pool, err);
    }
    if (!rc && !(max_sents > 0 && c->n_sents >= max_sents)) rc = end_sentence(r, path, err);
    return rc;
}

int bt_conllu_parse(const char *path, const char *text, size_t len, int max_sents, bt_conllu *c, bt_error *err) {
    memset(c, 0, sizeof *c);
    reader r = {.c = c};
    int rc = 0;
    c->path = bt_strdup(path ? path : "(conllu)", "a path", NULL);
    c->pool = bt_malloc(len + 1, 1, "the treebank", NULL);
    if (!c->path || !c->pool || grow_sents(&r)) {
        rc = bt_error_set(err, BT_EINTERNAL, "%s: out of memory", path);
        goto out;
    }
    memcpy(c->pool, text, len);
    c->pool[len] = '\0';
    c->sent_word[0] = 0;
    rc = parse_pool(&r, c->path, c->pool, len, max_sents, err);
    if (!rc && c->n_sents == 0) rc = bt_error_set(err, BT_EINPUT, "%s: no sentence (no word line with an integer ID)", c->path);
    if (rc) goto out;
    c->form = bt_malloc((size_t)c->n_words, sizeof(char *), "the words", NULL);
    if (!c->form || intern_finish(&r.upos, c->upos, c->n_words, &c->upos_names) ||
        intern_finish(&r.deprel, c->deprel, c->n_words, &c->deprel_names) ||
        intern_finish(&r.rel, c->rel, c->n_words, &c->rel_names)) {
        rc = bt_error_set(err, BT_EINTERNAL, "%s: out of memory", c->path);
        goto out;
    }
    for (int64_t w = 0; w < c->n_words; w++) c->form[w] = c->pool + r.form_off[w];
out:
    free(r.form_off);
    intern_free(&r.upos), intern_free(&r.deprel), intern_free(&r.rel);
    if (rc) bt_conllu_free(c);
    return rc;
}

int bt_conllu_read(const char *path, int max_sents, bt_conllu *c, bt_error *err) {
    memset(c, 0, sizeof *c);
    char *text = NULL;
    size_t len = 0;
    int rc = bt_read_file(path, BT_TEXT_FILE_MAX, &text, &len, err);
    if (rc) return rc;
    rc = bt_conllu_parse(path, text, len, max_sents, c, err);
    free(text);
    return rc;
}

void bt_conllu_free(bt_conllu *c) {
    free(c->path), free(c->sent_word), free(c->sent_line), free(c->form), free(c->upos), free(c->head);
    free(c->deprel), free(c->rel), free(c->line), free(c->pool);
    names_free(&c->upos_names), names_free(&c->deprel_names), names_free(&c->rel_names);
    memset(c, 0, sizeof *c);
}
