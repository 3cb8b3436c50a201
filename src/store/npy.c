/* NumPy .npy reader and writer. The format (numpy/lib/format.py, NEP 1): magic "\x93NUMPY",
 * major, minor, header length (u16 for 1.x, u32 for 2.x/3.x), then a Python dict literal
 * {'descr': ..., 'fortran_order': ..., 'shape': (...), } padded with spaces and '\n'. */
#include "bertology/npy.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bertology/common.h"
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c writes '<' data straight from memory: little-endian hosts only"
#endif

#define NPY_ALIGN 64              /* NumPy >= 1.14 aligns the data to 64 bytes */
#define NPY_MAX_HEADER (1 << 20)  /* a 32-dim shape needs < 1 KB; refuse absurd lengths */

static const char NPY_MAGIC[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
static const char *const DESCR[] = {"<f4", "<f8", "<i4", "<i8"};

int bt_npy_itemsize(bt_npy_dtype dtype) {
    switch (dtype) {
    case BT_NPY_F32: case BT_NPY_I32: return 4;
    case BT_NPY_F64: case BT_NPY_I64: return 8;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* writing */

int bt_npy_write(const char *path, bt_npy_dtype dtype, int ndim, const int64_t *shape,
                 const void *data, bt_error *err) {
    int isz = bt_npy_itemsize(dtype);
    if (!isz) return bt_error_set(err, BT_EINTERNAL, "%s: unknown npy dtype %d", path, (int)dtype);
    if (ndim < 0 || ndim > BT_NPY_MAX_DIMS)
        return bt_error_set(err, BT_EINTERNAL, "%s: %d dimensions (0..%d allowed)", path, ndim,
                            BT_NPY_MAX_DIMS);
    char hdr[2048];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     DESCR[dtype]);
    size_t count = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return bt_error_set(err, BT_EINTERNAL, "%s: negative dimension %d", path, d);
        n += snprintf(hdr + n, sizeof hdr - n, d ? ", %lld" : "%lld", (long long)shape[d]);
        count *= (size_t)shape[d];
    }
    n += snprintf(hdr + n, sizeof hdr - n, ndim == 1 ? ",), }" : "), }");
    /* pad so that magic(6) + version(2) + length(2) + header ends on a 64-byte boundary */
    int total = (10 + n + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    int hlen = total - 10;
    memset(hdr + n, ' ', hlen - 1 - n);
    hdr[hlen - 1] = '\n';

    unsigned char pre[10];
    memcpy(pre, NPY_MAGIC, 6);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(hlen & 0xff);
    pre[9] = (unsigned char)(hlen >> 8);

    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return bt_error_set(err, BT_EINPUT, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return bt_error_set(err, BT_EINTERNAL, "%s: cannot create: %s", tmp, strerror(errno));
    size_t nbytes = count * (size_t)isz;
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, hlen, f) == (size_t)hlen &&
             (nbytes == 0 || fwrite(data, 1, nbytes, f) == nbytes) && fflush(f) == 0 &&
             fsync(fileno(f)) == 0;
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        if (ok) e = errno;
        unlink(tmp);
        return bt_error_set(err, BT_EINTERNAL, "%s: cannot write: %s", path, strerror(e));
    }
    return BT_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* reading: a parser for the one dict literal NumPy writes (and the variants older versions and
 * hand-written files use: double quotes, 'L' suffixes, extra spaces, trailing commas). */

typedef struct {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int eat(cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string into out (at most cap-1 chars). */
static int parse_str(cursor *c, char *out, size_t cap) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (n + 1 >= cap) return 0;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    out[n] = '\0';
    return 1;
}

static int parse_word(cursor *c, const char *w) {
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) >= n && !memcmp(c->p, w, n)) {
        c->p += n;
        return 1;
    }
    return 0;
}

/* (d0, d1, ...) with a trailing comma allowed; -1 on syntax error, -2 on a bad dimension. */
static int parse_shape(cursor *c, int *ndim, int64_t *shape) {
    if (!eat(c, '(')) return -1;
    *ndim = 0;
    for (;;) {
        if (eat(c, ')')) return 0;
        skip_ws(c);
        if (c->p >= c->end) return -1;
        if (*c->p < '0' || *c->p > '9') return *c->p == '-' ? -2 : -1;
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > (INT64_MAX - 9) / 10) return -2;
            v = v * 10 + (*c->p++ - '0');
        }
        if (c->p < c->end && *c->p == 'L') c->p++; /* Python 2 long */
        if (*ndim >= BT_NPY_MAX_DIMS) return -2;
        shape[(*ndim)++] = v;
        if (!eat(c, ',')) return eat(c, ')') ? 0 : -1;
    }
}

static int parse_header(const char *path, const char *h, size_t len, char *descr, int *fortran,
                        bt_npy_info *info, bt_error *err) {
    cursor c = {h, h + len};
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    if (!eat(&c, '{')) return bt_error_set(err, BT_EINPUT, "%s: npy header is not a dict", path);
    while (!eat(&c, '}')) {
        char key[32];
        if (!parse_str(&c, key, sizeof key) || !eat(&c, ':'))
            return bt_error_set(err, BT_EINPUT, "%s: npy header dict: bad key at byte %d", path,
                                (int)(c.p - h));
        if (!strcmp(key, "descr") && !have_descr++) {
            if (!parse_str(&c, descr, 16))
                return bt_error_set(err, BT_EINPUT, "%s: npy header: 'descr' is not a simple "
                                    "type string (structured arrays are not supported)", path);
        } else if (!strcmp(key, "fortran_order") && !have_fortran++) {
            if (parse_word(&c, "True")) *fortran = 1;
            else if (parse_word(&c, "False")) *fortran = 0;
            else
                return bt_error_set(err, BT_EINPUT, "%s: npy header: 'fortran_order' is not "
                                    "True or False", path);
        } else if (!strcmp(key, "shape") && !have_shape++) {
            int r = parse_shape(&c, &info->ndim, info->shape);
            if (r)
                return bt_error_set(err, BT_EINPUT, "%s: npy header: %s", path,
                                    r == -1 ? "'shape' is not a tuple of integers"
                                            : "'shape' has a negative, huge or 33rd dimension");
        } else {
            return bt_error_set(err, BT_EINPUT, "%s: npy header: unexpected or repeated key '%s'",
                                path, key);
        }
        if (!eat(&c, ',')) {
            if (eat(&c, '}')) break;
            return bt_error_set(err, BT_EINPUT, "%s: npy header dict: expected ',' or '}' at "
                                "byte %d", path, (int)(c.p - h));
        }
    }
    if (!have_descr || !have_fortran || !have_shape)
        return bt_error_set(err, BT_EINPUT, "%s: npy header lacks '%s'", path,
                            !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    return BT_OK;
}

static void swap_bytes(unsigned char *p, size_t count, int isz) {
    for (size_t i = 0; i < count; i++, p += isz)
        for (int a = 0, b = isz - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

int bt_npy_read_f32(const char *path, bt_npy_info *info, float **data, bt_error *err) {
    *data = NULL;
    memset(info, 0, sizeof *info);
    FILE *f = fopen(path, "rb");
    if (!f) return bt_error_set(err, BT_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    char *hdr = NULL;
    unsigned char *raw = NULL;
    int rc = BT_OK;
    struct stat st;
    unsigned char pre[12];
    if (fstat(fileno(f), &st) != 0 || fread(pre, 1, 8, f) != 8 || memcmp(pre, NPY_MAGIC, 6)) {
        rc = bt_error_set(err, BT_EINPUT, "%s: not a .npy file (no \\x93NUMPY magic)", path);
        goto done;
    }
    int major = pre[6];
    if (major < 1 || major > 3) {
        rc = bt_error_set(err, BT_EINPUT, "%s: npy format version %d.%d is not supported "
                          "(1.x, 2.x, 3.x are)", path, major, pre[7]);
        goto done;
    }
    int lenbytes = major == 1 ? 2 : 4;
    if (fread(pre + 8, 1, lenbytes, f) != (size_t)lenbytes) {
        rc = bt_error_set(err, BT_EINPUT, "%s: npy file truncated in the header length", path);
        goto done;
    }
    uint32_t hlen = pre[8] | (uint32_t)pre[9] << 8;
    if (major > 1) hlen |= (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
    long data_start = 8 + lenbytes + (long)hlen;
    if (hlen > NPY_MAX_HEADER || data_start > st.st_size) {
        rc = bt_error_set(err, BT_EINPUT, "%s: npy header length %u exceeds the file (%lld "
                          "bytes)", path, hlen, (long long)st.st_size);
        goto done;
    }
    hdr = bt_malloc(hlen + 1, 1, "an npy header", NULL);
    if (!hdr || fread(hdr, 1, hlen, f) != hlen) {
        rc = bt_error_set(err, hdr ? BT_EINPUT : BT_EINTERNAL, "%s: cannot read the npy header",
                          path);
        goto done;
    }
    hdr[hlen] = '\0';
    char descr[16];
    int fortran = 0;
    if ((rc = parse_header(path, hdr, hlen, descr, &fortran, info, err))) goto done;
    if (fortran) {
        rc = bt_error_set(err, BT_EINPUT, "%s: fortran_order True is not supported (save a "
                          "C-ordered array: np.ascontiguousarray)", path);
        goto done;
    }
    int isz = 0, swap = 0;
    if ((descr[0] == '<' || descr[0] == '>') && descr[1] == 'f' && descr[3] == '\0' &&
        (descr[2] == '4' || descr[2] == '8')) {
        isz = descr[2] - '0';
        swap = descr[0] == '>';
    } else {
        rc = bt_error_set(err, BT_EINPUT, "%s: npy dtype '%s' is not float32 or float64", path,
                          descr);
        goto done;
    }
    info->dtype = isz == 4 ? BT_NPY_F32 : BT_NPY_F64;
    int64_t count = 1;
    for (int d = 0; d < info->ndim; d++) {
        if (info->shape[d] && count > INT64_MAX / 8 / info->shape[d]) {
            rc = bt_error_set(err, BT_EINPUT, "%s: npy shape is too large", path);
            goto done;
        }
        count *= info->shape[d];
    }
    info->count = count;
    int64_t want = count * isz, have = (int64_t)st.st_size - data_start;
    if (want != have) {
        rc = bt_error_set(err, BT_EINPUT, "%s: npy data is %lld bytes, shape and dtype '%s' "
                          "need %lld", path, (long long)have, descr, (long long)want);
        goto done;
    }
    if (count == 0) goto done;
    raw = bt_malloc((size_t)want, 1, path, err);
    if (!raw) {
        rc = BT_EINTERNAL;
        goto done;
    }
    if (fread(raw, 1, (size_t)want, f) != (size_t)want) {
        rc = bt_error_set(err, BT_EINPUT, "%s: cannot read npy data: %s", path, strerror(errno));
        goto done;
    }
    if (swap) swap_bytes(raw, (size_t)count, isz);
    if (isz == 8) { /* narrow in place: element i (8 bytes) -> slot i (4 bytes), front to back */
        float *dst = (float *)(void *)raw;
        for (int64_t i = 0; i < count; i++) {
            double v;
            memcpy(&v, raw + 8 * i, 8);
            /* out-of-range double -> float is undefined behaviour in C; IEEE would give inf */
            dst[i] = v > FLT_MAX ? INFINITY : v < -FLT_MAX ? -INFINITY : (float)v;
        }
    }
    *data = (float *)(void *)raw;
    raw = NULL;
done:
    free(raw);
    free(hdr);
    fclose(f);
    return rc;
}

void bt_npy_shape_str(const bt_npy_info *info, char *buf, size_t cap) {
    if (cap < 8) {
        if (cap) buf[0] = '\0';
        return;
    }
    /* keep room for ", ...]" so that a cut shape still reads as one */
    const size_t room = cap - 7;
    size_t k = 1;
    buf[0] = '[';
    buf[1] = '\0';
    for (int d = 0; d < info->ndim && d < BT_NPY_MAX_DIMS; d++) {
        char one[32];
        const int w = snprintf(one, sizeof one, "%s%lld", d ? ", " : "", (long long)info->shape[d]);
        if (w < 0 || k + (size_t)w > room) {
            memcpy(buf + k, d ? ", ...]" : "...]", d ? 7 : 5);
            return;
        }
        memcpy(buf + k, one, (size_t)w + 1);
        k += (size_t)w;
    }
    memcpy(buf + k, "]", 2);
}
