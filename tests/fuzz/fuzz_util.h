/* Shared by the fuzz targets (tests/fuzz/fuzz_<name>.c, docs/hostile_inputs.md): a private
 * scratch directory for parsers that read model directories or files by path, splitting one
 * input into several files, and the check every target makes of a failure: a non-empty
 * one-line message with a known code.
 *
 * Everything here aborts on an infrastructure failure (cannot write the scratch file): that is
 * never the parser's fault, and aborting makes the fuzzer stop rather than report garbage. */
#ifndef BT_FUZZ_UTIL_H
#define BT_FUZZ_UTIL_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bertology/error.h"
#include "bertology/tokenizer.h"

static char fz_root[256];

static inline int fz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static inline void fz_cleanup(void) {
    if (fz_root[0]) nftw(fz_root, fz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The process's scratch directory (created once, removed at exit): in /dev/shm when there is
 * one, since targets rewrite their files on every input. */
static inline const char *fz_dir(void) {
    if (!fz_root[0]) {
        struct stat st;
        const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : getenv("TMPDIR");
        snprintf(fz_root, sizeof fz_root, "%s/bt-fuzz-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(fz_root)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fz_cleanup);
    }
    return fz_root;
}

/* fz_dir()/sub, created if needed. */
static inline const char *fz_subdir(const char *sub, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", fz_dir(), sub);
    if (mkdir(buf, 0700) != 0 && access(buf, W_OK) != 0) {
        perror("fuzz: mkdir");
        abort();
    }
    return buf;
}

static inline void fz_write(const char *dir, const char *name, const void *data, size_t len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

static inline void fz_unlink(const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

/* Copies a repository file (BT_SOURCE_DIR or the compiled-in source dir) into dir/name. */
static inline void fz_copy_fixture(const char *rel, const char *dir, const char *name) {
    const char *src = getenv("BT_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", src ? src : BT_FUZZ_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        abort();
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap && !(buf = realloc(buf, cap = cap ? 2 * cap : 1 << 16))) abort();
        size_t got = fread(buf + len, 1, cap - len, f);
        if (!got) break;
        len += got;
    }
    fclose(f);
    fz_write(dir, name, buf, len);
    free(buf);
}

/* Cuts data at its first n-1 NUL bytes into n parts (missing parts are empty). */
static inline void fz_split(const uint8_t *data, size_t size, int n, const uint8_t **part, size_t *len) {
    for (int i = 0; i < n; i++) {
        const uint8_t *nul = i < n - 1 ? memchr(data, 0, size) : NULL;
        part[i] = data;
        len[i] = nul ? (size_t)(nul - data) : size;
        const size_t used = nul ? len[i] + 1 : size;
        data += used;
        size -= used;
    }
}

/* A parser that fails must say why: a known code and a non-empty one-line message without
 * control bytes (names quoted from a hostile file included). */
static inline void fz_check_failure(int rc, const bt_error *err) {
    if (rc == BT_OK) return;
    int control = 0;
    for (const unsigned char *p = (const unsigned char *)err->msg; *p; p++) control |= *p < 0x20 || *p == 0x7f;
    if ((rc != BT_EINPUT && rc != BT_EINTERNAL) || err->code != rc || !err->msg[0] || control) {
        fprintf(stderr, "fuzz: failure %d without a proper message (code %d, \"%s\")\n", rc, err->code, err->msg);
        abort();
    }
}

/* GPT-2's byte-level BPE from tests/data, copied into the scratch subdirectory sub and loaded
 * (the targets that tokenise text or code). */
static inline bt_tok *fz_gpt2_tokenizer(const char *sub) {
    char tdir[300];
    fz_subdir(sub, tdir, sizeof tdir);
    fz_copy_fixture("tests/data/vocab/gpt2/vocab.json", tdir, "vocab.json");
    fz_copy_fixture("tests/data/vocab/gpt2/merges.txt", tdir, "merges.txt");
    bt_tok *tok = NULL;
    bt_error e;
    if (bt_tok_load(tdir, &tok, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        abort();
    }
    return tok;
}

#endif
