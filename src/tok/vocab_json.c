#include "vocab_json.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "textio.h"

int bt_vocab_json_read(const char *dir, bt_wp_table *vocab, int **entry_id, int **id_entry, int *n_ids,
                       bt_error *err) {
    char path[4096];
    cJSON *root;
    int rc = bt_text_read_json(dir, "vocab.json", 0, &root, path, sizeof path, err);
    if (rc) return rc;
    const int n = cJSON_GetArraySize(root);
    int *ids = *entry_id = bt_malloc((size_t)n + 1, sizeof *ids, "vocab.json", err);
    if (!ids) rc = BT_EINTERNAL;
    const cJSON *e;
    int max_id = -1;
    cJSON_ArrayForEach(e, root) {
        if (rc) break;
        const size_t kl = strlen(e->string);
        if (bt_tok_utf8_error(e->string, kl) != kl) {
            rc = bt_error_set(err, BT_EINPUT, "%s: token %d is not valid UTF-8", path, vocab->n);
            break;
        }
        const double v = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (!(v >= 0 && v <= BT_VOCAB_MAX_ID && v == (double)(int)v)) {
            rc = bt_error_set(err, BT_EINPUT, "%s: the id of \"%.60s\" is not an integer in [0, %d]", path, e->string,
                              BT_VOCAB_MAX_ID);
            break;
        }
        const int k = bt_wp_table_add(vocab, e->string, kl);
        if (k < 0) {
            rc = bt_error_set(err, BT_EINTERNAL, "out of memory");
            break;
        }
        ids[k] = (int)v;
        if ((int)v > max_id) max_id = (int)v;
    }
    cJSON_Delete(root);
    if (rc) return rc;
    if (max_id < 0)
        return bt_error_set(err, BT_EINPUT, "%s: no tokens (a BPE vocabulary maps each token to its id)", path);
    *n_ids = max_id + 1;
    int *idx = *id_entry = bt_malloc((size_t)*n_ids, sizeof *idx, "the id table", err);
    if (!idx) return BT_EINTERNAL;
    for (int i = 0; i < *n_ids; i++) idx[i] = -1;
    for (int k = 0; k < vocab->n; k++) idx[ids[k]] = k;
    return BT_OK;
}
