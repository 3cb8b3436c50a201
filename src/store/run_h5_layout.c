/* What a layout contains: dataset table, per-row offsets, checks and the file size estimate.
 * Pure functions of the layout, so every rank computes the same thing without talking. */
#include <string.h>

#include "run_h5_internal.h"

#define MAX_DIM (1 << 20) /* generous bound on C, D and T; their products are checked below */

/* Elements of the flat token, attention, hidden and attribution datasets, with every product
 * and sum checked: 4096 layers x 4096 heads x T^2 of one example alone can pass 2^64. Each total
 * (and each [n, L, H] row dataset) must stay below 2^63 / 8 elements, so that its bytes, the file
 * offsets and HDF5's hsize_t dims are exact. 0 or the name of the total that does not fit. */
static const char *checked_totals(const bt_store_layout *lay, int64_t *tok, int64_t *attn, int64_t *hid,
                                  int64_t *attrib) {
    const int64_t cap = INT64_MAX / 8;
    int64_t t = 0, a = 0, h = 0, m = 0, per_attn, per_hid, per_attrib, rows;
    if (__builtin_mul_overflow((int64_t)lay->n_attn_layers, (int64_t)lay->n_heads, &per_attn) ||
        __builtin_mul_overflow((int64_t)lay->n_hidden_layers, (int64_t)lay->d_model, &per_hid) ||
        __builtin_mul_overflow((int64_t)(lay->save_attributions ? lay->n_layers : 0), (int64_t)lay->n_heads,
                               &per_attrib))
        return "per-token sizes";
    if (__builtin_mul_overflow(lay->n_examples, (int64_t)lay->n_layers * lay->n_heads, &rows) || rows > cap ||
        __builtin_mul_overflow(lay->n_examples, (int64_t)(lay->n_labels + 1), &rows) || rows > cap)
        return "per-example rows (examples x layers x heads)";
    for (int64_t i = 0; i < lay->n_examples; i++) {
        const int64_t T = lay->lengths[i];
        int64_t x;
        if (__builtin_add_overflow(t, T, &t) || t > cap) return "token ids";
        if (__builtin_mul_overflow(per_attn, T * T, &x) || __builtin_add_overflow(a, x, &a) || a > cap)
            return "attentions (layers x heads x T^2)";
        if (__builtin_mul_overflow(per_hid, T, &x) || __builtin_add_overflow(h, x, &h) || h > cap)
            return "hidden states (layers x d_model x T)";
        if (__builtin_mul_overflow(per_attrib, T * T, &x) || __builtin_add_overflow(m, x, &m) || m > cap)
            return "attributions (layers x heads x T^2)";
    }
    if (tok) *tok = t;
    if (attn) *attn = a;
    if (hid) *hid = h;
    if (attrib) *attrib = m;
    return NULL;
}

int bt_run_h5_check_layout(const bt_store_layout *lay, bt_error *err) {
#define BAD(...) return bt_error_set(err, BT_EINTERNAL, "store layout: " __VA_ARGS__)
    if (!lay) BAD("NULL layout");
    if (lay->n_layers < 1 || lay->n_layers > 4096) BAD("n_layers %d", lay->n_layers);
    if (lay->n_heads < 1 || lay->n_heads > 4096) BAD("n_heads %d", lay->n_heads);
    if (lay->n_labels < 0 || lay->n_labels > MAX_DIM) BAD("n_labels %d", lay->n_labels);
    if (lay->regression && lay->n_labels != 1) BAD("regression needs n_labels 1, not %d",
                                                   lay->n_labels);
    if (lay->n_examples < 0 || lay->n_examples > INT32_MAX) BAD("n_examples %lld", (long long)lay->n_examples);
    if (lay->n_examples > 0 && !lay->lengths) BAD("lengths is NULL");
    for (int64_t i = 0; i < lay->n_examples; i++)
        if (lay->lengths[i] < 1 || lay->lengths[i] > MAX_DIM)
            BAD("lengths[%lld] = %d", (long long)i, lay->lengths[i]);
    if (lay->n_attn_layers < 0 || lay->n_attn_layers > lay->n_layers ||
        (lay->n_attn_layers && !lay->attn_layers))
        BAD("n_attn_layers %d", lay->n_attn_layers);
    for (int i = 0; i < lay->n_attn_layers; i++) {
        if (lay->attn_layers[i] < 0 || lay->attn_layers[i] >= lay->n_layers)
            BAD("attn_layers[%d] = %d outside 0..%d", i, lay->attn_layers[i], lay->n_layers - 1);
        if (i && lay->attn_layers[i] <= lay->attn_layers[i - 1])
            BAD("attn_layers not increasing at [%d]", i);
    }
    if (lay->n_hidden_layers < 0 || lay->n_hidden_layers > lay->n_layers + 1 ||
        (lay->n_hidden_layers && !lay->hidden_layers))
        BAD("n_hidden_layers %d", lay->n_hidden_layers);
    for (int i = 0; i < lay->n_hidden_layers; i++) {
        if (lay->hidden_layers[i] < 0 || lay->hidden_layers[i] > lay->n_layers)
            BAD("hidden_layers[%d] = %d outside 0..%d", i, lay->hidden_layers[i], lay->n_layers);
        if (i && lay->hidden_layers[i] <= lay->hidden_layers[i - 1])
            BAD("hidden_layers not increasing at [%d]", i);
    }
    if (lay->n_hidden_layers && (lay->d_model < 1 || lay->d_model > MAX_DIM))
        BAD("d_model %d", lay->d_model);
    if (lay->tensor_dtype != BT_STORE_F32 && lay->tensor_dtype != BT_STORE_F16)
        BAD("tensor_dtype %d", lay->tensor_dtype);
    if (lay->io_mode != BT_STORE_IO_INDEPENDENT && lay->io_mode != BT_STORE_IO_COLLECTIVE)
        BAD("io_mode %d", lay->io_mode);
    const char *big = checked_totals(lay, NULL, NULL, NULL, NULL);
    if (big)
        return bt_error_set(err, BT_EINPUT,
                            "store layout: the %s of %lld examples would exceed 2^60 elements: too large for "
                            "run.h5 (fewer examples, shorter sequences or fewer stored layers)",
                            big, (long long)lay->n_examples);
    uint64_t bytes = bt_run_h5_raw_bytes(lay);
    if (bytes > (uint64_t)INT64_MAX)
        return bt_error_set(err, BT_EINPUT, "store layout: run.h5 would hold more than 2^63 bytes");
    return BT_OK;
#undef BAD
}

void bt_run_h5_offsets(const bt_store_layout *lay, int64_t *tok, int64_t *attn, int64_t *hid, int64_t *attrib) {
    int64_t t = 0, a = 0, h = 0, m = 0;
    int64_t per_attn = (int64_t)lay->n_attn_layers * lay->n_heads;
    int64_t per_hid = (int64_t)lay->n_hidden_layers * lay->d_model;
    int64_t per_attrib = lay->save_attributions ? (int64_t)lay->n_layers * lay->n_heads : 0;
    for (int64_t i = 0; i <= lay->n_examples; i++) {
        if (tok) tok[i] = t;
        if (attn) attn[i] = a;
        if (hid) hid[i] = h;
        if (attrib) attrib[i] = m;
        if (i == lay->n_examples) break;
        int64_t T = lay->lengths[i];
        t += T;
        a += per_attn * T * T;
        h += per_hid * T;
        m += per_attrib * T * T;
    }
}

/* Shapes use the symbols of docs/run_h5.md (n examples, L layers, H heads, C labels, T tokens
 * of an example, Lsel / Lh layers of saved attentions / hidden states, D = d_model); "when"
 * names the layout field that switches a dataset on. Both go into the schema (bt_store_schema_json). */
int bt_run_h5_describe(const bt_store_layout *lay, bt_ds_desc d[DS_COUNT]) {
    memset(d, 0, sizeof(bt_ds_desc) * DS_COUNT);
    int64_t tok = 0, attn = 0, hid = 0, attrib = 0;
    /* totals without allocating: the last offset (callers checked the layout, so they fit) */
    checked_totals(lay, &tok, &attn, &hid, &attrib);
    hsize_t n = (hsize_t)lay->n_examples, L = lay->n_layers, H = lay->n_heads;
    int has_lab = lay->n_labels > 0, has_attn = lay->n_attn_layers > 0,
        has_hid = lay->n_hidden_layers > 0, has_attrib = lay->save_attributions != 0,
        has_roll = lay->save_rollout != 0;
#define DS(id, p, k, pres, when, ty, shape, r, a, b, c)                                       \
    d[id] = (bt_ds_desc){p, k, pres, r, {a, b, c}, 0, ty, shape, when};                      \
    d[id].per_row = (int64_t)((r) > 1 ? (b) : 1) * ((r) > 2 ? (c) : 1)
    DS(DS_INDEX, "/examples/index", K_ROW, 1, "always", T_I64, "n", 1, n, 0, 0);
    DS(DS_LENGTH, "/examples/length", K_ROW, 1, "always", T_I32, "n", 1, n, 0, 0);
    DS(DS_TOKEN_OFFSET, "/examples/token_offset", K_ROW, 1, "always", T_I64, "n", 1, n, 0, 0);
    DS(DS_TOKEN_IDS, "/examples/token_ids", K_TOK, 1, "always", T_I32, "sum(T)", 1, (hsize_t)tok, 0, 0);
    DS(DS_LABEL, "/examples/label", K_ROW, has_lab, "n_labels", lay->regression ? T_F32 : T_I32, "n", 1, n, 0, 0);
    DS(DS_LOGITS, "/examples/logits", K_ROW, has_lab, "n_labels", T_F32, "n,C", 2, n, (hsize_t)lay->n_labels, 0);
    DS(DS_LOSS, "/examples/loss", K_ROW, lay->has_loss, "has_loss", T_F64, "n", 1, n, 0, 0);
    DS(DS_GATE_GRAD, "/examples/gate_grad", K_ROW, lay->has_loss, "has_loss", T_F64, "n,L,H", 3, n, L, H);
    DS(DS_ENTROPY, "/examples/entropy", K_ROW, lay->has_entropy, "has_entropy", T_F64, "n,L,H", 3, n, L, H);
    DS(DS_ATTR_MAX, "/examples/attr_max", K_ROW, lay->has_attr_max != 0, "has_attr_max", T_F64, "n,L,H", 3, n, L, H);
    DS(DS_ATTN, "/attentions/data", K_ATTN, has_attn, "n_attn_layers", T_TENSOR, "sum(Lsel*H*T*T)", 1,
       (hsize_t)attn, 0, 0);
    DS(DS_ATTN_OFFSET, "/attentions/offset", K_ROW, has_attn, "n_attn_layers", T_I64, "n", 1, n, 0, 0);
    DS(DS_HID, "/hidden/data", K_HID, has_hid, "n_hidden_layers", T_TENSOR, "sum(Lh*T*D)", 1, (hsize_t)hid, 0, 0);
    DS(DS_HID_OFFSET, "/hidden/offset", K_ROW, has_hid, "n_hidden_layers", T_I64, "n", 1, n, 0, 0);
    DS(DS_ATTRIB, "/attribution/data", K_ATTRIB, has_attrib, "save_attributions", T_TENSOR, "sum(L*H*T*T)", 1,
       (hsize_t)attrib, 0, 0);
    DS(DS_ATTRIB_OFFSET, "/attribution/offset", K_ROW, has_attrib, "save_attributions", T_I64, "n", 1, n, 0, 0);
    /* f32 whatever tensor_dtype says: one value per token, and f16 would round relevances that
     * differ in the fourth digit together (the store_rows rollout is f32) */
    DS(DS_ROLLOUT, "/rollout/data", K_ROLL, has_roll, "save_rollout", T_F32, "sum(T)", 1, (hsize_t)tok, 0, 0);
    DS(DS_IMP_RAW, "/importance/raw", K_SMALL, 1, "always", T_F64, "L,H", 2, L, H, 0);
    DS(DS_IMP_NORM, "/importance/normalized", K_SMALL, 1, "always", T_F32, "L,H", 2, L, H, 0);
    DS(DS_IMP_RANK, "/importance/ranks", K_SMALL, 1, "always", T_I32, "L,H", 2, L, H, 0);
    DS(DS_ENT_RAW, "/entropy/raw", K_SMALL, 1, "always", T_F64, "L,H", 2, L, H, 0);
    DS(DS_ENT_NORM, "/entropy/normalized", K_SMALL, 1, "always", T_F32, "L,H", 2, L, H, 0);
#undef DS
    int count = 0;
    for (int i = 0; i < DS_COUNT; i++) count += d[i].present;
    return count;
}

const bt_attr_desc bt_run_h5_root_attrs[RA_COUNT] = {
    [RA_FORMAT] = {"format", A_STR, BT_ROOT_FORMAT},
    [RA_FORMAT_VERSION] = {"format_version", A_I64, NULL},
    [RA_STATUS] = {"status", A_STR, "running|complete|aborted|interrupted"},
    [RA_TASK] = {"task", A_STR, NULL},
    [RA_SPLIT] = {"split", A_STR, NULL},
    [RA_MODEL_DIR] = {"model_dir", A_STR, NULL},
    [RA_MODEL_CONFIG] = {"model_config", A_STR, NULL},
    [RA_OPTIONS] = {"options", A_STR, NULL},
    [RA_COMMAND_LINE] = {"command_line", A_STR, NULL},
    [RA_VERSION] = {"bertology_version", A_STR, NULL},
    [RA_OPENBLAS] = {"openblas_version", A_STR, NULL},
    [RA_HDF5] = {"hdf5_version", A_STR, NULL},
    [RA_MPI] = {"mpi_version", A_STR, NULL},
    [RA_CREATED] = {"created", A_STR, NULL},
    [RA_CHECKPOINT_ID] = {"checkpoint_id", A_STR, NULL},
    [RA_N_RANKS] = {"n_ranks", A_I64, NULL},
    [RA_N_LAYERS] = {"n_layers", A_I64, NULL},
    [RA_N_HEADS] = {"n_heads", A_I64, NULL},
    [RA_N_LABELS] = {"n_labels", A_I64, NULL},
    [RA_N_EXAMPLES] = {"n_examples", A_I64, NULL},
};

#define COUNTS {{GA_N_TOKENS, {"n_tokens", A_I64, NULL}, ""}, {GA_N_EXAMPLES, {"n_examples", A_I64, NULL}, ""}}
const bt_group_desc bt_run_h5_groups[G_COUNT] = {
    [G_EXAMPLES] = {"/examples", "always", NULL, 0, {{0}}},
    [G_IMPORTANCE] = {"/importance", "always", NULL, 2, COUNTS},
    [G_ENTROPY] = {"/entropy", "always", NULL, 2, COUNTS},
    [G_METRICS] = {"/metrics", "always", "float64", 0, {{0}}}, /* one attribute per metric */
    [G_ATTENTIONS] = {"/attentions", "n_attn_layers", NULL, 4,
                      {{GA_BLOCK_SHAPE, {"block_shape", A_STR, "layers,heads,T,T"}, ""},
                       {GA_N_HEADS, {"n_heads", A_I64, NULL}, ""},
                       {GA_LAYERS, {"layers", A_I32_LIST, NULL}, "Lsel"},
                       {GA_DTYPE, {"dtype", A_STR, "float16|float32"}, ""}}},
    [G_HIDDEN] = {"/hidden", "n_hidden_layers", NULL, 4,
                  {{GA_BLOCK_SHAPE, {"block_shape", A_STR, "layers,T,d_model"}, ""},
                   {GA_D_MODEL, {"d_model", A_I64, NULL}, ""},
                   {GA_LAYERS, {"layers", A_I32_LIST, NULL}, "Lh"},
                   {GA_DTYPE, {"dtype", A_STR, "float16|float32"}, ""}}},
    [G_ATTRIBUTION] = {"/attribution", "save_attributions", NULL, 3,
                       {{GA_BLOCK_SHAPE, {"block_shape", A_STR, "layers,heads,T,T"}, ""},
                        {GA_N_HEADS, {"n_heads", A_I64, NULL}, ""},
                        {GA_DTYPE, {"dtype", A_STR, "float16|float32"}, ""}}},
    /* indexed by /examples/token_offset: no offset dataset of its own */
    [G_ROLLOUT] = {"/rollout", "save_rollout", NULL, 1, {{GA_BLOCK_SHAPE, {"block_shape", A_STR, "T"}, ""}}},
};
#undef COUNTS

const bt_shape_symbol bt_run_h5_symbols[BT_N_SHAPE_SYMBOLS] = {
    {"n", "/", "n_examples", NULL, 0},         {"L", "/", "n_layers", NULL, 0},
    {"H", "/", "n_heads", NULL, 0},            {"C", "/", "n_labels", NULL, 0},
    {"T", NULL, NULL, "/examples/length", 0},  /* per example: in sum(...) only */
    {"Lsel", "/attentions", "layers", NULL, 1}, {"Lh", "/hidden", "layers", NULL, 1},
    {"D", "/hidden", "d_model", NULL, 0},
};

int bt_run_h5_group_present(const bt_store_layout *lay, int group) {
    if (group == G_ATTENTIONS) return lay->n_attn_layers > 0;
    if (group == G_HIDDEN) return lay->n_hidden_layers > 0;
    if (group == G_ATTRIBUTION) return lay->save_attributions != 0;
    if (group == G_ROLLOUT) return lay->save_rollout != 0;
    return 1;
}

int bt_run_h5_type_size(const bt_store_layout *lay, bt_h5_type t) {
    switch (t) {
    case T_I32: case T_F32: return 4;
    case T_I64: case T_F64: return 8;
    case T_TENSOR: return lay->tensor_dtype == BT_STORE_F16 ? 2 : 4;
    }
    return 0;
}

uint64_t bt_run_h5_raw_bytes(const bt_store_layout *lay) {
    bt_ds_desc d[DS_COUNT];
    bt_run_h5_describe(lay, d);
    uint64_t bytes = 0;
    for (int i = 0; i < DS_COUNT; i++) {
        if (!d[i].present) continue;
        uint64_t e = 1;
        for (int r = 0; r < d[i].rank; r++)
            if (__builtin_mul_overflow(e, (uint64_t)d[i].dims[r], &e)) return UINT64_MAX;
        if (__builtin_mul_overflow(e, (uint64_t)bt_run_h5_type_size(lay, d[i].type), &e) ||
            __builtin_add_overflow(bytes, e, &bytes))
            return UINT64_MAX;
    }
    return bytes;
}
