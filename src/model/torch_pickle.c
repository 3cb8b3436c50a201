/* Restricted unpickler for torch.save(state_dict): a stack machine over a closed set of value
 * kinds. Objects are never constructed from the file's say-so: a GLOBAL is only a name matched
 * against the allow-list, and REDUCE/BUILD/BINPERSID interpret the few combinations a state
 * dict is made of. Values live in an arena and refer to each other by index, so the memo can
 * share them freely and one free releases everything. Every size read from the file is checked
 * before it is used; the whole parse costs O(pickle length) time and memory. */
#include "bertology/common.h"
#include "model/torch_pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { V_NONE, V_BOOL, V_INT, V_STR, V_TUPLE, V_DICT, V_GLOBAL, V_STORAGE, V_TENSOR, V_LIST };

/* The allow-list. Storage classes come first, in the order of STORAGE_DTYPE. */
enum {
    G_FLOAT_ST, G_HALF_ST, G_BF16_ST, G_DOUBLE_ST, G_LONG_ST, G_INT_ST, G_SHORT_ST, G_CHAR_ST, G_BYTE_ST, G_BOOL_ST,
    G_N_STORAGE,
    G_ORDERED_DICT = G_N_STORAGE, G_REBUILD_TENSOR_V2, G_REBUILD_PARAMETER, G_N
};
static const char *const GLOBAL_MODULE[G_N] = {"torch", "torch", "torch", "torch", "torch", "torch", "torch",
                                               "torch", "torch", "torch", "collections", "torch._utils",
                                               "torch._utils"};
static const char *const GLOBAL_NAME[G_N] = {
    "FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage",     "LongStorage",       "IntStorage",
    "ShortStorage", "CharStorage", "ByteStorage",     "BoolStorage",       "OrderedDict",       "_rebuild_tensor_v2",
    "_rebuild_parameter"};
static const int STORAGE_DTYPE[G_N_STORAGE] = {BT_ST_F32, BT_ST_F16, BT_ST_BF16, BT_ST_F64, BT_ST_I64,
                                               BT_ST_I32, BT_ST_I16, BT_ST_I8,   BT_ST_U8,  BT_ST_BOOL};

typedef struct {
    int kind;
    int64_t i;          /* bool, int, global id, storage index, tensor index */
    const char *s;      /* V_STR: points into the pickle */
    size_t slen;
    int *items, n, cap; /* V_TUPLE: elements; V_DICT: key, value, key, value ... */
} val;

typedef struct {
    const unsigned char *p;
    size_t len, pos;
    const char *path;
    bt_error *err;
    val *v;
    int nv, cv;
    int *stack, ns, cs;
    int *marks, nm, cm;
    int *memo;
    size_t n_memo, memo_count; /* slots allocated; distinct indices stored (MEMOIZE's next) */
    bt_torch_pickle *out;
    int cap_t, cap_s;
    int *key_slot; /* open addressing over storage keys: index into out->s or -1 */
    size_t n_key_slots;
    int mode; /* bt_tp_mode */
    size_t pos_end; /* just after STOP */
} up;

static int oom(up *u) { return bt_error_set(u->err, BT_EINTERNAL, "%s: out of memory", u->path); }

static int bad(up *u, size_t at, const char *what) {
    return bt_error_set(u->err, BT_EINPUT, "%s: pickle byte %zu: %s", u->path, at, what);
}

static int grow_int(int **a, int *cap, int need) {
    if (need <= *cap) return 0;
    int c = *cap ? *cap : 16;
    while (c < need) {
        if (c > (1 << 28)) return -1;
        c *= 2;
    }
    int *q = bt_realloc(*a, (size_t)c, sizeof *q, "the unpickler", NULL);
    if (!q) return -1;
    *a = q;
    *cap = c;
    return 0;
}

/* A new value; returns its index or -1. */
static int new_val(up *u, int kind) {
    if (u->nv == u->cv) {
        int c = u->cv ? 2 * u->cv : 64;
        val *q = bt_realloc(u->v, (size_t)c, sizeof *q, "the unpickler", NULL);
        if (!q) return -1;
        u->v = q;
        u->cv = c;
    }
    val *x = &u->v[u->nv];
    memset(x, 0, sizeof *x);
    x->kind = kind;
    return u->nv++;
}

static int push(up *u, int idx) {
    if (idx < 0 || grow_int(&u->stack, &u->cs, u->ns + 1)) return oom(u);
    u->stack[u->ns++] = idx;
    return BT_OK;
}

static int push_new(up *u, int kind, int64_t i) {
    int k = new_val(u, kind);
    if (k < 0) return oom(u);
    u->v[k].i = i;
    return push(u, k);
}

/* Values above the topmost mark must number at least `need` (pickle's stack discipline). */
static int avail(const up *u) { return u->ns - (u->nm ? u->marks[u->nm - 1] : 0); }

static int need(up *u, int n, size_t at, const char *op) {
    if (avail(u) >= n) return BT_OK;
    char m[96];
    snprintf(m, sizeof m, "%s needs %d value%s on the stack", op, n, n == 1 ? "" : "s");
    return bad(u, at, m);
}

static int read_bytes(up *u, size_t n, const unsigned char **out) {
    if (n > u->len - u->pos)
        return bt_error_set(u->err, BT_EINPUT, "%s: pickle truncated at byte %zu (needs %zu more bytes)", u->path,
                            u->pos, n);
    *out = u->p + u->pos;
    u->pos += n;
    return BT_OK;
}

static uint64_t le(const unsigned char *b, int n) {
    uint64_t x = 0;
    for (int k = n - 1; k >= 0; k--) x = x << 8 | b[k];
    return x;
}

/* Pops the values above the topmost mark into a new tuple. */
static int make_tuple_from(up *u, int first) {
    int k = new_val(u, V_TUPLE);
    if (k < 0) return oom(u);
    int n = u->ns - first;
    if (n) {
        u->v[k].items = bt_malloc((size_t)n, sizeof(int), "the unpickler", NULL);
        if (!u->v[k].items) return oom(u);
        memcpy(u->v[k].items, u->stack + first, (size_t)n * sizeof(int));
    }
    u->v[k].n = u->v[k].cap = n;
    u->ns = first;
    return push(u, k);
}

static int memo_put(up *u, uint64_t idx, size_t at) {
    /* torch numbers memo entries from 0 up, each BINPUT taking two bytes or more */
    if (idx >= u->len) return bad(u, at, "memo index larger than the pickle could use");
    if (!u->ns) return bad(u, at, "memo store with an empty stack");
    if (idx >= u->n_memo) {
        size_t n = u->n_memo ? u->n_memo : 64;
        while (n <= idx) n *= 2;
        int *q = bt_realloc(u->memo, n, sizeof *q, "the unpickler", NULL);
        if (!q) return oom(u);
        for (size_t j = u->n_memo; j < n; j++) q[j] = -1;
        u->memo = q;
        u->n_memo = n;
    }
    if (u->memo[idx] < 0) u->memo_count++;
    u->memo[idx] = u->stack[u->ns - 1];
    return BT_OK;
}

static int memo_get(up *u, uint64_t idx, size_t at) {
    if (idx >= u->n_memo || u->memo[idx] < 0) return bad(u, at, "memo get of an index never stored");
    return push(u, u->memo[idx]);
}

static int find_global(const unsigned char *mod, size_t ml, const unsigned char *name, size_t nl) {
    for (int g = 0; g < G_N; g++)
        if (strlen(GLOBAL_MODULE[g]) == ml && !memcmp(GLOBAL_MODULE[g], mod, ml) && strlen(GLOBAL_NAME[g]) == nl &&
            !memcmp(GLOBAL_NAME[g], name, nl))
            return g;
    return -1;
}

static int global(up *u, const unsigned char *mod, size_t ml, const unsigned char *name, size_t nl, size_t at) {
    int g = find_global(mod, ml, name, nl);
    if (g < 0) {
        /* printable only: the name goes into a one-line message */
        char m[160];
        size_t k = 0;
        for (size_t j = 0; j < ml + 1 + nl && k + 1 < 120; j++) {
            unsigned char c = j < ml ? mod[j] : j == ml ? '.' : name[j - ml - 1];
            m[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
        }
        m[k] = '\0';
        return bt_error_set(u->err, BT_EINPUT,
                            "%s: pickle byte %zu: global %s%s is not allowed (a state dict needs only "
                            "collections.OrderedDict, torch._utils._rebuild_tensor_v2/_rebuild_parameter and "
                            "torch.*Storage); nothing was executed",
                            u->path, at, m, k + 1 >= 120 ? "..." : "");
    }
    return push_new(u, V_GLOBAL, g);
}

static int is_int(const val *x) { return x->kind == V_INT; }

static size_t key_hash(const char *k, size_t n) { /* FNV-1a */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)k[i]) * 16777619u;
    return h;
}

/* Index of the storage named k in out (linear: only the legacy key list uses it, once per key,
 * and the hash is rebuilt below for it), -1 if none. */
static int storage_index(const up *u, const char *k, size_t n) {
    if (!u->n_key_slots) return -1;
    size_t j = key_hash(k, n) & (u->n_key_slots - 1);
    while (u->key_slot[j] >= 0) {
        const bt_tp_storage *st = &u->out->s[u->key_slot[j]];
        if (strlen(st->key) == n && !memcmp(st->key, k, n)) return u->key_slot[j];
        j = (j + 1) & (u->n_key_slots - 1);
    }
    return -1;
}

/* ('storage', <StorageClass>, key, location, numel) -> a storage value. */
static int persid(up *u, size_t at) {
    int rc = need(u, 1, at, "BINPERSID");
    if (rc) return rc;
    const val *t = &u->v[u->stack[--u->ns]];
    const int legacy = u->mode == BT_TP_LEGACY;
    if (t->kind != V_TUPLE || t->n != (legacy ? 6 : 5))
        return bad(u, at, legacy ? "persistent id is not a 6-tuple ('storage', ...)"
                                 : "persistent id is not a 5-tuple ('storage', ...)");
    /* the legacy format's sixth field describes a view into a larger storage: never written by
     * torch >= 1.0 for a state dict's tensors, and not read here */
    if (legacy && u->v[t->items[5]].kind != V_NONE) return bad(u, at, "legacy storage views are not supported");
    const val *tag = &u->v[t->items[0]], *cls = &u->v[t->items[1]], *key = &u->v[t->items[2]],
              *loc = &u->v[t->items[3]], *num = &u->v[t->items[4]];
    if (tag->kind != V_STR || tag->slen != 7 || memcmp(tag->s, "storage", 7))
        return bad(u, at, "persistent id does not start with 'storage'");
    if (cls->kind != V_GLOBAL || cls->i >= G_N_STORAGE)
        return bad(u, at, "persistent id names no storage class");
    if (key->kind != V_STR || key->slen == 0 || key->slen > 64) return bad(u, at, "storage key is not a short string");
    for (size_t j = 0; j < key->slen; j++) {
        char c = key->s[j];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'))
            return bad(u, at, "storage key has characters other than letters, digits and '_'");
    }
    if (loc->kind != V_STR) return bad(u, at, "storage location is not a string");
    if (!is_int(num) || num->i < 0 || num->i > ((int64_t)1 << 50)) return bad(u, at, "storage size is out of range");
    const int dtype = STORAGE_DTYPE[cls->i];
    bt_torch_pickle *o = u->out;
    /* a hash of the keys: a hostile pickle naming millions of storages stays linear */
    if (2 * ((size_t)o->n_storages + 1) > u->n_key_slots) {
        size_t n = u->n_key_slots ? 2 * u->n_key_slots : 256;
        int *slot = bt_malloc(n, sizeof *slot, "the unpickler", NULL);
        if (!slot) return oom(u);
        for (size_t j = 0; j < n; j++) slot[j] = -1;
        for (int k = 0; k < o->n_storages; k++) {
            size_t j = key_hash(o->s[k].key, strlen(o->s[k].key)) & (n - 1);
            while (slot[j] >= 0) j = (j + 1) & (n - 1);
            slot[j] = k;
        }
        free(u->key_slot);
        u->key_slot = slot;
        u->n_key_slots = n;
    }
    size_t j = key_hash(key->s, key->slen) & (u->n_key_slots - 1);
    while (u->key_slot[j] >= 0 && (strlen(o->s[u->key_slot[j]].key) != key->slen ||
                                   memcmp(o->s[u->key_slot[j]].key, key->s, key->slen)))
        j = (j + 1) & (u->n_key_slots - 1);
    int s = u->key_slot[j];
    if (s >= 0) {
        if (o->s[s].dtype != dtype || o->s[s].numel != num->i)
            return bad(u, at, "one storage key is given two different types or sizes");
    } else {
        if (o->n_storages == u->cap_s) {
            int c = u->cap_s ? 2 * u->cap_s : 64;
            bt_tp_storage *q = bt_realloc(o->s, (size_t)c, sizeof *q, "the storages", NULL);
            if (!q) return oom(u);
            o->s = q;
            u->cap_s = c;
        }
        bt_tp_storage *st = &o->s[o->n_storages];
        if (!(st->key = bt_malloc(key->slen + 1, 1, "a storage key", NULL))) return oom(u);
        memcpy(st->key, key->s, key->slen);
        st->key[key->slen] = '\0';
        st->dtype = dtype;
        st->numel = num->i;
        s = o->n_storages++;
        u->key_slot[j] = s;
    }
    return push_new(u, V_STORAGE, s);
}

/* A tuple of non-negative ints into dims; returns the count or -1. */
static int int_tuple(const up *u, const val *t, int64_t *dims) {
    if (t->kind != V_TUPLE || t->n > BT_ST_MAX_DIMS) return -1;
    for (int d = 0; d < t->n; d++) {
        const val *x = &u->v[t->items[d]];
        if (!is_int(x) || x->i < 0) return -1;
        dims[d] = x->i;
    }
    return t->n;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) */
static int rebuild_tensor(up *u, const val *args, size_t at) {
    if (args->n != 6 && args->n != 7) return bad(u, at, "_rebuild_tensor_v2 takes 6 or 7 arguments");
    const val *st = &u->v[args->items[0]], *off = &u->v[args->items[1]];
    const val *rg = &u->v[args->items[4]], *hooks = &u->v[args->items[5]];
    if (st->kind != V_STORAGE) return bad(u, at, "_rebuild_tensor_v2: first argument is not a storage");
    if (!is_int(off) || off->i < 0) return bad(u, at, "_rebuild_tensor_v2: storage offset is not a non-negative int");
    if (rg->kind != V_BOOL) return bad(u, at, "_rebuild_tensor_v2: requires_grad is not a bool");
    if (!(hooks->kind == V_DICT && hooks->n == 0) && hooks->kind != V_NONE)
        return bad(u, at, "_rebuild_tensor_v2: backward hooks are not empty");
    if (args->n == 7) {
        const val *md = &u->v[args->items[6]];
        if (md->kind != V_NONE && !(md->kind == V_DICT && md->n == 0))
            return bad(u, at, "_rebuild_tensor_v2: tensor metadata is not empty");
    }
    bt_tp_tensor t;
    memset(&t, 0, sizeof t);
    int64_t stride[BT_ST_MAX_DIMS];
    t.ndim = int_tuple(u, &u->v[args->items[2]], t.shape);
    const int ns = int_tuple(u, &u->v[args->items[3]], stride);
    if (t.ndim < 0) return bad(u, at, "_rebuild_tensor_v2: size is not a tuple of at most 8 non-negative ints");
    if (ns != t.ndim) return bad(u, at, "_rebuild_tensor_v2: stride is not a tuple of ints as long as the size");
    uint64_t numel = 1;
    for (int d = 0; d < t.ndim; d++)
        if (__builtin_mul_overflow(numel, (uint64_t)t.shape[d], &numel) || numel > ((uint64_t)1 << 50))
            return bad(u, at, "_rebuild_tensor_v2: size is too large");
    /* contiguous: every dimension longer than one steps over the product of those after it */
    int64_t want = 1;
    for (int d = t.ndim - 1; d >= 0; d--) {
        if (t.shape[d] != 1 && stride[d] != want)
            return bad(u, at, "_rebuild_tensor_v2: tensor is not contiguous (save tensor.contiguous() instead)");
        want *= t.shape[d];
    }
    const bt_tp_storage *s = &u->out->s[st->i];
    if (numel && (off->i > s->numel || (int64_t)numel > s->numel - off->i)) {
        char m[200];
        snprintf(m, sizeof m, "tensor of %llu elements at offset %lld runs past the end of storage %s (%lld elements)",
                 (unsigned long long)numel, (long long)off->i, s->key, (long long)s->numel);
        return bad(u, at, m);
    }
    t.storage = (int)st->i;
    t.dtype = s->dtype;
    t.numel = (int64_t)numel;
    t.offset = off->i;
    bt_torch_pickle *o = u->out;
    if (o->n_tensors == u->cap_t) {
        int c = u->cap_t ? 2 * u->cap_t : 64;
        bt_tp_tensor *q = bt_realloc(o->t, (size_t)c, sizeof *q, "the tensors", NULL);
        if (!q) return oom(u);
        o->t = q;
        u->cap_t = c;
    }
    o->t[o->n_tensors] = t; /* named when the state dict is read off */
    return push_new(u, V_TENSOR, o->n_tensors++);
}

static int reduce(up *u, size_t at) {
    int rc = need(u, 2, at, "REDUCE");
    if (rc) return rc;
    const val *args = &u->v[u->stack[--u->ns]];
    const val *fn = &u->v[u->stack[--u->ns]];
    if (fn->kind != V_GLOBAL) return bad(u, at, "REDUCE of something that is not an allowed global");
    if (args->kind != V_TUPLE) return bad(u, at, "REDUCE arguments are not a tuple");
    switch (fn->i) {
    case G_ORDERED_DICT:
        if (args->n) return bad(u, at, "OrderedDict called with arguments");
        return push_new(u, V_DICT, 0);
    case G_REBUILD_TENSOR_V2:
        return rebuild_tensor(u, args, at);
    case G_REBUILD_PARAMETER: {
        /* (tensor, requires_grad, backward_hooks): the tensor itself */
        if (args->n != 3 || u->v[args->items[0]].kind != V_TENSOR || u->v[args->items[1]].kind != V_BOOL)
            return bad(u, at, "_rebuild_parameter takes (tensor, requires_grad, hooks)");
        return push(u, args->items[0]);
    }
    default:
        return bad(u, at, "REDUCE calls a storage class");
    }
}

static int dict_add(up *u, val *d, int key, int value) {
    if (grow_int(&d->items, &d->cap, d->n + 2)) return oom(u);
    d->items[d->n++] = key;
    d->items[d->n++] = value;
    return BT_OK;
}

/* SETITEMS / SETITEM / DICT: key, value pairs from stack[first..] into the dict below them. */
static int set_items(up *u, int first, size_t at, int make_dict) {
    const int n = u->ns - first;
    if (n % 2) return bad(u, at, "odd number of values for dict items");
    int d;
    if (make_dict) {
        if ((d = new_val(u, V_DICT)) < 0) return oom(u);
    } else {
        if (first < 1 || (u->nm && first - 1 < u->marks[u->nm - 1])) return bad(u, at, "SETITEMS without a dict");
        d = u->stack[first - 1];
        if (u->v[d].kind != V_DICT) return bad(u, at, "SETITEMS on something that is not a dict");
    }
    for (int k = first; k < u->ns; k += 2) {
        int rc = dict_add(u, &u->v[d], u->stack[k], u->stack[k + 1]);
        if (rc) return rc;
    }
    u->ns = first;
    return make_dict ? push(u, d) : BT_OK;
}

static int pop_mark(up *u, size_t at, int *first) {
    if (!u->nm) return bad(u, at, "no MARK to pop to");
    *first = u->marks[--u->nm];
    return BT_OK;
}

static int str_val(up *u, size_t n) {
    const unsigned char *s = NULL;
    int rc = read_bytes(u, n, &s);
    if (rc) return rc;
    int k = new_val(u, V_STR);
    if (k < 0) return oom(u);
    u->v[k].s = (const char *)s;
    u->v[k].slen = n;
    return push(u, k);
}

/* The top-level value must be a dict of name -> tensor. */
static int finish(up *u) {
    if (u->ns != 1 || u->nm) return bt_error_set(u->err, BT_EINPUT, "%s: pickle leaves %d values on its stack", u->path, u->ns);
    const val *d = &u->v[u->stack[0]];
    if (d->kind != V_DICT)
        return bt_error_set(u->err, BT_EINPUT, "%s: the pickle holds no state dict (save model.state_dict())", u->path);
    bt_torch_pickle *o = u->out;
    /* a dict entry names one tensor; the same tensor object under two names is copied */
    bt_tp_tensor *t = bt_calloc((size_t)d->n / 2 + 1, sizeof *t, "the tensors", NULL);
    if (!t) return oom(u);
    int n = 0, rc = BT_OK;
    for (int k = 0; k < d->n && !rc; k += 2) {
        const val *key = &u->v[d->items[k]], *value = &u->v[d->items[k + 1]];
        if (key->kind != V_STR || key->slen == 0 || key->slen > 1000 || memchr(key->s, '\0', key->slen)) {
            rc = bt_error_set(u->err, BT_EINPUT, "%s: state dict entry %d has no usable name", u->path, k / 2);
            break;
        }
        if (value->kind != V_TENSOR) {
            rc = bt_error_set(u->err, BT_EINPUT, "%s: state dict entry '%.*s' is not a tensor", u->path,
                              (int)(key->slen > 200 ? 200 : key->slen), key->s);
            break;
        }
        t[n] = o->t[value->i];
        if (!(t[n].name = bt_malloc(key->slen + 1, 1, "a tensor name", NULL))) {
            rc = oom(u);
            break;
        }
        memcpy(t[n].name, key->s, key->slen);
        t[n].name[key->slen] = '\0';
        n++;
    }
    free(o->t);
    o->t = t;
    o->n_tensors = n;
    return rc;
}

/* The legacy format's sys_info dict: little_endian must be True. */
static int finish_sys_info(up *u) {
    if (u->ns != 1 || u->v[u->stack[0]].kind != V_DICT)
        return bt_error_set(u->err, BT_EINPUT, "%s: the legacy header's sys_info is not a dict", u->path);
    const val *d = &u->v[u->stack[0]];
    for (int k = 0; k < d->n; k += 2) {
        const val *key = &u->v[d->items[k]], *v = &u->v[d->items[k + 1]];
        if (key->kind == V_STR && key->slen == 13 && !memcmp(key->s, "little_endian", 13)) {
            if (v->kind == V_BOOL && v->i) return BT_OK;
            return bt_error_set(u->err, BT_EINPUT, "%s: big-endian weights; only little-endian ones are read",
                                u->path);
        }
    }
    return bt_error_set(u->err, BT_EINPUT, "%s: the legacy header's sys_info has no little_endian", u->path);
}

/* The legacy format's list of storage keys: the order of the storages after the pickles; every
 * storage of the state dict exactly once. */
static int finish_keys(up *u) {
    bt_torch_pickle *o = u->out;
    if (u->ns != 1 || u->v[u->stack[0]].kind != V_LIST)
        return bt_error_set(u->err, BT_EINPUT, "%s: the legacy storage key list is not a list", u->path);
    const val *l = &u->v[u->stack[0]];
    if (l->n != o->n_storages)
        return bt_error_set(u->err, BT_EINPUT, "%s: the legacy key list names %d storages, the state dict %d",
                            u->path, l->n, o->n_storages);
    if (!(o->order = bt_malloc((size_t)l->n + 1, sizeof *o->order, "the storages", NULL))) return oom(u);
    unsigned char *seen = bt_calloc((size_t)l->n + 1, 1, "the storages", NULL);
    if (!seen) return oom(u);
    int rc = BT_OK;
    for (int k = 0; k < l->n && !rc; k++) {
        const val *key = &u->v[l->items[k]];
        const int s = key->kind == V_STR ? storage_index(u, key->s, key->slen) : -1;
        if (s < 0 || seen[s])
            rc = bt_error_set(u->err, BT_EINPUT, "%s: legacy key list entry %d names no storage of the state dict "
                              "(or one twice)", u->path, k);
        else
            seen[s] = 1, o->order[k] = s;
    }
    free(seen);
    return rc;
}

static int run(up *u) {
    for (;;) {
        const size_t at = u->pos;
        const unsigned char *b = NULL;
        int first = 0, rc = read_bytes(u, 1, &b);
        if (rc) return rc;
        const unsigned char op = b[0];
        switch (op) {
        case 0x80: /* PROTO */
            if ((rc = read_bytes(u, 1, &b))) return rc;
            if (b[0] < 2 || b[0] > 5) return bad(u, at, "pickle protocol is not 2..5");
            break;
        case 0x95: /* FRAME: a length hint only */
            if ((rc = read_bytes(u, 8, &b))) return rc;
            break;
        case 'c': { /* GLOBAL module\nname\n */
            const unsigned char *s = u->p + u->pos, *end = u->p + u->len;
            const unsigned char *nl1 = memchr(s, '\n', (size_t)(end - s));
            const unsigned char *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1)) : NULL;
            if (!nl2) return bad(u, at, "GLOBAL without two newline-terminated names");
            u->pos = (size_t)(nl2 + 1 - u->p);
            if ((rc = global(u, s, (size_t)(nl1 - s), nl1 + 1, (size_t)(nl2 - nl1 - 1), at))) return rc;
            break;
        }
        case 0x93: { /* STACK_GLOBAL */
            if ((rc = need(u, 2, at, "STACK_GLOBAL"))) return rc;
            const val *name = &u->v[u->stack[--u->ns]], *mod = &u->v[u->stack[--u->ns]];
            if (name->kind != V_STR || mod->kind != V_STR) return bad(u, at, "STACK_GLOBAL of non-strings");
            if ((rc = global(u, (const unsigned char *)mod->s, mod->slen, (const unsigned char *)name->s, name->slen,
                             at)))
                return rc;
            break;
        }
        case 'q': /* BINPUT */
            if ((rc = read_bytes(u, 1, &b)) || (rc = memo_put(u, b[0], at))) return rc;
            break;
        case 'r': /* LONG_BINPUT */
            if ((rc = read_bytes(u, 4, &b)) || (rc = memo_put(u, le(b, 4), at))) return rc;
            break;
        case 0x94: /* MEMOIZE */
            if ((rc = memo_put(u, u->memo_count, at))) return rc;
            break;
        case 'h': /* BINGET */
            if ((rc = read_bytes(u, 1, &b)) || (rc = memo_get(u, b[0], at))) return rc;
            break;
        case 'j': /* LONG_BINGET */
            if ((rc = read_bytes(u, 4, &b)) || (rc = memo_get(u, le(b, 4), at))) return rc;
            break;
        case '(': /* MARK */
            if (grow_int(&u->marks, &u->cm, u->nm + 1)) return oom(u);
            u->marks[u->nm++] = u->ns;
            break;
        case ')': /* EMPTY_TUPLE */
            if ((rc = make_tuple_from(u, u->ns))) return rc;
            break;
        case 't': /* TUPLE */
            if ((rc = pop_mark(u, at, &first)) || (rc = make_tuple_from(u, first))) return rc;
            break;
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            const int n = op - 0x84;
            if ((rc = need(u, n, at, "TUPLEn")) || (rc = make_tuple_from(u, u->ns - n))) return rc;
            break;
        }
        case '}': /* EMPTY_DICT */
            if ((rc = push_new(u, V_DICT, 0))) return rc;
            break;
        case 'd': /* DICT */
            if ((rc = pop_mark(u, at, &first)) || (rc = set_items(u, first, at, 1))) return rc;
            break;
        case 's': /* SETITEM */
            if ((rc = need(u, 3, at, "SETITEM")) || (rc = set_items(u, u->ns - 2, at, 0))) return rc;
            break;
        case 'u': /* SETITEMS */
            if ((rc = pop_mark(u, at, &first)) || (rc = set_items(u, first, at, 0))) return rc;
            break;
        case 'X': /* BINUNICODE */
            if ((rc = read_bytes(u, 4, &b)) || (rc = str_val(u, (size_t)le(b, 4)))) return rc;
            break;
        case 0x8c: /* SHORT_BINUNICODE */
            if ((rc = read_bytes(u, 1, &b)) || (rc = str_val(u, b[0]))) return rc;
            break;
        case 'K': /* BININT1 */
            if ((rc = read_bytes(u, 1, &b)) || (rc = push_new(u, V_INT, b[0]))) return rc;
            break;
        case 'M': /* BININT2 */
            if ((rc = read_bytes(u, 2, &b)) || (rc = push_new(u, V_INT, (int64_t)le(b, 2)))) return rc;
            break;
        case 'J': /* BININT: signed 32-bit */
            if ((rc = read_bytes(u, 4, &b)) || (rc = push_new(u, V_INT, (int32_t)(uint32_t)le(b, 4)))) return rc;
            break;
        case 0x8a: { /* LONG1: n-byte two's complement, n <= 8 here */
            if ((rc = read_bytes(u, 1, &b))) return rc;
            const int n = b[0];
            if (n > 8) return bad(u, at, "integer wider than 64 bits");
            if ((rc = read_bytes(u, (size_t)n, &b))) return rc;
            uint64_t x = le(b, n);
            if (n && n < 8 && (b[n - 1] & 0x80)) x |= ~(uint64_t)0 << (8 * n);
            if ((rc = push_new(u, V_INT, (int64_t)x))) return rc;
            break;
        }
        case 'N': /* NONE */
            if ((rc = push_new(u, V_NONE, 0))) return rc;
            break;
        case 0x88: case 0x89: /* NEWTRUE, NEWFALSE */
            if ((rc = push_new(u, V_BOOL, op == 0x88))) return rc;
            break;
        case 'Q': /* BINPERSID */
            if ((rc = persid(u, at))) return rc;
            break;
        case 'R': /* REDUCE */
            if ((rc = reduce(u, at))) return rc;
            break;
        case 'b': { /* BUILD: the state dict's _metadata attribute, which bertology does not need */
            if ((rc = need(u, 2, at, "BUILD"))) return rc;
            const val *state = &u->v[u->stack[u->ns - 1]], *obj = &u->v[u->stack[u->ns - 2]];
            if (obj->kind != V_DICT || (state->kind != V_DICT && state->kind != V_NONE))
                return bad(u, at, "BUILD of something other than an OrderedDict's attributes");
            u->ns--;
            break;
        }
        case ']': /* EMPTY_LIST: only the legacy format's list of storage keys */
            if (u->mode != BT_TP_KEY_LIST) goto unknown;
            if ((rc = push_new(u, V_LIST, 0))) return rc;
            break;
        case 'a': case 'e': { /* APPEND, APPENDS */
            if (u->mode != BT_TP_KEY_LIST) goto unknown;
            if (op == 'a') {
                if ((rc = need(u, 2, at, "APPEND"))) return rc;
                first = u->ns - 1;
            } else if ((rc = pop_mark(u, at, &first))) {
                return rc;
            }
            if (first < 1 || u->v[u->stack[first - 1]].kind != V_LIST) return bad(u, at, "APPEND to something not a list");
            val *l = &u->v[u->stack[first - 1]];
            for (int k = first; k < u->ns; k++) {
                if (grow_int(&l->items, &l->cap, l->n + 1)) return oom(u);
                l->items[l->n++] = u->stack[k];
            }
            u->ns = first;
            break;
        }
        case '.': /* STOP */
            u->pos_end = u->pos;
            return u->mode == BT_TP_SYS_INFO ? finish_sys_info(u) : u->mode == BT_TP_KEY_LIST ? finish_keys(u) : finish(u);
        default:
        unknown: {
            char m[120];
            snprintf(m, sizeof m, "opcode 0x%02x%s%c%s is not one torch.save(state_dict) uses", op,
                     op >= 0x20 && op < 0x7f ? " ('" : "", op >= 0x20 && op < 0x7f ? op : ' ',
                     op >= 0x20 && op < 0x7f ? "')" : "");
            return bad(u, at, m);
        }
        }
    }
}

void bt_tp_free(bt_torch_pickle *tp) {
    for (int i = 0; i < tp->n_tensors; i++) free(tp->t[i].name);
    for (int i = 0; i < tp->n_storages; i++) free(tp->s[i].key);
    free(tp->order);
    free(tp->t);
    free(tp->s);
    memset(tp, 0, sizeof *tp);
}

static int parse(const unsigned char *p, size_t len, const char *path, int mode, size_t *used,
                 bt_torch_pickle *out, int *key_slot_keep, bt_error *err) {
    if (len > BT_TP_MAX_PICKLE) len = BT_TP_MAX_PICKLE; /* a longer pickle runs out of bytes */
    up u;
    memset(&u, 0, sizeof u);
    u.p = p;
    u.len = len;
    u.path = path;
    u.err = err;
    u.out = out;
    u.mode = mode;
    /* the key list's parse continues the state dict's output, whose arrays finish() sized
     * exactly: a storage or tensor the key list adds grows them from there */
    u.cap_t = out->n_tensors;
    u.cap_s = out->n_storages;
    if (mode == BT_TP_KEY_LIST) {
        /* the hash of the storages the state dict named */
        size_t n = 256;
        while (n < 2 * ((size_t)out->n_storages + 1)) n *= 2;
        if (!(u.key_slot = bt_malloc(n, sizeof *u.key_slot, "the storage keys", err))) return BT_EINTERNAL;
        for (size_t j = 0; j < n; j++) u.key_slot[j] = -1;
        for (int k = 0; k < out->n_storages; k++) {
            size_t j = key_hash(out->s[k].key, strlen(out->s[k].key)) & (n - 1);
            while (u.key_slot[j] >= 0) j = (j + 1) & (n - 1);
            u.key_slot[j] = k;
        }
        u.n_key_slots = n;
    }
    (void)key_slot_keep;
    int rc = run(&u);
    for (int i = 0; i < u.nv; i++) free(u.v[i].items);
    free(u.v);
    free(u.stack);
    free(u.marks);
    free(u.memo);
    free(u.key_slot);
    if (used) *used = u.pos_end;
    return rc;
}

int bt_tp_parse(const unsigned char *p, size_t len, const char *path, bt_torch_pickle *out, bt_error *err) {
    memset(out, 0, sizeof *out);
    if (len > BT_TP_MAX_PICKLE)
        return bt_error_set(err, BT_EINPUT, "%s: pickle of %zu bytes is larger than a state dict's (limit %zu)", path,
                            len, BT_TP_MAX_PICKLE);
    int rc = parse(p, len, path, BT_TP_ZIP, NULL, out, NULL, err);
    if (rc) bt_tp_free(out); /* tensors not yet named by finish() have name NULL */
    return rc;
}

int bt_tp_parse_part(const unsigned char *p, size_t len, const char *path, int mode, size_t *used,
                     bt_torch_pickle *out, bt_error *err) {
    if (mode != BT_TP_KEY_LIST && mode != BT_TP_SYS_INFO) memset(out, 0, sizeof *out);
    int rc = parse(p, len, path, mode, used, out, NULL, err);
    /* the header is a dict of numbers: a storage or tensor there is not torch's (and the state
     * dict's parse, which starts out afresh, would lose it) */
    if (!rc && mode == BT_TP_SYS_INFO && (out->n_storages || out->n_tensors))
        rc = bt_error_set(err, BT_EINPUT, "%s: a storage or tensor in the legacy header", path);
    if (rc) bt_tp_free(out);
    return rc;
}
