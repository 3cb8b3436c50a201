#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"

static int bytes_of(size_t n, size_t elem, size_t *bytes) {
    if (elem && n > SIZE_MAX / elem) return -1;
    *bytes = n * elem;
    if (!*bytes) *bytes = 1;
    return 0;
}

static void *fail(const char *what, size_t n, size_t elem, bt_error *err) {
    bt_error_set(err, BT_EINTERNAL, "out of memory for %s (%zu x %zu bytes)", what ? what : "a buffer", n, elem);
    return NULL;
}

void *bt_malloc(size_t n, size_t elem, const char *what, bt_error *err) {
    size_t bytes;
    void *p = bytes_of(n, elem, &bytes) ? NULL : malloc(bytes);
    return p ? p : fail(what, n, elem, err);
}

void *bt_calloc(size_t n, size_t elem, const char *what, bt_error *err) {
    size_t bytes;
    void *p = bytes_of(n, elem, &bytes) ? NULL : calloc(n ? n : 1, elem ? elem : 1);
    return p ? p : fail(what, n, elem, err);
}

void *bt_realloc(void *p, size_t n, size_t elem, const char *what, bt_error *err) {
    size_t bytes;
    void *q = bytes_of(n, elem, &bytes) ? NULL : realloc(p, bytes);
    return q ? q : fail(what, n, elem, err);
}

int bt_grow(void **p, size_t *cap, size_t need, size_t elem, const char *what, bt_error *err) {
    if (need <= *cap && *p) return BT_OK;
    size_t c = *cap > need ? *cap : need, bytes;
    if (c < SIZE_MAX / 2 && c < 2 * *cap) c = 2 * *cap;
    void *q = bytes_of(c, elem, &bytes) ? NULL : realloc(*p, bytes);
    if (!q) {
        fail(what, need, elem, err);
        return BT_EINTERNAL;
    }
    *p = q;
    *cap = c;
    return BT_OK;
}

void *bt_aligned_alloc(size_t align, size_t n, size_t elem, const char *what, bt_error *err) {
    size_t bytes;
    void *p = NULL;
    /* rounded up to the alignment, as aligned_alloc wants */
    if (!bytes_of(n, elem, &bytes) && bytes <= SIZE_MAX - align && posix_memalign(&p, align, (bytes + align - 1) / align * align))
        p = NULL;
    return p ? p : fail(what, n, elem, err);
}

char *bt_strdup(const char *s, const char *what, bt_error *err) {
    const size_t n = strlen(s) + 1;
    char *p = bt_malloc(n, 1, what, err);
    if (p) memcpy(p, s, n);
    return p;
}
