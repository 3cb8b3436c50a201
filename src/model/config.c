/* config.json: what every model type shares (model_type dispatch, labels, pruned_heads) and the
 * JSON field helpers the types use. Defaults follow transformers' PretrainedConfig. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/families.h"
#include "model/model_internal.h"

/* The extension point: gpt2, openai-gpt, roberta and distilbert go here when implemented. */
static const bt_arch_ops *const arch_table[] = {
    &bt_bert_ops,
    &bt_gpt2_ops,
    &bt_openai_gpt_ops,
    &bt_roberta_ops,
    &bt_distilbert_ops,
};
#define N_ARCH ((int)(sizeof arch_table / sizeof arch_table[0]))

const bt_arch_ops *bt_arch_find(const char *model_type) {
    for (int i = 0; i < N_ARCH; i++)
        if (strcmp(model_type, arch_table[i]->model_type) == 0) return arch_table[i];
    return NULL;
}

const char *bt_arch_supported(void) {
    static char buf[256];
    if (!buf[0])
        for (int i = 0; i < N_ARCH; i++)
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? ", " : "", arch_table[i]->model_type);
    return buf;
}

int bt_json_parse(const char *text, size_t len, const char *path, cJSON **root, bt_error *err) {
    const char *end = NULL;
    *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (*root && cJSON_IsObject(*root)) return BT_OK;
    if (*root) {
        cJSON_Delete(*root);
        *root = NULL;
        return bt_error_set(err, BT_EINPUT, "%s: not a JSON object", path);
    }
    int line = 1;
    for (const char *p = text; end && p < end && p < text + len; p++) line += *p == '\n';
    return bt_error_set(err, BT_EINPUT, "%s:%d: not valid JSON", path, line);
}

static const cJSON *field(const cJSON *root, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    return cJSON_IsNull(v) ? NULL : v;
}

int bt_json_int(const cJSON *root, const char *key, int def, int lo, int hi, const char *path, int *out,
                bt_error *err) {
    const cJSON *v = field(root, key);
    if (!v) {
        *out = def;
        return BT_OK;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= lo && d <= hi) || d != floor(d))
        return bt_error_set(err, BT_EINPUT, "%s: \"%s\" must be an integer in %d..%d", path, key, lo, hi);
    *out = (int)d;
    return BT_OK;
}

int bt_json_float(const cJSON *root, const char *key, double def, const char *path, float *out, bt_error *err) {
    const cJSON *v = field(root, key);
    if (!v) {
        *out = (float)def;
        return BT_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite((float)v->valuedouble))
        return bt_error_set(err, BT_EINPUT, "%s: \"%s\" must be a finite number", path, key);
    *out = (float)v->valuedouble;
    return BT_OK;
}

int bt_json_bool(const cJSON *root, const char *key, int def, const char *path, int *out, bt_error *err) {
    const cJSON *v = field(root, key);
    if (!v) {
        *out = def;
        return BT_OK;
    }
    if (!cJSON_IsBool(v)) return bt_error_set(err, BT_EINPUT, "%s: \"%s\" must be true or false", path, key);
    *out = cJSON_IsTrue(v);
    return BT_OK;
}

int bt_json_str(const cJSON *root, const char *key, const char *def, const char *path, const char **out,
                bt_error *err) {
    const cJSON *v = field(root, key);
    if (!v) {
        *out = def;
        return BT_OK;
    }
    if (!cJSON_IsString(v)) return bt_error_set(err, BT_EINPUT, "%s: \"%s\" must be a string", path, key);
    *out = v->valuestring;
    return BT_OK;
}

int bt_json_set_int(cJSON *root, const char *key, int value, int def) {
    const cJSON *v = field(root, key);
    if (v ? cJSON_IsNumber(v) && v->valuedouble == (double)value : def == value) return 1;
    cJSON *n = cJSON_CreateNumber(value);
    if (!n) return 0;
    if (cJSON_GetObjectItemCaseSensitive(root, key)) return cJSON_ReplaceItemInObjectCaseSensitive(root, key, n);
    return cJSON_AddItemToObject(root, key, n);
}

static int read_labels(const cJSON *root, const char *path, int *n_labels, int *regression, bt_error *err);

double bt_float_decimal(float f) {
    char buf[32];
    for (int prec = 6; prec < 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if ((float)strtod(buf, NULL) == f) return strtod(buf, NULL);
    }
    return (double)f;
}

int bt_config_write_labels(cJSON *root, const bt_config *cfg, bt_error *err) {
    if (cfg->head != BT_HEAD_CLASSIFY && cfg->head != BT_HEAD_REGRESS) return BT_OK;
    int n, regression;
    bt_error ignore;
    if (read_labels(root, "", &n, &regression, &ignore) == BT_OK && n == cfg->n_labels) return BT_OK;
    cJSON *id2label = cJSON_CreateObject(), *label2id = cJSON_CreateObject();
    int ok = id2label && label2id;
    for (int i = 0; ok && i < cfg->n_labels; i++) {
        char key[32], name[48];
        snprintf(key, sizeof key, "%d", i);
        snprintf(name, sizeof name, "LABEL_%d", i);
        ok = cJSON_AddStringToObject(id2label, key, name) && cJSON_AddNumberToObject(label2id, name, i);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(root, "id2label");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "label2id");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "num_labels");
    if (ok)
        ok = cJSON_AddItemToObject(root, "id2label", id2label) && cJSON_AddItemToObject(root, "label2id", label2id);
    else {
        cJSON_Delete(id2label);
        cJSON_Delete(label2id);
    }
    return ok ? BT_OK : bt_error_set(err, BT_EINTERNAL, "out of memory writing config.json");
}

int bt_act_parse(const char *name) {
    /* gelu_python is transformers' pure-Python spelling of the same erf GELU */
    if (strcmp(name, "gelu") == 0 || strcmp(name, "gelu_python") == 0) return BT_ACT_GELU;
    if (strcmp(name, "gelu_new") == 0 || strcmp(name, "gelu_pytorch_tanh") == 0) return BT_ACT_GELU_TANH;
    if (strcmp(name, "relu") == 0) return BT_ACT_RELU;
    return -1;
}

/* transformers: num_labels = len(id2label) when id2label is given, else num_labels, else 2. */
static int read_labels(const cJSON *root, const char *path, int *n_labels, int *regression, bt_error *err) {
    const cJSON *id2label = field(root, "id2label");
    int rc;
    if (id2label) {
        if (!cJSON_IsObject(id2label)) return bt_error_set(err, BT_EINPUT, "%s: \"id2label\" must be an object", path);
        *n_labels = cJSON_GetArraySize(id2label);
    } else if ((rc = bt_json_int(root, "num_labels", 2, 0, 1 << 20, path, n_labels, err))) {
        return rc;
    }
    const char *pt = "";
    if ((rc = bt_json_str(root, "problem_type", "", path, &pt, err))) return rc;
    if (strcmp(pt, "") != 0 && strcmp(pt, "regression") != 0 && strcmp(pt, "single_label_classification") != 0)
        return bt_error_set(err, BT_EINPUT,
                            "%s: problem_type \"%.64s\" is not supported (regression or single_label_classification)",
                            path, pt);
    *regression = strcmp(pt, "regression") == 0 || (pt[0] == '\0' && *n_labels == 1);
    return BT_OK;
}

/* {"layer": [head, ...]}: original head indices, as transformers' prune_heads records them. */
static int read_pruned(const cJSON *root, const char *path, bt_config *cfg, bt_error *err) {
    bt_config_unpruned(cfg);
    const cJSON *ph = field(root, "pruned_heads");
    if (!ph) return BT_OK;
    if (!cJSON_IsObject(ph)) return bt_error_set(err, BT_EINPUT, "%s: \"pruned_heads\" must be an object", path);
    const cJSON *e;
    cJSON_ArrayForEach(e, ph) {
        char *end;
        errno = 0;
        long l = strtol(e->string, &end, 10);
        if (end == e->string || *end || errno || l < 0 || l >= cfg->n_layers)
            return bt_error_set(err, BT_EINPUT, "%s: pruned_heads key \"%.32s\" is not a layer in 0..%d", path,
                                e->string, cfg->n_layers - 1);
        if (!cJSON_IsArray(e))
            return bt_error_set(err, BT_EINPUT, "%s: pruned_heads[\"%ld\"] must be a list of heads", path, l);
        unsigned long long gone = 0;
        const cJSON *h;
        cJSON_ArrayForEach(h, e) {
            double d = cJSON_IsNumber(h) ? h->valuedouble : -1;
            if (!(d >= 0 && d < cfg->n_heads) || d != floor(d))
                return bt_error_set(err, BT_EINPUT, "%s: pruned_heads[\"%ld\"] names head %g, not in 0..%d", path, l,
                                    cJSON_IsNumber(h) ? h->valuedouble : NAN, cfg->n_heads - 1);
            gone |= 1ull << (int)d;
        }
        int k = 0;
        for (int hh = 0; hh < cfg->n_heads; hh++)
            if (!(gone >> hh & 1ull)) cfg->head_id[l][k++] = (signed char)hh;
        for (int j = k; j < BT_MAX_HEADS; j++) cfg->head_id[l][j] = -1;
        cfg->layer_heads[l] = k;
    }
    return BT_OK;
}

int bt_config_write_pruned(cJSON *root, const bt_config *cfg, bt_error *err) {
    cJSON *ph = cJSON_CreateObject();
    if (!ph) return bt_error_set(err, BT_EINTERNAL, "out of memory");
    int any = 0;
    for (int l = 0; l < cfg->n_layers; l++) {
        if (cfg->layer_heads[l] == cfg->n_heads) continue;
        unsigned long long kept = 0;
        for (int j = 0; j < cfg->layer_heads[l]; j++) kept |= 1ull << cfg->head_id[l][j];
        cJSON *list = cJSON_CreateArray();
        char key[16];
        snprintf(key, sizeof key, "%d", l);
        int ok = list && cJSON_AddItemToObject(ph, key, list);
        if (!ok) cJSON_Delete(list);
        for (int h = 0; h < cfg->n_heads && ok; h++) {
            if (kept >> h & 1ull) continue;
            cJSON *v = cJSON_CreateNumber(h);
            ok = v && cJSON_AddItemToArray(list, v);
            if (!ok) cJSON_Delete(v);
        }
        /* a pruned_heads missing a head would load as a different model: fail instead */
        if (!ok) {
            cJSON_Delete(ph);
            return bt_error_set(err, BT_EINTERNAL, "out of memory writing pruned_heads");
        }
        any = 1;
    }
    int ok;
    if (cJSON_GetObjectItemCaseSensitive(root, "pruned_heads")) {
        ok = cJSON_ReplaceItemInObjectCaseSensitive(root, "pruned_heads", ph);
    } else if (any) {
        ok = cJSON_AddItemToObject(root, "pruned_heads", ph);
    } else {
        cJSON_Delete(ph);
        ok = 1;
    }
    return ok ? BT_OK : bt_error_set(err, BT_EINTERNAL, "out of memory");
}

/* bt_config_parse leaves the head as if the model classified; this drops it when it does not. */
void bt_config_set_head(bt_config *cfg, int classify) {
    if (!classify) {
        /* decoders always have their LM head: it is tied to the token embeddings */
        cfg->head = cfg->arch == BT_ARCH_BERT ? BT_HEAD_NONE : BT_HEAD_LM;
        cfg->n_labels = 0;
    }
}

int bt_config_parse(const char *text, size_t len, const char *path, bt_config *cfg, char *model_type,
                    size_t model_type_len, char *arch_name, size_t arch_name_len, const bt_arch_ops **ops,
                    bt_error *err) {
    memset(cfg, 0, sizeof *cfg);
    cJSON *root;
    int rc = bt_json_parse(text, len, path, &root, err);
    if (rc) return rc;
    const char *mt, *an = "";
    const cJSON *archs = field(root, "architectures");
    if ((rc = bt_json_str(root, "model_type", NULL, path, &mt, err))) goto done;
    if (!mt) {
        rc = bt_error_set(err, BT_EINPUT, "%s: no \"model_type\" (supported: %s)", path, bt_arch_supported());
        goto done;
    }
    const bt_arch_ops *a = bt_arch_find(mt);
    if (!a) {
        rc = bt_error_set(err, BT_EINPUT, "%s: model_type \"%.64s\" is not supported (supported: %s)", path, mt,
                          bt_arch_supported());
        goto done;
    }
    if (archs &&
        (!cJSON_IsArray(archs) || (cJSON_GetArraySize(archs) > 0 && !cJSON_IsString(cJSON_GetArrayItem(archs, 0))))) {
        rc = bt_error_set(err, BT_EINPUT, "%s: \"architectures\" must be a list of strings", path);
        goto done;
    }
    if (archs && cJSON_GetArraySize(archs) > 0) an = cJSON_GetArrayItem(archs, 0)->valuestring;
    if (model_type) snprintf(model_type, model_type_len, "%s", mt);
    if (arch_name) snprintf(arch_name, arch_name_len, "%s", an);
    if (ops) *ops = a;
    if ((rc = a->read_config(root, path, an, cfg, err))) goto done;
    int n_labels, regression;
    if ((rc = read_labels(root, path, &n_labels, &regression, err))) goto done;
    cfg->n_labels = n_labels;
    cfg->head = regression ? BT_HEAD_REGRESS : BT_HEAD_CLASSIFY;
    rc = read_pruned(root, path, cfg, err);
done:
    cJSON_Delete(root);
    return rc;
}
