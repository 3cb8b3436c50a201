/* safetensors reader: mmap the file, validate the whole header up front, so that later code
 * can trust every tensor's dtype, shape and byte range. */
#include "model/safetensors.h"

#include "bertology/common.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Header numbers are JSON doubles: integers are exact up to 2^53. */
static int json_u64(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0.0) || d > 9007199254740992.0 || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

static int cmp_tensor(const void *a, const void *b) {
    return strcmp(((const bt_st_tensor *)a)->name, ((const bt_st_tensor *)b)->name);
}

static int cmp_data(const void *a, const void *b) {
    const bt_st_tensor *x = *(const bt_st_tensor *const *)a, *y = *(const bt_st_tensor *const *)b;
    return (x->data > y->data) - (x->data < y->data);
}

/* The format (and the reference reader) wants the tensors' byte ranges disjoint: otherwise a
 * small file could describe far more values than it holds, and the model loader sizes its
 * memory from them. Zero-size tensors take no bytes. */
static int check_disjoint(bt_st_file *f, bt_error *err) {
    const bt_st_tensor **by = bt_malloc((size_t)f->n, sizeof *by, "the tensor entries", err);
    if (!by) return BT_EINTERNAL;
    int k = 0;
    for (int i = 0; i < f->n; i++)
        if (f->t[i].nbytes) by[k++] = &f->t[i];
    qsort(by, (size_t)k, sizeof *by, cmp_data);
    int rc = BT_OK;
    for (int i = 1; i < k && !rc; i++)
        if (by[i]->data < by[i - 1]->data + by[i - 1]->nbytes)
            rc = bt_error_set(err, BT_EINPUT, "%s: tensors %s and %s share bytes of the data region", f->path,
                              by[i - 1]->name, by[i]->name);
    free(by);
    return rc;
}

/* Fills t from one header entry; the name is set by the caller. */
static int parse_entry(const char *path, const char *name, const cJSON *e, const unsigned char *data, uint64_t data_len,
                       bt_st_tensor *t, bt_error *err) {
    if (!cJSON_IsObject(e))
        return bt_error_set(err, BT_EINPUT, "%s: tensor %s: header entry is not an object", path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt)) return bt_error_set(err, BT_EINPUT, "%s: tensor %s: no \"dtype\" string", path, name);
    t->dtype = bt_st_dtype_parse(dt->valuestring);
    if (t->dtype < 0)
        return bt_error_set(err, BT_EINPUT, "%s: tensor %s has unknown dtype \"%.32s\"", path, name, dt->valuestring);
    if (!cJSON_IsArray(sh)) return bt_error_set(err, BT_EINPUT, "%s: tensor %s: no \"shape\" array", path, name);
    int nd = cJSON_GetArraySize(sh);
    if (nd > BT_ST_MAX_DIMS)
        return bt_error_set(err, BT_EINPUT, "%s: tensor %s has %d dimensions (at most %d supported)", path, name, nd,
                            BT_ST_MAX_DIMS);
    t->ndim = nd;
    uint64_t numel = 1;
    int d = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, sh) {
        uint64_t dim;
        if (!json_u64(v, &dim))
            return bt_error_set(err, BT_EINPUT, "%s: tensor %s: shape[%d] is not a non-negative integer", path, name,
                                d);
        if (__builtin_mul_overflow(numel, dim, &numel) || numel > ((uint64_t)1 << 53))
            return bt_error_set(err, BT_EINPUT, "%s: tensor %s: shape is too large", path, name);
        t->shape[d++] = (int64_t)dim;
    }
    t->numel = (int64_t)numel;
    uint64_t b, en;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || !json_u64(cJSON_GetArrayItem(off, 0), &b) ||
        !json_u64(cJSON_GetArrayItem(off, 1), &en))
        return bt_error_set(err, BT_EINPUT,
                            "%s: tensor %s: \"data_offsets\" is not [begin, end] of non-negative integers", path, name);
    if (b > en || en > data_len)
        return bt_error_set(err, BT_EINPUT,
                            "%s: tensor %s: data_offsets [%llu,%llu] lie outside the data region of %llu bytes", path,
                            name, (unsigned long long)b, (unsigned long long)en, (unsigned long long)data_len);
    const uint64_t bits = numel * (uint64_t)bt_st_dtype_bits(t->dtype);
    if (bits % 8 != 0 || en - b != bits / 8) {
        char s[160];
        bt_format_shape(s, sizeof s, t->ndim, t->shape, ",");
        return bt_error_set(err, BT_EINPUT,
                            "%s: tensor %s: data_offsets span %llu bytes but dtype %s and shape %s need %llu%s", path,
                            name, (unsigned long long)(en - b), bt_st_dtype_name(t->dtype), s,
                            (unsigned long long)(bits / 8), bits % 8 ? " and a fraction" : "");
    }
    t->data = data + b;
    t->nbytes = (size_t)(en - b);
    return BT_OK;
}

static int parse_header(bt_st_file *f, const unsigned char *base, const char *json, size_t len, uint64_t data_off,
                        uint64_t data_len, bt_error *err) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t at = end && end >= json ? (size_t)(end - json) : 0;
        return bt_error_set(err, BT_EINPUT, "%s: the %zu-byte header is not valid JSON (near file offset %zu)", f->path,
                            len, at + 8);
    }
    int rc = BT_OK;
    if (!cJSON_IsObject(root)) {
        rc = bt_error_set(err, BT_EINPUT, "%s: header is not a JSON object", f->path);
        goto done;
    }
    size_t n = 0, name_bytes = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (!e->string) continue;
        if (strcmp(e->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(e)) {
                rc = bt_error_set(err, BT_EINPUT, "%s: \"__metadata__\" is not an object", f->path);
                goto done;
            }
            continue;
        }
        n++;
        name_bytes += strlen(e->string) + 1;
    }
    f->t = bt_calloc(n, sizeof *f->t, "the tensor entries", NULL);
    f->names = bt_malloc(name_bytes, 1, "the tensor names", NULL);
    if (!f->t || !f->names) {
        rc = bt_error_set(err, BT_EINTERNAL, "%s: out of memory for %zu tensor entries", f->path, n);
        goto done;
    }
    char *np = f->names;
    cJSON_ArrayForEach(e, root) {
        if (!e->string || strcmp(e->string, "__metadata__") == 0) continue;
        bt_st_tensor *t = &f->t[f->n];
        size_t nl = strlen(e->string) + 1;
        memcpy(np, e->string, nl);
        t->name = np;
        np += nl;
        if ((rc = parse_entry(f->path, t->name, e, base + data_off, data_len, t, err)))
            goto done;
        f->n++;
    }
    qsort(f->t, (size_t)f->n, sizeof *f->t, cmp_tensor);
    for (int i = 1; i < f->n; i++)
        if (strcmp(f->t[i - 1].name, f->t[i].name) == 0) {
            rc = bt_error_set(err, BT_EINPUT, "%s: tensor %s appears twice in the header", f->path, f->t[i].name);
            goto done;
        }
    rc = check_disjoint(f, err);
done:
    cJSON_Delete(root);
    return rc;
}

/* The 8-byte length, the header and every entry of a whole file image in memory. */
static int parse_file(bt_st_file *f, const unsigned char *buf, uint64_t size, bt_error *err) {
    if (size < 8)
        return bt_error_set(err, BT_EINPUT, "%s: truncated: %llu bytes, less than the 8-byte header length", f->path,
                            (unsigned long long)size);
    uint64_t hlen;
    memcpy(&hlen, buf, 8); /* little-endian host (checked in st_dtype.c) */
    if (hlen > size - 8)
        return bt_error_set(
            err, BT_EINPUT,
            "%s: header length %llu runs past the end of the file (%llu bytes): truncated or not safetensors", f->path,
            (unsigned long long)hlen, (unsigned long long)size);
    if (hlen == 0 || hlen > BT_ST_MAX_HEADER)
        return bt_error_set(err, BT_EINPUT, "%s: header length %llu is not in 1..%llu", f->path,
                            (unsigned long long)hlen, (unsigned long long)BT_ST_MAX_HEADER);
    return parse_header(f, buf, (const char *)buf + 8, (size_t)hlen, 8 + hlen, size - 8 - hlen, err);
}

int bt_st_open_mem(const char *name, const void *data, size_t len, bt_st_file *f, bt_error *err) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", name);
    int rc = parse_file(f, data, len, err);
    if (rc) bt_st_close(f);
    return rc;
}

int bt_st_open(const char *path, bt_st_file *f, bt_error *err) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return bt_error_set(err, BT_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return bt_error_set(err, BT_EINPUT, "%s: not a regular file", path);
    }
    const uint64_t size = (uint64_t)st.st_size;
    if (size < 8) {
        close(fd);
        return bt_error_set(err, BT_EINPUT, "%s: truncated: %llu bytes, less than the 8-byte header length", path,
                            (unsigned long long)size);
    }
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return bt_error_set(err, BT_EINPUT, "%s: cannot map: %s", path, strerror(errno));
    f->map = map;
    f->map_len = (size_t)size;
    int rc = parse_file(f, map, size, err);
    if (rc) {
        bt_st_close(f);
        return rc;
    }
    /* The whole file is about to be read once, front to back. */
    madvise(map, f->map_len, MADV_SEQUENTIAL);
    madvise(map, f->map_len, MADV_WILLNEED);
    return BT_OK;
}

void bt_st_close(bt_st_file *f) {
    if (f->map) munmap(f->map, f->map_len);
    free(f->owned);
    free(f->t);
    free(f->names);
    memset(f, 0, sizeof *f);
}

const bt_st_tensor *bt_st_find(const bt_st_file *f, const char *name) {
    int lo = 0, hi = f->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, f->t[mid].name);
        if (c == 0) return &f->t[mid];
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return NULL;
}
