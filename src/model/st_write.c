/* safetensors writer (F32 only): what bt_model_save needs. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "model/safetensors.h"

static char *build_header(const bt_st_out *t, int n, size_t *len) {
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_CreateObject();
    if (!root || !meta || !cJSON_AddItemToObject(root, "__metadata__", meta)) {
        cJSON_Delete(meta);
        goto fail;
    }
    if (!cJSON_AddStringToObject(meta, "format", "pt")) goto fail;
    uint64_t off = 0;
    /* every add is checked: a header missing an entry under memory pressure would be a corrupt file */
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject(), *shape = cJSON_CreateArray(), *offs = cJSON_CreateArray();
        if (!e || !shape || !offs || !cJSON_AddItemToObject(root, t[i].name, e)) {
            cJSON_Delete(e);
            cJSON_Delete(shape);
            cJSON_Delete(offs);
            goto fail;
        }
        if (!cJSON_AddItemToObject(e, "shape", shape)) {
            cJSON_Delete(shape);
            cJSON_Delete(offs);
            goto fail;
        }
        if (!cJSON_AddItemToObject(e, "data_offsets", offs)) {
            cJSON_Delete(offs);
            goto fail;
        }
        int ok = cJSON_AddStringToObject(e, "dtype", "F32") != NULL;
        uint64_t numel = 1;
        for (int d = 0; d < t[i].ndim && ok; d++) {
            numel *= (uint64_t)t[i].shape[d];
            cJSON *v = cJSON_CreateNumber((double)t[i].shape[d]);
            ok = v && cJSON_AddItemToArray(shape, v);
            if (!ok) cJSON_Delete(v);
        }
        cJSON *b = ok ? cJSON_CreateNumber((double)off) : NULL;
        off += 4 * numel;
        cJSON *en = b ? cJSON_CreateNumber((double)off) : NULL;
        if (!b || !en || !cJSON_AddItemToArray(offs, b)) {
            cJSON_Delete(b);
            cJSON_Delete(en);
            goto fail;
        }
        if (!cJSON_AddItemToArray(offs, en)) {
            cJSON_Delete(en);
            goto fail;
        }
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!s) return NULL;
    /* Pad with spaces so that the data region starts 8-byte aligned, as safetensors does. */
    size_t l = strlen(s), padded = (l + 7) / 8 * 8;
    char *p = bt_realloc(s, padded + 1, 1, "the safetensors header", NULL);
    if (!p) {
        free(s);
        return NULL;
    }
    memset(p + l, ' ', padded - l);
    p[padded] = '\0';
    *len = padded;
    return p;
fail:
    cJSON_Delete(root);
    return NULL;
}

static int write_tensor(FILE *fp, const bt_st_out *t) {
    int64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) numel *= t->shape[d];
    if (numel == 0) return 1;
    if (!t->transpose || t->ndim != 2) return fwrite(t->src, sizeof(float), (size_t)numel, fp) == (size_t)numel;
    /* file [rows, cols] from src [cols, rows]: gather one file row at a time */
    const int64_t rows = t->shape[0], cols = t->shape[1];
    float *row = bt_malloc((size_t)cols, sizeof *row, "a tensor row", NULL);
    if (!row) return 0;
    int ok = 1;
    for (int64_t i = 0; i < rows && ok; i++) {
        for (int64_t j = 0; j < cols; j++) row[j] = t->src[j * rows + i];
        ok = fwrite(row, sizeof *row, (size_t)cols, fp) == (size_t)cols;
    }
    free(row);
    return ok;
}

int bt_st_write_f32(const char *path, const bt_st_out *t, int n, bt_error *err) {
    size_t hlen = 0;
    char *header = build_header(t, n, &hlen);
    if (!header) return bt_error_set(err, BT_EINTERNAL, "%s: out of memory building the header", path);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        free(header);
        return bt_error_set(err, BT_EINTERNAL, "%s: cannot create: %s", tmp, strerror(errno));
    }
    uint64_t hl = hlen; /* little-endian host (checked in st_dtype.c) */
    int ok = fwrite(&hl, 8, 1, fp) == 1 && fwrite(header, 1, hlen, fp) == hlen;
    free(header);
    for (int i = 0; i < n && ok; i++) ok = write_tensor(fp, &t[i]);
    int e = errno;
    if (fclose(fp) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        if (ok) e = errno;
        remove(tmp);
        return bt_error_set(err, BT_EINTERNAL, "%s: write failed: %s", path, strerror(e));
    }
    return BT_OK;
}
