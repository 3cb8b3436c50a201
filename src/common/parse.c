#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"

const char *bt_format_shape(char *buf, size_t n, int ndim, const int64_t *shape, const char *sep) {
    if (!n) return buf;
    size_t k = 0;
    buf[0] = '\0';
    for (int d = -1; d <= ndim; d++) {
        char part[48];
        if (d < 0) snprintf(part, sizeof part, "[");
        else if (d == ndim) snprintf(part, sizeof part, "]");
        else snprintf(part, sizeof part, "%s%lld", d ? sep : "", (long long)shape[d]);
        const size_t m = strlen(part);
        if (k + m + 1 > n) {
            /* cut: keep what fits of "...]" at the end */
            const char *tail = "...]";
            const size_t t = strlen(tail) < n - 1 ? strlen(tail) : n - 1;
            if (k + t + 1 > n) k = n - 1 - t;
            memcpy(buf + k, tail, t);
            buf[k + t] = '\0';
            return buf;
        }
        memcpy(buf + k, part, m + 1);
        k += m;
    }
    return buf;
}

int bt_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    if (!s) return -1;
    char *end;
    errno = 0;
    const long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int bt_parse_int(const char *s, int lo, int hi, int *out) {
    int64_t v;
    if (bt_parse_i64(s, lo, hi, &v)) return -1;
    *out = (int)v;
    return 0;
}

int bt_parse_double(const char *s, double *out) {
    if (!s) return -1;
    char *end;
    errno = 0;
    const double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}
