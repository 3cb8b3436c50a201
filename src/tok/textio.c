#include "textio.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

#include <cjson/cJSON.h>

size_t bt_tok_utf8_error(const char *s, size_t len) {
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

int bt_text_read_json(const char *dir, const char *name, int optional, cJSON **root, char *path, size_t pcap,
                      bt_error *err) {
    *root = NULL;
    snprintf(path, pcap, "%s/%s", dir, name);
    struct stat st;
    if (optional && stat(path, &st) != 0) return BT_OK;
    char *buf;
    size_t len;
    int rc = bt_read_file(path, BT_TEXT_FILE_MAX, &buf, &len, err);
    if (rc) return rc;
    const char *end = NULL;
    *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    const long at = end ? (long)(end - buf) : 0;
    free(buf);
    if (!*root) return bt_error_set(err, BT_EINPUT, "%s: invalid JSON near byte %ld", path, at);
    if (!cJSON_IsObject(*root)) {
        cJSON_Delete(*root);
        *root = NULL;
        return bt_error_set(err, BT_EINPUT, "%s: top level is not a JSON object", path);
    }
    return BT_OK;
}
