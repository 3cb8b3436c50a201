/* common: the helpers every floor shares (the lowest floor; docs/architecture.md). Checked
 * allocation that reports into a bt_error, mkdir -p, whole-file reads, shape formatting into a
 * bounded buffer and range-checked number parsing. Nothing here knows MPI, BLAS or HDF5. */
#ifndef BERTOLOGY_COMMON_H
#define BERTOLOGY_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "bertology/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest text input read whole (config.json, vocabularies, merges, tokenizer.json). */
#define BT_TEXT_FILE_MAX ((size_t)1 << 30)

/* The one way src/ allocates (tests/check_tree.sh refuses the libc allocators anywhere but
 * src/common/alloc.c): sizes checked for overflow, a failure reported in err (which may be NULL
 * when the caller words the message itself) with what was wanted and how much.
 *
 * n * elem bytes (overflow checked; 0 bytes allocates 1 so that NULL always means failure).
 * On failure sets err to BT_EINTERNAL "out of memory for WHAT (N bytes)" and returns NULL. */
void *bt_malloc(size_t n, size_t elem, const char *what, bt_error *err);
void *bt_calloc(size_t n, size_t elem, const char *what, bt_error *err);

/* p resized to n * elem bytes (as bt_malloc); on failure NULL with err set, and p untouched: the
 * caller still owns and frees it. */
void *bt_realloc(void *p, size_t n, size_t elem, const char *what, bt_error *err);

/* n * elem bytes aligned to align (a power of two, at least sizeof(void *)), the size rounded
 * up to a multiple of it; freed with free(). */
void *bt_aligned_alloc(size_t align, size_t n, size_t elem, const char *what, bt_error *err);
/* A copy of s. */
char *bt_strdup(const char *s, const char *what, bt_error *err);

/* Grows *p to hold at least need elements of elem bytes (capacity doubles); *p and *cap are
 * untouched on failure, so the caller still owns and frees the old block. */
int bt_grow(void **p, size_t *cap, size_t need, size_t elem, const char *what, bt_error *err);

/* mkdir -p: creates path and its missing parents (0777 & umask). An empty path is an error,
 * not the current directory. Fails with code when a component cannot be created or path is not
 * a directory; the message names the component. */
int bt_mkdir_p(const char *path, int code, bt_error *err);

/* The whole file into a malloc'd buffer with a NUL after the last byte (so text can be used as a
 * string); *len excludes the NUL. Files larger than max_bytes are refused with BT_EINPUT. */
int bt_read_file(const char *path, size_t max_bytes, char **out, size_t *len, bt_error *err);

/* "[2,3]" (sep ",") or "[2, 3]" (sep ", ") into buf of n bytes, cut with "..." when it does not
 * fit; never writes past buf[n-1]. Returns buf. */
const char *bt_format_shape(char *buf, size_t n, int ndim, const int64_t *shape, const char *sep);

/* Decimal integer s, whole string, within [lo, hi]. Returns 0, or -1 (out untouched). */
int bt_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);
int bt_parse_int(const char *s, int lo, int hi, int *out);
/* Finite floating-point number s, whole string. Returns 0 or -1. */
int bt_parse_double(const char *s, double *out);

#ifdef __cplusplus
}
#endif
#endif
