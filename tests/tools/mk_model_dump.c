/* Test helper: loads a model directory with bt_model_load and dumps what it got, so that a
 * Python script can check it against torch.
 *
 *   mk_model_dump MODEL_DIR OUT_DIR [SAVE_DIR [MASK.f32]]
 *
 * OUT_DIR/model.json: config, dtype, parameter counts, load time; OUT_DIR/<view>.f32: each
 * view of the block as raw little-endian F32 (layer views as L<l>.<view>). With SAVE_DIR the
 * model is also written back with bt_model_save; with MASK.f32 (raw F32 [L, H] head mask) it
 * is pruned with bt_model_prune first, and the dump shows the pruned model. Exit code: the
 * library's error code. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bertology/model.h"

static int dump(const char *dir, const char *name, const float *v, size_t n) {
    if (!v) return 0;
    char p[2048];
    snprintf(p, sizeof p, "%s/%s.f32", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(v, sizeof *v, n, f) != n) {
        perror(p);
        if (f) fclose(f);
        return 1;
    }
    return fclose(f) != 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR OUT_DIR [SAVE_DIR]\n", argv[0]);
        return 2;
    }
    bt_model m;
    bt_error err = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = bt_model_load(argv[1], &m, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc) {
        fprintf(stderr, "%s\n", err.msg);
        return rc;
    }
    if (argc > 4) {
        float mask[BT_MAX_LAYERS * BT_MAX_HEADS];
        const size_t n = (size_t)m.cfg.n_layers * (size_t)m.cfg.n_heads;
        FILE *mf = fopen(argv[4], "rb");
        if (!mf || fread(mask, sizeof *mask, n, mf) != n) {
            fprintf(stderr, "%s: cannot read %zu floats\n", argv[4], n);
            return 2;
        }
        fclose(mf);
        bt_model pruned;
        if ((rc = bt_model_prune(&m, mask, &pruned, &err))) {
            fprintf(stderr, "%s\n", err.msg);
            return rc;
        }
        bt_model_free(&m);
        m = pruned;
    }
    const bt_config *c = &m.cfg;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "load_seconds",
                            (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    cJSON_AddStringToObject(j, "dtype", m.dtype);
    cJSON_AddStringToObject(j, "model_type", m.model_type);
    cJSON_AddStringToObject(j, "arch_name", m.arch_name);
    cJSON_AddNumberToObject(j, "param_count", (double)bt_model_param_count(&m));
    cJSON_AddNumberToObject(j, "block_floats", (double)m.n_params);
    const struct {
        const char *k;
        int v;
    } ints[] = {{"arch", c->arch},
                {"n_layers", c->n_layers},
                {"d_model", c->d_model},
                {"n_heads", c->n_heads},
                {"d_head", c->d_head},
                {"d_ff", c->d_ff},
                {"vocab_size", c->vocab_size},
                {"max_pos", c->max_pos},
                {"type_vocab", c->type_vocab},
                {"pos_offset", c->pos_offset},
                {"n_labels", c->n_labels},
                {"head", c->head},
                {"has_pooler", c->has_pooler},
                {"act", c->act}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) cJSON_AddNumberToObject(j, ints[i].k, ints[i].v);
    cJSON_AddNumberToObject(j, "ln_eps", c->ln_eps);
    cJSON *heads = cJSON_AddArrayToObject(j, "head_id");
    for (int l = 0; l < c->n_layers; l++) {
        cJSON *row = cJSON_CreateArray();
        for (int h = 0; h < c->layer_heads[l]; h++) cJSON_AddItemToArray(row, cJSON_CreateNumber(c->head_id[l][h]));
        cJSON_AddItemToArray(heads, row);
    }
    char p[2048];
    snprintf(p, sizeof p, "%s/model.json", argv[2]);
    FILE *f = fopen(p, "w");
    char *s = cJSON_Print(j);
    int bad = !f || fputs(s, f) < 0;
    if (f) bad |= fclose(f) != 0;
    cJSON_free(s);
    cJSON_Delete(j);

    const bt_params *w = &m.params;
    const size_t D = (size_t)c->d_model, F = (size_t)c->d_ff;
    bad |= dump(argv[2], "wte", w->wte, (size_t)c->vocab_size * D);
    bad |= dump(argv[2], "wpe", w->wpe, (size_t)c->max_pos * D);
    bad |= dump(argv[2], "wtt", w->wtt, (size_t)c->type_vocab * D);
    bad |= dump(argv[2], "emb_ln_g", w->emb_ln_g, D);
    bad |= dump(argv[2], "emb_ln_b", w->emb_ln_b, D);
    for (int l = 0; l < c->n_layers; l++) {
        const bt_layer_params *lp = &w->layer[l];
        const size_t Dl = (size_t)c->layer_heads[l] * (size_t)c->d_head;
        const struct {
            const char *k;
            const float *v;
            size_t n;
        } views[] = {{"wqkv", lp->wqkv, 3 * Dl * D}, {"bqkv", lp->bqkv, 3 * Dl},
                     {"wo", lp->wo, D * Dl},         {"bo", lp->bo, D},
                     {"ln1_g", lp->ln1_g, D},        {"ln1_b", lp->ln1_b, D},
                     {"w1", lp->w1, F * D},          {"b1", lp->b1, F},
                     {"w2", lp->w2, D * F},          {"b2", lp->b2, D},
                     {"ln2_g", lp->ln2_g, D},        {"ln2_b", lp->ln2_b, D}};
        for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
            char nm[64];
            snprintf(nm, sizeof nm, "L%d.%s", l, views[i].k);
            bad |= dump(argv[2], nm, views[i].v, views[i].n);
        }
    }
    bad |= dump(argv[2], "pool_w", w->pool_w, D * D);
    bad |= dump(argv[2], "pool_b", w->pool_b, D);
    bad |= dump(argv[2], "cls_w", w->cls_w, (size_t)c->n_labels * D);
    bad |= dump(argv[2], "cls_b", w->cls_b, (size_t)c->n_labels);
    if (argc > 3 && (rc = bt_model_save(&m, argv[3], &err))) fprintf(stderr, "%s\n", err.msg);
    bt_model_free(&m);
    return rc ? rc : bad ? 1 : 0;
}
