/* added_tokens.json (added_tokens.h), validated entry by entry and handed over in id order
 * (transformers adds them in that order, so a later token never shadows an earlier id). */
#include "bertology/common.h"
#include "added_tokens.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "textio.h"

#define MAX_ID ((1 << 24) - 1)

typedef struct {
    const char *token;
    int id;
} entry;

static int by_id(const void *a, const void *b) { return ((const entry *)a)->id - ((const entry *)b)->id; }

int bt_added_tokens_read(const char *dir, bt_added_fn fn, void *ctx, bt_error *err) {
    char path[4096];
    cJSON *root;
    int rc = bt_text_read_json(dir, "added_tokens.json", 1, &root, path, sizeof path, err);
    if (rc || !root) return rc; /* the file is optional */
    const int n = cJSON_GetArraySize(root);
    entry *e = bt_calloc((size_t)n + 1, sizeof *e, "added_tokens.json", err);
    if (!e) rc = BT_EINTERNAL;
    int k = 0;
    const cJSON *v;
    if (!rc)
        cJSON_ArrayForEach(v, root) {
            const size_t tl = strlen(v->string);
            if (!tl || bt_tok_utf8_error(v->string, tl) != tl || !cJSON_IsNumber(v) || v->valuedouble < 0 ||
                v->valuedouble > MAX_ID || v->valuedouble != (double)(int)v->valuedouble) {
                rc = bt_error_set(err, BT_EINPUT, "%s: entry \"%.60s\" is not a non-empty UTF-8 token with an "
                                  "integer id in [0, %d]", path, v->string, MAX_ID);
                break;
            }
            e[k].token = v->string;
            e[k++].id = (int)v->valuedouble;
        }
    if (!rc) qsort(e, (size_t)k, sizeof *e, by_id);
    for (int i = 0; i < k && !rc; i++) rc = fn(ctx, e[i].token, e[i].id, path, err);
    free(e);
    cJSON_Delete(root);
    return rc;
}
