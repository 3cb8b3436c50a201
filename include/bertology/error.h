/* Errors shared by every module: a status code (the process exit code the CLI will use) and a
 * one-line message that names the file and the line, tensor or field at fault. Library code
 * never prints and never exits; it fills a bt_error and returns its code. */
#ifndef BERTOLOGY_ERROR_H
#define BERTOLOGY_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
    BT_OK = 0,
    BT_EINTERNAL = 1, /* a bug or a resource failure (out of memory, I/O error writing output) */
    BT_EINPUT = 2,    /* bad usage or bad input: the message says which file and what is wrong */
    BT_EINTERRUPTED = 3 /* stopped on request (a signal) at a batch boundary, the work so far
                           durable: the same command again resumes (docs/resume.md) */
};

#define BT_ERROR_MSG_MAX 1024

typedef struct {
    int code;
    char msg[BT_ERROR_MSG_MAX];
} bt_error;

/* Records code and a printf-style message in err (err may be NULL); returns code so that
 * callers can write `return bt_error_set(err, BT_EINPUT, "%s: ...", path);`. */
int bt_error_set(bt_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an existing message (used to add the file name at a higher layer). */
void bt_error_prefix(bt_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void bt_error_clear(bt_error *err);

#ifdef __cplusplus
}
#endif
#endif
