#include "bertology/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Messages quote names taken from input files (tensor names, labels, paths): a control byte
 * there must not break the one-line message or reach a terminal as an escape sequence. */
static void one_line(char *msg) {
    for (unsigned char *p = (unsigned char *)msg; *p; p++)
        if (*p < 0x20 || *p == 0x7f) *p = '?';
}

int bt_error_set(bt_error *err, int code, const char *fmt, ...) {
    if (!err) return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    one_line(err->msg);
    return code;
}

void bt_error_prefix(bt_error *err, const char *fmt, ...) {
    if (!err) return;
    char head[BT_ERROR_MSG_MAX / 2], old[BT_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* a message longer than the buffer is cut at its end, never lost at its start */
    snprintf(err->msg, sizeof err->msg, "%.*s: %.*s", (int)sizeof head, head, (int)(sizeof err->msg - sizeof head - 3), old);
    one_line(err->msg);
}

void bt_error_clear(bt_error *err) {
    if (!err) return;
    err->code = BT_OK;
    err->msg[0] = '\0';
}
