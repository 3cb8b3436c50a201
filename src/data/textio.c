#include "textio.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define MAX_FILE_BYTES ((size_t)1 << 30)

int bt_text_slurp(const char *path, char **out, size_t *len, bt_error *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return bt_error_set(err, BT_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            return bt_error_set(err, BT_EINTERNAL, "%s: out of memory", path);
        }
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        if (cap >= MAX_FILE_BYTES) {
            free(buf);
            fclose(f);
            return bt_error_set(err, BT_EINPUT, "%s: larger than 1 GiB", path);
        }
        char *b = realloc(buf, cap * 2);
        if (!b) free(buf);
        buf = b;
        cap *= 2;
    }
    const int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return bt_error_set(err, BT_EINPUT, "%s: read error", path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return BT_OK;
}

size_t bt_text_utf8_error(const char *s, size_t len) {
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < len;) {
        if (p[i] < 0x80) { /* ASCII needs no decoding */
            i++;
            continue;
        }
        int32_t cp;
        const utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
        if (k < 0) return i;
        i += (size_t)k;
    }
    return len;
}
