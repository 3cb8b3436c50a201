/* A model directory's weights: one safetensors file or a sharded set. */
#include "bertology/common.h"
#include "model/weights.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/model_internal.h"
#include "model/torch_pickle.h"

typedef int (*open_fn)(const char *path, bt_st_file *f, bt_error *err);

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const bt_weights_entry *)a)->name, ((const bt_weights_entry *)b)->name);
}

/* Shard names come from a file we do not control: keep them inside the model directory. */
static int shard_name_ok(const char *s) {
    return s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static int open_sharded(const char *dir, bt_weights *c, open_fn open_file, bt_error *err) {
    size_t len = 0;
    char *text = NULL;
    int rc = bt_read_file(c->path, BT_TEXT_FILE_MAX, &text, &len, err);
    if (rc) return rc;
    cJSON *root;
    rc = bt_json_parse(text, len, c->path, &root, err);
    free(text);
    if (rc) return rc;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) {
        cJSON_Delete(root);
        return bt_error_set(err, BT_EINPUT, "%s: no \"weight_map\" object", c->path);
    }
    int n = cJSON_GetArraySize(wm);
    /* distinct shard names, in order of first appearance; a model has a handful */
    const char **shard = bt_calloc((size_t)n + 1, sizeof *shard, "the shards", NULL);
    size_t name_bytes = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, wm) name_bytes += strlen(e->string) + 1;
    c->entries = bt_calloc((size_t)n + 1, sizeof *c->entries, "the weight map", NULL);
    c->names = bt_malloc(name_bytes + 1, 1, "the weight map", NULL);
    if (!shard || !c->entries || !c->names) {
        rc = bt_error_set(err, BT_EINTERNAL, "%s: out of memory", c->path);
        goto done;
    }
    char *np = c->names;
    cJSON_ArrayForEach(e, wm) {
        if (!cJSON_IsString(e) || !shard_name_ok(e->valuestring)) {
            rc = bt_error_set(err, BT_EINPUT, "%s: weight_map[\"%s\"] is not a file name in the model directory",
                              c->path, e->string);
            goto done;
        }
        int s = 0;
        while (s < c->n_files && strcmp(shard[s], e->valuestring) != 0) s++;
        if (s == c->n_files) shard[c->n_files++] = e->valuestring;
        size_t nl = strlen(e->string) + 1;
        memcpy(np, e->string, nl);
        c->entries[c->n_entries].name = np;
        c->entries[c->n_entries].shard = s;
        c->n_entries++;
        np += nl;
    }
    qsort(c->entries, (size_t)c->n_entries, sizeof *c->entries, cmp_entry);
    for (int i = 1; i < c->n_entries; i++)
        if (strcmp(c->entries[i - 1].name, c->entries[i].name) == 0) {
            rc = bt_error_set(err, BT_EINPUT, "%s: weight_map lists %s twice", c->path, c->entries[i].name);
            goto done;
        }
    c->files = bt_calloc((size_t)c->n_files + 1, sizeof *c->files, "the shards", err);
    if (!c->files) {
        rc = BT_EINTERNAL;
        goto done;
    }
    for (int s = 0; s < c->n_files; s++) {
        char p[2100];
        snprintf(p, sizeof p, "%s/%s", dir, shard[s]);
        if (!exists(p)) {
            rc = bt_error_set(err, BT_EINPUT, "%s: shard %s is missing", c->path, shard[s]);
            goto done;
        }
        if ((rc = open_file(p, &c->files[s], err))) goto done;
    }
    for (int i = 0; i < c->n_entries; i++)
        if (!bt_st_find(&c->files[c->entries[i].shard], c->entries[i].name)) {
            rc = bt_error_set(err, BT_EINPUT, "%s: tensor %s, listed in %s, is not in the file",
                              c->files[c->entries[i].shard].path, c->entries[i].name, c->path);
            goto done;
        }
done:
    free(shard);
    cJSON_Delete(root);
    return rc;
}

/* transformers' order: safetensors first, then the pickle formats (docs/model_files.md). */
int bt_weights_open(const char *dir, bt_weights *c, bt_error *err) {
    static const struct {
        const char *name;
        int sharded;
        open_fn open_file;
    } kinds[] = {{"model.safetensors", 0, bt_st_open},
                 {"model.safetensors.index.json", 1, bt_st_open},
                 {"pytorch_model.bin", 0, bt_torchbin_open},
                 {"pytorch_model.bin.index.json", 1, bt_torchbin_open}};
    memset(c, 0, sizeof *c);
    int rc = -1;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0] && rc < 0; k++) {
        snprintf(c->path, sizeof c->path, "%s/%s", dir, kinds[k].name);
        if (!exists(c->path)) continue;
        if (kinds[k].sharded) {
            rc = open_sharded(dir, c, kinds[k].open_file, err);
        } else {
            c->files = bt_calloc(1, sizeof *c->files, "the weights file", err);
            if (!c->files) return BT_EINTERNAL;
            c->n_files = 1;
            rc = kinds[k].open_file(c->path, &c->files[0], err);
        }
    }
    if (rc < 0)
        rc = bt_error_set(err, BT_EINPUT, "%s: no model.safetensors, model.safetensors.index.json, pytorch_model.bin "
                          "or pytorch_model.bin.index.json", dir);
    if (rc) bt_weights_close(c);
    return rc;
}

void bt_weights_close(bt_weights *c) {
    /* open_sharded counts shards before it allocates files: a failure in between leaves none */
    for (int s = 0; c->files && s < c->n_files; s++) bt_st_close(&c->files[s]);
    free(c->files);
    free(c->entries);
    free(c->names);
    memset(c, 0, sizeof *c);
}

const bt_st_tensor *bt_weights_find(const bt_weights *c, const char *name, const char **file) {
    int shard = 0;
    if (c->entries) {
        bt_weights_entry key = {name, 0};
        const bt_weights_entry *e = bsearch(&key, c->entries, (size_t)c->n_entries, sizeof key, cmp_entry);
        if (!e) return NULL;
        shard = e->shard;
    } else if (c->n_files != 1) {
        return NULL;
    }
    const bt_st_tensor *t = bt_st_find(&c->files[shard], name);
    if (t && file) *file = c->files[shard].path;
    return t;
}
