#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bertology/common.h"

int bt_mkdir_p(const char *path, int code, bt_error *err) {
    if (!path || !path[0]) return bt_error_set(err, code, "cannot create a directory with an empty name");
    const size_t n = strlen(path);
    char *p = bt_strdup(path, "a path", err);
    if (!p) return BT_EINTERNAL;
    int rc = BT_OK;
    /* every prefix ending before a '/' (the leading '/' of an absolute path is not a prefix) */
    for (size_t i = 1; i <= n && !rc; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        if (p[i - 1] == '/') continue; /* "a//b" */
        const char keep = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            rc = bt_error_set(err, code, "%s: cannot create directory: %s", p, strerror(errno));
        p[i] = keep;
    }
    free(p);
    struct stat st;
    if (!rc && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))) rc = bt_error_set(err, code, "%s: not a directory", path);
    return rc;
}

int bt_read_file(const char *path, size_t max_bytes, char **out, size_t *len, bt_error *err) {
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return bt_error_set(err, BT_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = bt_malloc(cap, 1, path, err);
    int rc = buf ? BT_OK : BT_EINTERNAL;
    while (!rc) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        if (n > max_bytes || cap > SIZE_MAX / 2) {
            rc = bt_error_set(err, BT_EINPUT, "%s: larger than %zu bytes", path, max_bytes);
            break;
        }
        char *b = bt_realloc(buf, cap * 2, 1, path, err);
        if (!b) rc = BT_EINTERNAL;
        else buf = b, cap *= 2;
    }
    if (!rc && ferror(f)) rc = bt_error_set(err, BT_EINPUT, "%s: read error", path);
    if (!rc && n > max_bytes) rc = bt_error_set(err, BT_EINPUT, "%s: larger than %zu bytes", path, max_bytes);
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return BT_OK;
}
