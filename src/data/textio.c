#include "textio.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

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
