/* bt_model: a Hugging Face model directory <-> config + one contiguous F32 parameter block. */
#include "bertology/common.h"
#include "bertology/model.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/model_internal.h"

static void config_path(const char *dir, char *buf, size_t n) { snprintf(buf, n, "%s/config.json", dir); }

int bt_model_read_config(const char *dir, bt_config *cfg, bt_model *m, bt_error *err) {
    char path[1100], mt[32], an[96];
    config_path(dir, path, sizeof path);
    char *text;
    size_t len;
    int rc = bt_read_file(path, BT_TEXT_FILE_MAX, &text, &len, err);
    if (rc) return rc;
    rc = bt_config_parse(text, len, path, cfg, mt, sizeof mt, an, sizeof an, NULL, err);
    free(text);
    if (rc) return rc;
    bt_config_set_head(cfg, strstr(an, "ForSequenceClassification") != NULL);
    if ((rc = bt_config_check(cfg, err))) {
        bt_error_prefix(err, "%s", path);
        return rc;
    }
    if (m) {
        snprintf(m->model_type, sizeof m->model_type, "%s", mt);
        snprintf(m->arch_name, sizeof m->arch_name, "%s", an);
    }
    return BT_OK;
}

int bt_model_alloc(bt_model *m, const bt_config *cfg, bt_error *err) {
    free(m->block);
    m->block = NULL;
    m->cfg = *cfg;
    m->n_params = bt_params_count(cfg);
    const size_t bytes = (m->n_params * sizeof(float) + 63) / 64 * 64;
    void *p = bt_aligned_alloc(64, m->n_params, sizeof(float), "the parameters", err);
    if (!p) return BT_EINTERNAL;
    /* zero, so that the alignment gaps between tensors hold no garbage */
    memset(p, 0, bytes);
    m->block = p;
    bt_params_map(&m->cfg, m->block, &m->params);
    return BT_OK;
}

/* The tensor list of m's model type; *n receives its length. */
static bt_tensor_spec *specs_of(const bt_arch_ops *ops, const bt_config *cfg, const bt_params *p, const char *prefix,
                                int *n) {
    *n = ops->tensors(cfg, p, prefix, NULL);
    bt_tensor_spec *s = bt_calloc((size_t)*n + 1, sizeof *s, "the tensor list", NULL);
    if (s) ops->tensors(cfg, p, prefix, s);
    return s;
}

static int64_t spec_numel(const bt_tensor_spec *s) { return s->shape[0] * (s->ndim == 2 ? s->shape[1] : 1); }

/* Finds s in the weights, checks it and converts it into its view. */
static int load_tensor(const bt_weights *wts, const bt_tensor_spec *s, const char *cfg_path, int *dtype, bt_error *err) {
    const char *file = wts->path;
    const char *name = s->name;
    const bt_st_tensor *t = bt_weights_find(wts, s->name, &file);
    if (!t && s->alt[0] && (t = bt_weights_find(wts, s->alt, &file))) name = s->alt;
    if (!t) return bt_error_set(err, BT_EINPUT, "%s: missing tensor %s", wts->path, s->name);
    if (!bt_st_dtype_is_float(t->dtype))
        return bt_error_set(err, BT_EINPUT, "%s: tensor %s has dtype %s; weights must be F32, F16, BF16 or F64", file,
                            name, bt_st_dtype_name(t->dtype));
    int same = t->ndim == s->ndim;
    for (int d = 0; same && d < s->ndim; d++) same = t->shape[d] == s->shape[d];
    if (!same) {
        char got[160], want[64];
        bt_format_shape(got, sizeof got, t->ndim, t->shape, ",");
        bt_format_shape(want, sizeof want, s->ndim, s->shape, ",");
        return bt_error_set(err, BT_EINPUT, "%s: tensor %s has shape %s, %s says %s", file, name, got, cfg_path, want);
    }
    *dtype = *dtype == -1 || *dtype == t->dtype ? t->dtype : -2;
    int64_t bad = bt_st_to_f32(t, s->dst, s->transpose);
    if (bad >= 0)
        return bt_error_set(err, BT_EINPUT, "%s: tensor %s has a non-finite value (%g) at element %lld", file, name,
                            (double)bt_st_elem_f32(t, bad), (long long)bad);
    return BT_OK;
}

/* Before the block is allocated: every parameter is read from its own stored tensor, so a
 * config.json whose dims need far more parameters than the weights hold float values is refused
 * here. Otherwise a hostile config.json next to a small file would have us allocate and zero up
 * to 2^50 floats before the first shape check. The bound is loose (twice the values plus 2^20
 * floats for alignment and slack) so that weights missing a tensor or two still gets the
 * precise "missing tensor" message of load_tensor. The tensors' byte ranges are disjoint
 * (safetensors.c), so the files' size bounds these values. */
static int check_enough_values(const bt_weights *wts, const bt_config *cfg, const char *cfg_path, bt_error *err) {
    uint64_t have = 0;
    for (int f = 0; f < wts->n_files; f++)
        for (int i = 0; i < wts->files[f].n; i++)
            if (bt_st_dtype_is_float(wts->files[f].t[i].dtype)) have += (uint64_t)wts->files[f].t[i].numel;
    const uint64_t need = bt_params_count(cfg);
    if (need > 2 * have + ((uint64_t)1 << 20))
        return bt_error_set(err, BT_EINPUT,
                            "%s: its dimensions need %llu parameters, but the float tensors of %s hold only %llu "
                            "values",
                            cfg_path, (unsigned long long)need, wts->path, (unsigned long long)have);
    return BT_OK;
}

int bt_model_load(const char *dir, bt_model *m, bt_error *err) {
    memset(m, 0, sizeof *m);
    char path[1100], prefix[32] = "";
    config_path(dir, path, sizeof path);
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    size_t len;
    const bt_arch_ops *ops;
    bt_weights wts;
    bt_config cfg;
    bt_tensor_spec *specs = NULL;
    int rc = bt_read_file(path, BT_TEXT_FILE_MAX, &m->config_json, &len, err);
    if (rc) goto fail;
    if ((rc = bt_config_parse(m->config_json, len, path, &cfg, m->model_type, sizeof m->model_type, m->arch_name,
                              sizeof m->arch_name, &ops, err)))
        goto fail;
    if ((rc = bt_weights_open(dir, &wts, err))) goto fail;
    if ((rc = ops->inspect(&wts, m->arch_name, &cfg, prefix, sizeof prefix, err))) goto fail_ck;
    if ((rc = bt_config_check(&cfg, err))) {
        bt_error_prefix(err, "%s", path);
        goto fail_ck;
    }
    if ((rc = check_enough_values(&wts, &cfg, path, err))) goto fail_ck;
    if ((rc = bt_model_alloc(m, &cfg, err))) goto fail_ck;
    int n, dtype = -1;
    specs = specs_of(ops, &m->cfg, &m->params, prefix, &n);
    if (!specs) {
        rc = bt_error_set(err, BT_EINTERNAL, "out of memory");
        goto fail_ck;
    }
    for (int i = 0; i < n && !rc; i++) rc = load_tensor(&wts, &specs[i], path, &dtype, err);
    if (rc) goto fail_ck;
    snprintf(m->dtype, sizeof m->dtype, "%s", dtype == -2 ? "mixed" : bt_st_dtype_name(dtype));
    free(specs);
    bt_weights_close(&wts);
    return BT_OK;
fail_ck:
    free(specs);
    bt_weights_close(&wts);
fail:
    bt_model_free(m);
    return rc;
}

void bt_model_free(bt_model *m) {
    if (!m) return;
    free(m->block);
    free(m->config_json);
    memset(m, 0, sizeof *m);
}

static const bt_arch_ops *ops_of(const bt_model *m) {
    if (m->model_type[0]) return bt_arch_find(m->model_type);
    return m->cfg.arch == BT_ARCH_BERT ? &bt_bert_ops : NULL;
}

/* cJSON indents with tabs and writes "key":<tab>value; transformers writes two spaces and
 * "key": value. Raw tabs only come from the formatting (cJSON escapes those inside strings). */
static char *indent_like_hf(const char *s) {
    char *out = bt_malloc(2 * strlen(s) + 1, 1, "config.json", NULL), *o = out;
    if (!out) return NULL;
    for (const char *p = s; *p; p++) {
        if (*p != '\t')
            *o++ = *p;
        else if (p > s && p[-1] == ':')
            *o++ = ' ';
        else
            *o++ = ' ', *o++ = ' ';
    }
    *o = '\0';
    return out;
}

static int write_config(const bt_model *m, const bt_arch_ops *ops, const char *path, bt_error *err) {
    cJSON *root = m->config_json ? cJSON_Parse(m->config_json) : cJSON_CreateObject();
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return bt_error_set(err, BT_EINPUT, "%s: the model's config text is not a JSON object", path);
    }
    int rc = BT_OK;
    if (!cJSON_GetObjectItemCaseSensitive(root, "model_type") &&
        !cJSON_AddStringToObject(root, "model_type", ops->model_type))
        rc = bt_error_set(err, BT_EINTERNAL, "out of memory writing %s", path);
    if (!rc) rc = ops->write_config(root, &m->cfg, err);
    if (!rc) rc = bt_config_write_labels(root, &m->cfg, err);
    if (!rc) rc = bt_config_write_pruned(root, &m->cfg, err);
    char *raw = rc ? NULL : cJSON_Print(root);
    cJSON_Delete(root);
    if (rc) return rc;
    char *text = raw ? indent_like_hf(raw) : NULL;
    cJSON_free(raw);
    if (!text) return bt_error_set(err, BT_EINTERNAL, "out of memory writing %s", path);
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    int e = errno;
    if (f && fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    free(text);
    if (!ok || rename(tmp, path) != 0) {
        if (ok) e = errno;
        remove(tmp);
        return bt_error_set(err, BT_EINTERNAL, "%s: write failed: %s", path, strerror(e));
    }
    return BT_OK;
}

int bt_model_save(const bt_model *m, const char *dir, bt_error *err) {
    const bt_arch_ops *ops = ops_of(m);
    if (!ops)
        return bt_error_set(err, BT_EINPUT, "model_type \"%s\" cannot be saved (supported: %s)", m->model_type,
                            bt_arch_supported());
    if (!m->block) return bt_error_set(err, BT_EINPUT, "%s: the model has no parameters to save", dir);
    int rc = bt_config_check(&m->cfg, err);
    if (rc) return rc;
    if ((rc = bt_mkdir_p(dir, BT_EINTERNAL, err))) return rc;
    int n;
    bt_tensor_spec *specs = specs_of(ops, &m->cfg, &m->params, ops->save_prefix(&m->cfg), &n);
    bt_st_out *out = bt_calloc((size_t)n + 1, sizeof *out, "the tensor list", NULL);
    if (!specs || !out) {
        free(specs);
        free(out);
        return bt_error_set(err, BT_EINTERNAL, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        out[i].name = specs[i].name;
        out[i].ndim = specs[i].ndim;
        out[i].shape[0] = specs[i].shape[0];
        out[i].shape[1] = specs[i].shape[1];
        out[i].src = specs[i].dst;
        out[i].transpose = specs[i].transpose;
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    rc = bt_st_write_f32(path, out, n, err);
    free(out);
    free(specs);
    if (rc) return rc;
    config_path(dir, path, sizeof path);
    return write_config(m, ops, path, err);
}

size_t bt_model_param_count(const bt_model *m) {
    const bt_arch_ops *ops = ops_of(m);
    if (!ops) return 0;
    bt_params none;
    memset(&none, 0, sizeof none);
    int n;
    bt_tensor_spec *specs = specs_of(ops, &m->cfg, &none, "", &n);
    size_t total = 0;
    for (int i = 0; specs && i < n; i++) total += (size_t)spec_numel(&specs[i]);
    free(specs);
    return total;
}
