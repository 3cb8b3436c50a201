/* The layout of run.h5 as JSON (bertology schema): generated from the tables the writer uses
 * (run_h5_layout.c), so a reader's copy can be checked against what bertology writes. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "run_h5_internal.h"

static const char *type_name(bt_h5_type t) {
    switch (t) {
    case T_I32: return "int32";
    case T_I64: return "int64";
    case T_F32: return "float32";
    case T_F64: return "float64";
    case T_TENSOR: return NULL; /* float16 or float32: the layout's tensor_dtype */
    }
    return NULL;
}

static const char *attr_type_name(bt_attr_type t) {
    return t == A_STR ? "str" : t == A_I64 ? "int64" : "int32[]";
}

/* "a|b" -> ["a", "b"] (sep '|'), "n,L,H" -> ["n", "L", "H"] (sep ','); no entry holds sep */
static cJSON *split_list(const char *v, char sep) {
    const char seps[2] = {sep, '\0'};
    cJSON *arr = cJSON_CreateArray();
    while (arr && v && *v) {
        size_t n = strcspn(v, seps);
        char buf[128];
        snprintf(buf, sizeof buf, "%.*s", (int)n, v);
        cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
        v += n + (v[n] == sep);
    }
    return arr;
}

static cJSON *attr_json(const bt_attr_desc *a, const char *shape) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", a->name);
    cJSON_AddStringToObject(o, "type", attr_type_name(a->type));
    if (shape && *shape) cJSON_AddItemToObject(o, "shape", split_list(shape, ','));
    if (a->values) cJSON_AddItemToObject(o, "values", split_list(a->values, '|'));
    return o;
}

/* dtypes a dataset takes over every layout: the label is float32 for regression. */
static cJSON *dtypes(const bt_ds_desc *cls, const bt_ds_desc *reg) {
    const char *names[4];
    int n = 0;
    for (int k = 0; k < 2; k++) {
        const char *t = type_name((k ? reg : cls)->type);
        if (!t) {
            names[n++] = "float16";
            names[n++] = "float32";
            break;
        }
        if (!n || strcmp(names[n - 1], t)) names[n++] = t;
    }
    return cJSON_CreateStringArray(names, n);
}

int bt_store_schema_json(char **out, bt_error *err) {
    *out = NULL;
    /* every dataset present, once as a classifier and once as a regression */
    const int one[1] = {0};
    bt_store_layout lay = {.n_layers = 1, .n_heads = 1, .n_labels = 1, .has_loss = 1, .has_entropy = 1,
                           .d_model = 1, .n_attn_layers = 1, .attn_layers = one, .n_hidden_layers = 1,
                           .hidden_layers = one, .has_attr_max = 1, .save_attributions = 1, .save_rollout = 1};
    bt_ds_desc cls[DS_COUNT], reg[DS_COUNT];
    bt_run_h5_describe(&lay, cls);
    lay.regression = 1;
    bt_run_h5_describe(&lay, reg);

    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", BT_ROOT_FORMAT);
    cJSON_AddNumberToObject(root, "format_version", BT_STORE_FORMAT_VERSION);
    cJSON_AddStringToObject(root, "generated_by", "bertology schema (src/store/run_h5_layout.c); docs/run_h5.md");
    cJSON *sym = cJSON_AddObjectToObject(root, "symbols");
    for (int i = 0; i < BT_N_SHAPE_SYMBOLS; i++) {
        const bt_shape_symbol *s = &bt_run_h5_symbols[i];
        cJSON *o = cJSON_AddObjectToObject(sym, s->symbol);
        if (s->dataset) cJSON_AddStringToObject(o, "per_example", s->dataset);
        if (s->object) {
            cJSON_AddStringToObject(o, "object", s->object);
            cJSON_AddStringToObject(o, "attribute", s->attr);
            cJSON_AddBoolToObject(o, "length", s->length);
        }
    }
    cJSON *ra = cJSON_AddArrayToObject(root, "root_attributes");
    for (int i = 0; i < RA_COUNT; i++) cJSON_AddItemToArray(ra, attr_json(&bt_run_h5_root_attrs[i], NULL));
    cJSON *gs = cJSON_AddArrayToObject(root, "groups");
    for (int i = 0; i < G_COUNT; i++) {
        const bt_group_desc *g = &bt_run_h5_groups[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", g->path);
        cJSON_AddStringToObject(o, "when", g->when);
        cJSON *at = cJSON_AddArrayToObject(o, "attributes");
        for (int k = 0; k < g->n_attrs; k++) cJSON_AddItemToArray(at, attr_json(&g->attrs[k].a, g->attrs[k].shape));
        if (g->any_attrs) cJSON_AddStringToObject(o, "other_attributes", g->any_attrs);
        cJSON_AddItemToArray(gs, o);
    }
    cJSON *ds = cJSON_AddArrayToObject(root, "datasets");
    for (int i = 0; i < DS_COUNT; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", cls[i].path);
        cJSON_AddItemToObject(o, "dtype", dtypes(&cls[i], &reg[i]));
        cJSON_AddItemToObject(o, "shape", split_list(cls[i].shape, ','));
        cJSON_AddStringToObject(o, "when", cls[i].when);
        cJSON_AddItemToArray(ds, o);
    }
    char *s = cJSON_Print(root);
    const int oom = !s || !cJSON_GetArraySize(ds);
    cJSON_Delete(root);
    if (oom) {
        free(s);
        return bt_error_set(err, BT_EINTERNAL, "run.h5 schema: out of memory");
    }
    *out = s;
    return BT_OK;
}
