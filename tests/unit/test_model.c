/* bt_model: Hugging Face BERT directories written byte by byte by test_model_weights.h must load
 * into the right views with the right config, save and load back unchanged, and every kind of
 * bad input must come back as BT_EINPUT naming the file and the tensor or field. */
#include <cjson/cJSON.h>
#include <math.h>

#include "bertology/model.h"
#include "test_model_weights.h"

static const char *LABELS3 = ",\n  \"id2label\": {\"0\": \"a\", \"1\": \"b\", \"2\": \"c\"}";

/* The view a checkpoint tensor must land in, restated here from engine.h's layout contract. */
static void expect_view(const ck_file *f, const char *name, const float *view) {
    const ck_tensor *t = ck_find(f, name);
    ck_assert_msg(t != NULL, "fixture has no %s", name);
    ck_assert_msg(view != NULL, "no view for %s", name);
    ck_assert_msg(memcmp(view, t->expect, (size_t)t->numel * sizeof(float)) == 0, "%s did not land in its view", name);
}

static void check_views(const bt_model *m, const ck_file *f, const bert_fix *b) {
    const bt_params *p = &m->params;
    const int D = b->D, dh = b->D / b->H;
    char nm[200];
    const char *g = b->gamma_beta ? "gamma" : "weight", *be = b->gamma_beta ? "beta" : "bias";
#define V(view, ...)                                                                                                   \
    do {                                                                                                               \
        char base[160];                                                                                                \
        snprintf(base, sizeof base, __VA_ARGS__);                                                                      \
        snprintf(nm, sizeof nm, "%s%s", b->prefix, base);                                                              \
        expect_view(f, nm, view);                                                                                      \
    } while (0)
    V(p->wte, "embeddings.word_embeddings.weight");
    V(p->wpe, "embeddings.position_embeddings.weight");
    V(p->wtt, "embeddings.token_type_embeddings.weight");
    V(p->emb_ln_g, "embeddings.LayerNorm.%s", g);
    V(p->emb_ln_b, "embeddings.LayerNorm.%s", be);
    for (int l = 0; l < b->L; l++) {
        const bt_layer_params *lp = &p->layer[l];
        const int Dl = (b->kept[l] ? b->kept[l] : b->H) * dh;
        /* wqkv [3*Dl, D]: all query rows, then all key rows, then all value rows */
        V(lp->wqkv, "encoder.layer.%d.attention.self.query.weight", l);
        V(lp->wqkv + (size_t)Dl * D, "encoder.layer.%d.attention.self.key.weight", l);
        V(lp->wqkv + (size_t)2 * Dl * D, "encoder.layer.%d.attention.self.value.weight", l);
        V(lp->bqkv, "encoder.layer.%d.attention.self.query.bias", l);
        V(lp->bqkv + Dl, "encoder.layer.%d.attention.self.key.bias", l);
        V(lp->bqkv + 2 * Dl, "encoder.layer.%d.attention.self.value.bias", l);
        V(lp->wo, "encoder.layer.%d.attention.output.dense.weight", l);
        V(lp->bo, "encoder.layer.%d.attention.output.dense.bias", l);
        V(lp->ln1_g, "encoder.layer.%d.attention.output.LayerNorm.%s", l, g);
        V(lp->ln1_b, "encoder.layer.%d.attention.output.LayerNorm.%s", l, be);
        V(lp->w1, "encoder.layer.%d.intermediate.dense.weight", l);
        V(lp->b1, "encoder.layer.%d.intermediate.dense.bias", l);
        V(lp->w2, "encoder.layer.%d.output.dense.weight", l);
        V(lp->b2, "encoder.layer.%d.output.dense.bias", l);
        V(lp->ln2_g, "encoder.layer.%d.output.LayerNorm.%s", l, g);
        V(lp->ln2_b, "encoder.layer.%d.output.LayerNorm.%s", l, be);
    }
    if (b->pooler && m->cfg.has_pooler) {
        V(p->pool_w, "pooler.dense.weight");
        V(p->pool_b, "pooler.dense.bias");
    }
#undef V
    if (b->classifier && m->cfg.head != BT_HEAD_NONE) {
        expect_view(f, "classifier.weight", p->cls_w);
        expect_view(f, "classifier.bias", p->cls_b);
    }
}

/* transformers' num_parameters() of the fixture, counted from its dims. */
static size_t hf_count(const bert_fix *b, int with_pooler, int with_cls) {
    const size_t D = b->D, F = b->F, dh = D / b->H;
    size_t n = (size_t)(b->V + b->P + b->TT) * D + 2 * D;
    for (int l = 0; l < b->L; l++) {
        const size_t Dl = (b->kept[l] ? (size_t)b->kept[l] : (size_t)b->H) * dh;
        n += 3 * (Dl * D + Dl) + D * Dl + D + 2 * D + F * D + F + D * F + D + 2 * D;
    }
    if (with_pooler) n += D * D + D;
    if (with_cls) n += (size_t)b->C * D + b->C;
    return n;
}

static const char *make_dir(const bert_fix *b, ck_file *f, const char *arch, const char *extra) {
    const char *dir = tu_tmpdir();
    bert_build(b, f);
    ck_write(f, dir, "model.safetensors");
    bert_config(b, dir, arch, extra);
    return dir;
}

static void load_ok(const char *dir, bt_model *m) {
    bt_error e = {0};
    int rc = bt_model_load(dir, m, &e);
    ck_assert_msg(rc == BT_OK, "load %s: %s", dir, e.msg);
}

START_TEST(loads_classifier) {
    bert_fix b = bert_small();
    b.extra = 1; /* position_ids (I64) and an MLM bias must be ignored */
    ck_file f;
    const char *dir = make_dir(&b, &f, "BertForSequenceClassification", LABELS3);
    bt_model m;
    load_ok(dir, &m);
    const bt_config *c = &m.cfg;
    ck_assert_int_eq(c->arch, BT_ARCH_BERT);
    ck_assert_int_eq(c->n_layers, 2);
    ck_assert_int_eq(c->d_model, 8);
    ck_assert_int_eq(c->n_heads, 4);
    ck_assert_int_eq(c->d_head, 2);
    ck_assert_int_eq(c->d_ff, 12);
    ck_assert_int_eq(c->vocab_size, 11);
    ck_assert_int_eq(c->max_pos, 9);
    ck_assert_int_eq(c->type_vocab, 2);
    ck_assert_int_eq(c->pos_offset, 0);
    ck_assert_int_eq(c->n_labels, 3);
    ck_assert_int_eq(c->head, BT_HEAD_CLASSIFY);
    ck_assert_int_eq(c->has_pooler, 1);
    ck_assert_int_eq(c->act, BT_ACT_GELU);
    ck_assert_float_eq(c->ln_eps, 1e-12f);
    for (int l = 0; l < 2; l++) {
        ck_assert_int_eq(c->layer_heads[l], 4);
        for (int h = 0; h < 4; h++) ck_assert_int_eq(c->head_id[l][h], h);
    }
    ck_assert_str_eq(m.model_type, "bert");
    ck_assert_str_eq(m.arch_name, "BertForSequenceClassification");
    ck_assert_str_eq(m.dtype, "F32");
    ck_assert_str_eq(m.dir, dir);
    ck_assert_ptr_nonnull(strstr(m.config_json, "\"id2label\""));
    ck_assert_uint_eq(m.n_params, bt_params_count(c));
    ck_assert_uint_eq((uintptr_t)m.block % 64, 0);
    check_views(&m, &f, &b);
    /* a spot check by hand: row 1 of layer 1's key = wqkv row Dl + 1 */
    const ck_tensor *k = ck_find(&f, "bert.encoder.layer.1.attention.self.key.weight");
    ck_assert_float_eq(m.params.layer[1].wqkv[(8 + 1) * 8 + 3], k->expect[1 * 8 + 3]);
    ck_assert_uint_eq(bt_model_param_count(&m), hf_count(&b, 1, 1));
    bt_model_free(&m);
    ck_assert_ptr_null(m.block);
    ck_free(&f);
}
END_TEST

START_TEST(loads_half_dtypes) {
    static const char *dt[] = {"F16", "BF16"};
    for (int i = 0; i < 2; i++) {
        bert_fix b = bert_small();
        b.dtype = dt[i];
        ck_file f;
        const char *dir = make_dir(&b, &f, "BertForSequenceClassification", LABELS3);
        bt_model m;
        load_ok(dir, &m);
        ck_assert_str_eq(m.dtype, dt[i]);
        check_views(&m, &f, &b);
        bt_model_free(&m);
        ck_free(&f);
    }
}
END_TEST

START_TEST(loads_unaligned_data) {
    /* header length not a multiple of 8: every F32 tensor sits at an odd address */
    bert_fix b = bert_small();
    ck_file f;
    const char *dir = tu_tmpdir();
    bert_build(&b, &f);
    f.pad_header = 0;
    ck_write(&f, dir, "model.safetensors");
    bert_config(&b, dir, "BertForSequenceClassification", LABELS3);
    bt_model m;
    load_ok(dir, &m);
    check_views(&m, &f, &b);
    bt_model_free(&m);
    ck_free(&f);
}
END_TEST

START_TEST(loads_bert_model_without_prefix) {
    for (int pooler = 0; pooler < 2; pooler++) {
        bert_fix b = bert_small();
        b.prefix = "";
        b.classifier = 0;
        b.pooler = pooler;
        ck_file f;
        const char *dir = make_dir(&b, &f, "BertModel", NULL);
        bt_model m;
        load_ok(dir, &m);
        ck_assert_int_eq(m.cfg.head, BT_HEAD_NONE);
        ck_assert_int_eq(m.cfg.n_labels, 0);
        ck_assert_int_eq(m.cfg.has_pooler, pooler);
        ck_assert_ptr_null(m.params.cls_w);
        if (!pooler) ck_assert_ptr_null(m.params.pool_w);
        check_views(&m, &f, &b);
        ck_assert_uint_eq(bt_model_param_count(&m), hf_count(&b, pooler, 0));
        bt_model_free(&m);
        ck_free(&f);
    }
}
END_TEST

START_TEST(loads_old_layernorm_names) {
    bert_fix b = bert_small();
    b.gamma_beta = 1;
    ck_file f;
    const char *dir = make_dir(&b, &f, "BertForSequenceClassification", LABELS3);
    bt_model m;
    load_ok(dir, &m);
    check_views(&m, &f, &b);
    bt_model_free(&m);
    ck_free(&f);
}
END_TEST

START_TEST(regression_head) {
    bert_fix b = bert_small();
    b.C = 1;
    ck_file f;
    const char *dir = make_dir(&b, &f, "BertForSequenceClassification", ",\n  \"num_labels\": 1");
    bt_model m;
    load_ok(dir, &m);
    ck_assert_int_eq(m.cfg.head, BT_HEAD_REGRESS);
    ck_assert_int_eq(m.cfg.n_labels, 1);
    check_views(&m, &f, &b);
    bt_model_free(&m);
    ck_free(&f);
    /* no num_labels and no id2label: transformers' default of 2 labels */
    b.C = 2;
    b.act = "gelu_pytorch_tanh";
    dir = make_dir(&b, &f, "BertForSequenceClassification", NULL);
    load_ok(dir, &m);
    ck_assert_int_eq(m.cfg.head, BT_HEAD_CLASSIFY);
    ck_assert_int_eq(m.cfg.n_labels, 2);
    ck_assert_int_eq(m.cfg.act, BT_ACT_GELU_TANH);
    bt_model_free(&m);
    ck_free(&f);
}
END_TEST

/* Two shards and an index, as save_pretrained writes them for large models. */
static const char *write_sharded(const bert_fix *b, ck_file *f, int drop_shard, const char *missing_entry) {
    const char *dir = tu_tmpdir();
    bert_build(b, f);
    ck_file s[2];
    memset(s, 0, sizeof s);
    char index[16384];
    size_t k = (size_t)snprintf(index, sizeof index, "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
    for (int i = 0; i < f->n; i++) {
        const int sh = i < f->n / 2 ? 0 : 1;
        s[sh].t[s[sh].n++] = f->t[i]; /* shallow: the data stays owned by f */
        k += (size_t)snprintf(index + k, sizeof index - k, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"",
                              i ? ", " : "", f->t[i].name, sh + 1);
    }
    if (missing_entry)
        k += (size_t)snprintf(index + k, sizeof index - k, ", \"%s\": \"model-00001-of-00002.safetensors\"",
                              missing_entry);
    k += (size_t)snprintf(index + k, sizeof index - k, "}}\n");
    for (int sh = 0; sh < 2; sh++) {
        char nm[64];
        snprintf(nm, sizeof nm, "model-0000%d-of-00002.safetensors", sh + 1);
        if (sh != drop_shard) ck_write(&s[sh], dir, nm);
    }
    tu_write_file(dir, "model.safetensors.index.json", index, k);
    bert_config(b, dir, "BertForSequenceClassification", LABELS3);
    return dir;
}

START_TEST(loads_sharded) {
    bert_fix b = bert_small();
    b.dtype = "BF16";
    ck_file f;
    const char *dir = write_sharded(&b, &f, -1, NULL);
    bt_model m;
    load_ok(dir, &m);
    check_views(&m, &f, &b);
    bt_model_free(&m);
    ck_free(&f);
}
END_TEST

START_TEST(loads_pruned) {
    bert_fix b = bert_small();
    b.kept[0] = 2; /* layer 0 keeps heads 1 and 3 */
    b.kept[1] = 4;
    ck_file f;
    char extra[256];
    snprintf(extra, sizeof extra, "%s,\n  \"pruned_heads\": {\"0\": [2, 0]}", LABELS3);
    const char *dir = make_dir(&b, &f, "BertForSequenceClassification", extra);
    bt_model m;
    load_ok(dir, &m);
    ck_assert_int_eq(m.cfg.layer_heads[0], 2);
    ck_assert_int_eq(m.cfg.head_id[0][0], 1);
    ck_assert_int_eq(m.cfg.head_id[0][1], 3);
    ck_assert_int_eq(m.cfg.layer_heads[1], 4);
    check_views(&m, &f, &b);
    ck_assert_uint_eq(bt_model_param_count(&m), hf_count(&b, 1, 1));
    bt_model_free(&m);
    ck_free(&f);
    /* a layer may lose every head: its q/k/v are [0, D] and its output projection [D, 0] */
    b.kept[0] = 4;
    bert_build(&b, &f);
    ck_file g; /* f's tensors, with layer 0's attention projections replaced by empty ones */
    memset(&g, 0, sizeof g);
    g.pad_header = 1;
    for (int i = 0; i < f.n; i++) {
        const ck_tensor *t = &f.t[i];
        const int out_w = strstr(t->name, "layer.0.attention.output.dense.weight") != NULL;
        if (strstr(t->name, "layer.0.attention.self.") || out_w) {
            long long shape[2] = {out_w ? 8 : 0, out_w ? 0 : 8};
            ck_add_raw(&g, t->name, "F32", strstr(t->name, "bias") ? 1 : 2, shape, NULL, 0);
        } else {
            g.t[g.n++] = *t; /* shallow: f keeps ownership */
        }
    }
    dir = tu_tmpdir();
    ck_write(&g, dir, "model.safetensors");
    snprintf(extra, sizeof extra, "%s,\n  \"pruned_heads\": {\"0\": [0, 1, 2, 3]}", LABELS3);
    bert_config(&b, dir, "BertForSequenceClassification", extra);
    load_ok(dir, &m);
    ck_assert_int_eq(m.cfg.layer_heads[0], 0);
    ck_assert_int_eq(m.cfg.layer_heads[1], 4);
    expect_view(&f, "bert.encoder.layer.0.attention.output.dense.bias", m.params.layer[0].bo);
    expect_view(&f, "bert.encoder.layer.1.attention.self.value.weight", m.params.layer[1].wqkv + 2 * 8 * 8);
    const size_t D = 8, attn_without_bo = 3 * (D * D + D) + D * D;
    ck_assert_uint_eq(bt_model_param_count(&m), hf_count(&b, 1, 1) - attn_without_bo);
    bt_model_free(&m);
    for (int i = 0; i < g.n; i++)
        if (g.t[i].nbytes == 0) free(g.t[i].data); /* the empty ones g made */
    ck_free(&f);
}
END_TEST

START_TEST(read_config_only) {
    bert_fix b = bert_small();
    ck_file f;
    char extra[256];
    snprintf(extra, sizeof extra, "%s,\n  \"pruned_heads\": {\"1\": [3]}", LABELS3);
    const char *dir = make_dir(&b, &f, "BertForSequenceClassification", extra);
    bt_config c;
    bt_model m;
    memset(&m, 0, sizeof m);
    bt_error e = {0};
    ck_assert_int_eq(bt_model_read_config(dir, &c, &m, &e), BT_OK);
    ck_assert_int_eq(c.head, BT_HEAD_CLASSIFY);
    ck_assert_int_eq(c.n_labels, 3);
    ck_assert_int_eq(c.layer_heads[1], 3);
    ck_assert_int_eq(c.head_id[1][2], 2);
    ck_assert_str_eq(m.model_type, "bert");
    ck_assert_str_eq(m.arch_name, "BertForSequenceClassification");
    ck_assert_ptr_null(m.block);
    ck_assert_int_eq(bt_model_read_config(dir, &c, NULL, &e), BT_OK);
    ck_free(&f);
}
END_TEST

/* The saved file, read here as bytes: the header names and the metadata transformers needs. */
static char *saved_header(const char *dir) {
    char p[1200];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    FILE *fp = fopen(p, "rb");
    ck_assert_ptr_nonnull(fp);
    unsigned char len8[8];
    ck_assert_int_eq(fread(len8, 1, 8, fp), 8);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)len8[i] << (8 * i);
    ck_assert_uint_eq(n % 8, 0);
    char *h = calloc(n + 1, 1);
    ck_assert_uint_eq(fread(h, 1, n, fp), n);
    fclose(fp);
    return h;
}

static cJSON *saved_config(const char *dir) {
    char p[1200], buf[8192];
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *fp = fopen(p, "r");
    ck_assert_ptr_nonnull(fp);
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    ck_assert_ptr_nonnull(j);
    return j;
}

static void same_model(const bt_model *a, const bt_model *b) {
    ck_assert_int_eq(a->cfg.n_layers, b->cfg.n_layers);
    ck_assert_int_eq(a->cfg.head, b->cfg.head);
    ck_assert_int_eq(a->cfg.n_labels, b->cfg.n_labels);
    ck_assert_int_eq(a->cfg.has_pooler, b->cfg.has_pooler);
    ck_assert_int_eq(a->cfg.act, b->cfg.act);
    ck_assert_float_eq(a->cfg.ln_eps, b->cfg.ln_eps);
    for (int l = 0; l < a->cfg.n_layers; l++) {
        ck_assert_int_eq(a->cfg.layer_heads[l], b->cfg.layer_heads[l]);
        ck_assert_int_eq(memcmp(a->cfg.head_id[l], b->cfg.head_id[l], BT_MAX_HEADS), 0);
    }
    ck_assert_uint_eq(a->n_params, b->n_params);
    ck_assert_int_eq(memcmp(a->block, b->block, a->n_params * sizeof(float)), 0);
}

START_TEST(save_load_round_trip) {
    bert_fix b = bert_small();
    b.dtype = "F16";
    b.kept[0] = 3; /* head 1 pruned */
    b.extra = 1;
    ck_file f;
    char extra[512];
    snprintf(extra, sizeof extra, "%s,\n  \"pruned_heads\": {\"0\": [1]},\n  \"my_key\": {\"keep\": [1, \"x\"]}",
             LABELS3);
    const char *dir = make_dir(&b, &f, "BertForSequenceClassification", extra);
    bt_model m, m2;
    load_ok(dir, &m);
    char out[600];
    snprintf(out, sizeof out, "%s/saved/deeper", tu_tmpdir()); /* created, parents too */
    bt_error e = {0};
    ck_assert_msg(bt_model_save(&m, out, &e) == BT_OK, "%s", e.msg);
    load_ok(out, &m2);
    same_model(&m, &m2);
    ck_assert_str_eq(m2.dtype, "F32");
    char *h = saved_header(out);
    ck_assert_ptr_nonnull(strstr(h, "\"__metadata__\":{\"format\":\"pt\"}"));
    ck_assert_ptr_nonnull(strstr(h, "\"bert.encoder.layer.0.attention.self.query.weight\":{\"shape\":[6,8]"));
    ck_assert_ptr_nonnull(strstr(h, "\"bert.encoder.layer.0.attention.output.dense.weight\":{\"shape\":[8,6]"));
    ck_assert_ptr_nonnull(strstr(h, "\"classifier.weight\":{\"shape\":[3,8]"));
    ck_assert_ptr_null(strstr(h, "position_ids"));
    ck_assert_ptr_null(strstr(h, "F16"));
    free(h);
    cJSON *j = saved_config(out);
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(j, "pruned_heads");
    ck_assert_int_eq(cJSON_GetArraySize(ph), 1);
    const cJSON *l0 = cJSON_GetObjectItemCaseSensitive(ph, "0");
    ck_assert_int_eq(cJSON_GetArraySize(l0), 1);
    ck_assert_int_eq(cJSON_GetArrayItem(l0, 0)->valueint, 1);
    const cJSON *mine = cJSON_GetObjectItemCaseSensitive(j, "my_key");
    ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(mine, "keep"), 1)->valuestring, "x");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "id2label")), 3);
    ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "architectures"), 0)->valuestring,
                     "BertForSequenceClassification");
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(j, "hidden_size")->valueint, 8);
    cJSON_Delete(j);

    /* pruning more in memory (as `bertology prune` does) and saving writes the union */
    m2.cfg.layer_heads[1] = 2;
    m2.cfg.head_id[1][0] = 0;
    m2.cfg.head_id[1][1] = 2;
    bt_model m3;
    memset(&m3, 0, sizeof m3);
    ck_assert_int_eq(bt_model_alloc(&m3, &m2.cfg, &e), BT_OK);
    m3.config_json = strdup(m2.config_json);
    snprintf(m3.model_type, sizeof m3.model_type, "bert");
    ck_assert_int_eq(bt_model_save(&m3, out, &e), BT_OK);
    j = saved_config(out);
    ph = cJSON_GetObjectItemCaseSensitive(j, "pruned_heads");
    ck_assert_int_eq(cJSON_GetArraySize(ph), 2);
    const cJSON *l1 = cJSON_GetObjectItemCaseSensitive(ph, "1");
    ck_assert_int_eq(cJSON_GetArraySize(l1), 2);
    ck_assert_int_eq(cJSON_GetArrayItem(l1, 0)->valueint, 1);
    ck_assert_int_eq(cJSON_GetArrayItem(l1, 1)->valueint, 3);
    cJSON_Delete(j);
    bt_model m4;
    load_ok(out, &m4);
    ck_assert_int_eq(m4.cfg.layer_heads[1], 2);
    ck_assert_int_eq(m4.cfg.head_id[1][1], 2);
    bt_model_free(&m4);
    bt_model_free(&m3);
    bt_model_free(&m2);
    bt_model_free(&m);
    ck_free(&f);
}
END_TEST

START_TEST(save_encoder_without_prefix) {
    /* a BertForPreTraining checkpoint loads as an encoder and saves as a BertModel */
    bert_fix b = bert_small();
    b.classifier = 0;
    b.extra = 1;
    ck_file f;
    const char *dir = make_dir(&b, &f, "BertForPreTraining", NULL);
    bt_model m, m2;
    load_ok(dir, &m);
    ck_assert_int_eq(m.cfg.head, BT_HEAD_NONE);
    ck_assert_int_eq(m.cfg.has_pooler, 1);
    const char *out = tu_tmpdir();
    bt_error e = {0};
    ck_assert_msg(bt_model_save(&m, out, &e) == BT_OK, "%s", e.msg);
    char *h = saved_header(out);
    ck_assert_ptr_nonnull(strstr(h, "\"embeddings.word_embeddings.weight\""));
    ck_assert_ptr_nonnull(strstr(h, "\"pooler.dense.bias\""));
    ck_assert_ptr_null(strstr(h, "bert."));
    free(h);
    cJSON *j = saved_config(out);
    ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "architectures"), 0)->valuestring,
                     "BertModel");
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(j, "pruned_heads"));
    cJSON_Delete(j);
    load_ok(out, &m2);
    same_model(&m, &m2);
    bt_model_free(&m2);
    bt_model_free(&m);
    ck_free(&f);
}
END_TEST

START_TEST(save_fresh_model) {
    /* a model built in memory, with no config text, still saves a loadable directory */
    bt_config c;
    memset(&c, 0, sizeof c);
    c.arch = BT_ARCH_BERT;
    c.n_layers = 1, c.d_model = 4, c.n_heads = 2, c.d_head = 2, c.d_ff = 6, c.vocab_size = 5, c.max_pos = 3;
    c.type_vocab = 1, c.n_labels = 1, c.head = BT_HEAD_REGRESS, c.has_pooler = 1, c.act = BT_ACT_RELU, c.ln_eps = 1e-5f;
    bt_config_unpruned(&c);
    bt_model m, m2;
    memset(&m, 0, sizeof m);
    bt_error e = {0};
    ck_assert_int_eq(bt_model_alloc(&m, &c, &e), BT_OK);
    for (size_t i = 0; i < m.n_params; i++) m.block[i] = (float)i * 0.5f;
    const char *out = tu_tmpdir();
    ck_assert_msg(bt_model_save(&m, out, &e) == BT_OK, "%s", e.msg);
    load_ok(out, &m2);
    ck_assert_int_eq(m2.cfg.head, BT_HEAD_REGRESS);
    ck_assert_int_eq(m2.cfg.act, BT_ACT_RELU);
    ck_assert_float_eq(m2.cfg.ln_eps, 1e-5f);
    ck_assert_int_eq(m2.cfg.type_vocab, 1);
    ck_assert_float_eq(m2.params.layer[0].ln2_b[3], m.params.layer[0].ln2_b[3]);
    ck_assert_float_eq(m2.params.cls_b[0], m.params.cls_b[0]);
    cJSON *j = saved_config(out);
    ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(j, "layer_norm_eps")->valuedouble, 1e-5);
    cJSON_Delete(j);
    bt_model_free(&m2);
    bt_model_free(&m);
}
END_TEST

/* The rows (or, with cols_of, columns) of kept heads of a fixture tensor, in order. */
static void expect_heads(const ck_file *f, const char *name, const int *file_heads, int n, int dh, int D,
                         const float *view, int as_columns, int file_width) {
    const ck_tensor *t = ck_find(f, name);
    ck_assert_ptr_nonnull(t);
    for (int j = 0; j < n; j++)
        for (int i = 0; i < dh; i++) {
            const int src = file_heads[j] * dh + i, dstr = j * dh + i;
            if (!as_columns) {
                for (int c = 0; c < D; c++)
                    ck_assert_msg(view[dstr * D + c] == t->expect[src * D + c], "%s head slot %d row %d", name, j, i);
            } else {
                for (int r = 0; r < D; r++)
                    ck_assert_msg(view[r * (n * dh) + dstr] == t->expect[r * file_width + src], "%s col %d", name,
                                  dstr);
            }
        }
}

START_TEST(prunes_heads) {
    bert_fix b = bert_small();
    b.kept[0] = 3; /* the checkpoint already lacks head 2 of layer 0 */
    ck_file f;
    char extra[256];
    snprintf(extra, sizeof extra, "%s,\n  \"pruned_heads\": {\"0\": [2]}", LABELS3);
    const char *dir = make_dir(&b, &f, "BertForSequenceClassification", extra);
    bt_model m, p, back;
    load_ok(dir, &m);
    /* layer 0 drops head 1 (head 2 is gone whatever its entry); layer 1 drops heads 0 and 3 */
    const float mask[2 * 4] = {1, 0, 1, 1, 0, 1, 1, 0};
    bt_error e = {0};
    ck_assert_int_eq(bt_model_prune(&m, mask, &p, &e), BT_OK);
    ck_assert_int_eq(p.cfg.layer_heads[0], 2);
    ck_assert_int_eq(p.cfg.head_id[0][0], 0);
    ck_assert_int_eq(p.cfg.head_id[0][1], 3);
    ck_assert_int_eq(p.cfg.layer_heads[1], 2);
    ck_assert_int_eq(p.cfg.head_id[1][0], 1);
    ck_assert_int_eq(p.cfg.head_id[1][1], 2);
    /* layer 0's file holds heads 0,1,3 in slots 0,1,2: keep slots 0 and 2 */
    const int slots0[2] = {0, 2}, slots1[2] = {1, 2};
    const int D = 8, dh = 2, Dl = 4;
    const bt_layer_params *l0 = &p.params.layer[0], *l1 = &p.params.layer[1];
    expect_heads(&f, "bert.encoder.layer.0.attention.self.query.weight", slots0, 2, dh, D, l0->wqkv, 0, 0);
    expect_heads(&f, "bert.encoder.layer.0.attention.self.key.weight", slots0, 2, dh, D, l0->wqkv + Dl * D, 0, 0);
    expect_heads(&f, "bert.encoder.layer.0.attention.self.value.weight", slots0, 2, dh, D, l0->wqkv + 2 * Dl * D, 0, 0);
    expect_heads(&f, "bert.encoder.layer.0.attention.self.value.bias", slots0, 2, dh, 1, l0->bqkv + 2 * Dl, 0, 0);
    expect_heads(&f, "bert.encoder.layer.0.attention.output.dense.weight", slots0, 2, dh, D, l0->wo, 1, 6);
    expect_heads(&f, "bert.encoder.layer.1.attention.self.key.weight", slots1, 2, dh, D, l1->wqkv + Dl * D, 0, 0);
    expect_heads(&f, "bert.encoder.layer.1.attention.self.query.bias", slots1, 2, dh, 1, l1->bqkv, 0, 0);
    expect_heads(&f, "bert.encoder.layer.1.attention.output.dense.weight", slots1, 2, dh, D, l1->wo, 1, 8);
    expect_view(&f, "bert.encoder.layer.1.attention.output.dense.bias", l1->bo);
    expect_view(&f, "bert.encoder.layer.1.intermediate.dense.weight", l1->w1);
    expect_view(&f, "bert.embeddings.word_embeddings.weight", p.params.wte);
    expect_view(&f, "classifier.weight", p.params.cls_w);
    const size_t per_head = 3 * ((size_t)dh * D + dh) + (size_t)D * dh; /* q,k,v rows + o columns */
    ck_assert_uint_eq(bt_model_param_count(&p), bt_model_param_count(&m) - 3 * per_head);
    /* saved: pruned_heads is the union, and it loads back identical */
    const char *out = tu_tmpdir();
    ck_assert_msg(bt_model_save(&p, out, &e) == BT_OK, "%s", e.msg);
    cJSON *j = saved_config(out);
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(j, "pruned_heads");
    const cJSON *p0 = cJSON_GetObjectItemCaseSensitive(ph, "0"), *p1 = cJSON_GetObjectItemCaseSensitive(ph, "1");
    ck_assert_int_eq(cJSON_GetArraySize(p0), 2);
    ck_assert_int_eq(cJSON_GetArrayItem(p0, 0)->valueint, 1);
    ck_assert_int_eq(cJSON_GetArrayItem(p0, 1)->valueint, 2);
    ck_assert_int_eq(cJSON_GetArraySize(p1), 2);
    ck_assert_int_eq(cJSON_GetArrayItem(p1, 0)->valueint, 0);
    ck_assert_int_eq(cJSON_GetArrayItem(p1, 1)->valueint, 3);
    cJSON_Delete(j);
    load_ok(out, &back);
    same_model(&p, &back);
    bt_model_free(&back);
    bt_model_free(&p);
    /* a layer can lose all its heads */
    const float none1[2 * 4] = {1, 1, 1, 1, 0, 0, 0, 0};
    ck_assert_int_eq(bt_model_prune(&m, none1, &p, &e), BT_OK);
    ck_assert_int_eq(p.cfg.layer_heads[1], 0);
    ck_assert_int_eq(p.cfg.layer_heads[0], 3);
    expect_view(&f, "bert.encoder.layer.0.attention.self.query.weight", p.params.layer[0].wqkv);
    expect_view(&f, "bert.encoder.layer.1.attention.output.dense.bias", p.params.layer[1].bo);
    bt_model_free(&p);
    bt_model_free(&m);
    ck_free(&f);
}
END_TEST

/* ---- bad input ---- */

static void expect_fail(const char *dir, const char *must1, const char *must2) {
    bt_model m;
    bt_error e = {0};
    int rc = bt_model_load(dir, &m, &e);
    ck_assert_msg(rc == BT_EINPUT, "expected BT_EINPUT, got %d (%s)", rc, e.msg);
    ck_assert_int_eq(e.code, BT_EINPUT);
    ck_assert_ptr_null(m.block);
    ck_assert_ptr_null(m.config_json);
    ck_assert_msg(strstr(e.msg, must1) != NULL, "message \"%s\" lacks \"%s\"", e.msg, must1);
    if (must2) ck_assert_msg(strstr(e.msg, must2) != NULL, "message \"%s\" lacks \"%s\"", e.msg, must2);
    ck_assert_ptr_null(strchr(e.msg, '\n'));
}

static void ck_remove(ck_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) {
            free(f->t[i].data);
            free(f->t[i].expect);
            memmove(&f->t[i], &f->t[i + 1], (size_t)(f->n - i - 1) * sizeof f->t[0]);
            f->n--;
            return;
        }
    ck_abort_msg("no tensor %s", name);
}

static ck_tensor *ck_get(ck_file *f, const char *name) { return (ck_tensor *)ck_find(f, name); }

START_TEST(missing_files) {
    bert_fix b = bert_small();
    ck_file f;
    bert_build(&b, &f);
    const char *dir = tu_tmpdir();
    ck_write(&f, dir, "model.safetensors");
    expect_fail(dir, "config.json", "No such file");
    dir = tu_tmpdir();
    bert_config(&b, dir, "BertForSequenceClassification", LABELS3);
    expect_fail(dir, "no model.safetensors, model.safetensors.index.json, pytorch_model.bin", NULL);
    tu_write_file(dir, "pytorch_model.bin", "PK", 2);
    expect_fail(dir, "pytorch_model.bin: neither torch.save's zip format", NULL); /* torchbin.hostile: the rest */
    expect_fail("/nonexistent/bert", "/nonexistent/bert/config.json", NULL);
    ck_free(&f);
}
END_TEST

START_TEST(bad_files) {
    bert_fix b = bert_small();
    const char *dir = tu_tmpdir();
    bert_config(&b, dir, "BertForSequenceClassification", LABELS3);
    tu_write_file(dir, "model.safetensors", "\x10\x00\x00", 3);
    expect_fail(dir, "model.safetensors", "truncated");
    /* header length 4096, but the file ends after 10 bytes */
    tu_write_file(dir, "model.safetensors", "\x00\x10\x00\x00\x00\x00\x00\x00{}", 10);
    expect_fail(dir, "model.safetensors", "header length 4096");
    tu_write_file(dir, "model.safetensors", "\x05\x00\x00\x00\x00\x00\x00\x00{\"a\":", 13);
    expect_fail(dir, "model.safetensors", "JSON");
    const char *oob = "{\"w\":{\"dtype\":\"F32\",\"shape\":[100],\"data_offsets\":[0,400]}}";
    char buf[256];
    size_t n = strlen(oob);
    memset(buf, 0, sizeof buf);
    buf[0] = (char)n;
    memcpy(buf + 8, oob, n);
    tu_write_file(dir, "model.safetensors", buf, 8 + n + 16);
    expect_fail(dir, "tensor w", "outside the data region of 16 bytes");
    const char *mismatch = "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}";
    n = strlen(mismatch);
    buf[0] = (char)n;
    memcpy(buf + 8, mismatch, n);
    tu_write_file(dir, "model.safetensors", buf, 8 + n + 16);
    expect_fail(dir, "tensor w", "need 12");
    const char *neg = "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}";
    n = strlen(neg);
    buf[0] = (char)n;
    memcpy(buf + 8, neg, n);
    tu_write_file(dir, "model.safetensors", buf, 8 + n + 16);
    expect_fail(dir, "tensor w", "shape[0]");
}
END_TEST

START_TEST(bad_tensors) {
    bert_fix b = bert_small();
    ck_file f;
    const char *dir = tu_tmpdir();
    bert_config(&b, dir, "BertForSequenceClassification", LABELS3);

    bert_build(&b, &f);
    snprintf(ck_get(&f, "bert.encoder.layer.1.attention.self.key.bias")->dtype, 16, "Q4");
    ck_write(&f, dir, "model.safetensors");
    expect_fail(dir, "bert.encoder.layer.1.attention.self.key.bias", "unknown dtype \"Q4\"");
    ck_free(&f);

    bert_build(&b, &f);
    snprintf(ck_get(&f, "bert.pooler.dense.bias")->dtype, 16, "I32");
    ck_write(&f, dir, "model.safetensors");
    expect_fail(dir, "tensor bert.pooler.dense.bias has dtype I32", NULL);
    ck_free(&f);

    bert_build(&b, &f);
    ck_remove(&f, "bert.encoder.layer.1.output.LayerNorm.bias");
    ck_write(&f, dir, "model.safetensors");
    expect_fail(dir, "model.safetensors: missing tensor bert.encoder.layer.1.output.LayerNorm.bias", NULL);
    ck_free(&f);

    bert_build(&b, &f);
    ck_remove(&f, "classifier.weight");
    ck_write(&f, dir, "model.safetensors");
    expect_fail(dir, "missing tensor classifier.weight", "BertForSequenceClassification");
    ck_free(&f);

    bert_build(&b, &f);
    ck_tensor *t = ck_get(&f, "bert.encoder.layer.1.output.dense.bias");
    const float nan = NAN;
    memcpy(t->data + 5 * 4, &nan, 4);
    ck_write(&f, dir, "model.safetensors");
    expect_fail(dir, "tensor bert.encoder.layer.1.output.dense.bias has a non-finite value (nan) at element 5", NULL);
    ck_free(&f);

    b.dtype = "F16";
    bert_build(&b, &f);
    t = ck_get(&f, "bert.embeddings.word_embeddings.weight");
    const uint16_t inf16 = 0xfc00;
    memcpy(t->data + 2 * 17, &inf16, 2);
    ck_write(&f, dir, "model.safetensors");
    expect_fail(dir, "tensor bert.embeddings.word_embeddings.weight has a non-finite value (-inf) at element 17", NULL);
    ck_free(&f);
    b.dtype = "F32";

    /* config.json says intermediate_size 12, the file has 10 */
    bert_fix small = b;
    small.F = 10;
    bert_build(&small, &f);
    ck_write(&f, dir, "model.safetensors");
    expect_fail(dir, "model.safetensors: tensor bert.encoder.layer.0.intermediate.dense.weight has shape [10,8], ",
                "config.json says [12,8]");
    ck_free(&f);

    /* id2label says 2 labels, the classifier has 3 */
    bert_build(&b, &f);
    ck_write(&f, dir, "model.safetensors");
    bert_config(&b, dir, "BertForSequenceClassification", ",\n  \"id2label\": {\"0\": \"n\", \"1\": \"p\"}");
    expect_fail(dir, "tensor classifier.weight has shape [3,8]", "says [2,8]");
    ck_free(&f);
}
END_TEST

START_TEST(bad_shards) {
    bert_fix b = bert_small();
    ck_file f;
    const char *dir = write_sharded(&b, &f, 1, NULL);
    expect_fail(dir, "model.safetensors.index.json: shard model-00002-of-00002.safetensors is missing", NULL);
    ck_free(&f);
    dir = write_sharded(&b, &f, -1, "bert.extra.weight");
    expect_fail(dir, "model-00001-of-00002.safetensors: tensor bert.extra.weight", "index.json");
    ck_free(&f);
    dir = tu_tmpdir();
    bert_config(&b, dir, "BertForSequenceClassification", LABELS3);
    const char *evil = "{\"weight_map\": {\"a\": \"../../etc/passwd\"}}";
    tu_write_file(dir, "model.safetensors.index.json", evil, strlen(evil));
    expect_fail(dir, "index.json: weight_map[\"a\"]", NULL);
}
END_TEST

static void config_fail(const char *extra, const char *must1, const char *must2) {
    bert_fix b = bert_small();
    ck_file f;
    const char *dir = make_dir(&b, &f, "BertForSequenceClassification", extra);
    expect_fail(dir, must1, must2);
    ck_free(&f);
}

START_TEST(bad_config) {
    const char *dir = tu_tmpdir();
    const char *t5 = "{\"model_type\": \"t5\", \"d_model\": 8}";
    tu_write_file(dir, "config.json", t5, strlen(t5));
    expect_fail(dir, "config.json: model_type \"t5\" is not supported", "bert");
    const char *none = "{\"hidden_size\": 8}";
    tu_write_file(dir, "config.json", none, strlen(none));
    expect_fail(dir, "config.json: no \"model_type\"", NULL);
    tu_write_file(dir, "config.json", "{\n\"model_type\": \n\n,", 20);
    expect_fail(dir, "config.json:4: not valid JSON", NULL);
    char text[512];
    int n = snprintf(text, sizeof text,
                     "{\"model_type\": \"bert\", \"hidden_size\": 8, \"num_attention_heads\": 4, "
                     "\"hidden_act\": \"swish\"}");
    tu_write_file(dir, "config.json", text, (size_t)n);
    expect_fail(dir, "config.json: hidden_act \"swish\" is not supported", NULL);
    n = snprintf(text, sizeof text, "{\"model_type\": \"bert\", \"hidden_size\": 10, \"num_attention_heads\": 4}");
    tu_write_file(dir, "config.json", text, (size_t)n);
    expect_fail(dir, "config.json: hidden_size 10 is not a multiple of num_attention_heads 4", NULL);
    n = snprintf(text, sizeof text, "{\"model_type\": \"bert\", \"num_hidden_layers\": \"12\"}");
    tu_write_file(dir, "config.json", text, (size_t)n);
    expect_fail(dir, "config.json: \"num_hidden_layers\" must be an integer", NULL);
    n = snprintf(text, sizeof text, "{\"model_type\": \"bert\", \"num_hidden_layers\": 1000}");
    tu_write_file(dir, "config.json", text, (size_t)n);
    expect_fail(dir, "config.json: \"num_hidden_layers\"", NULL);
    n = snprintf(text, sizeof text, "{\"model_type\": \"bert\", \"position_embedding_type\": \"relative_key\"}");
    tu_write_file(dir, "config.json", text, (size_t)n);
    expect_fail(dir, "config.json: position_embedding_type \"relative_key\"", NULL);
    config_fail(",\n  \"pruned_heads\": {\"2\": [0]}", "config.json: pruned_heads key \"2\"", NULL);
    config_fail(",\n  \"pruned_heads\": {\"0\": [4]}", "config.json: pruned_heads[\"0\"] names head 4", NULL);
    config_fail(",\n  \"pruned_heads\": {\"0\": 1}", "config.json: pruned_heads[\"0\"]", NULL);
    config_fail(",\n  \"problem_type\": \"multi_label_classification\"", "config.json: problem_type", NULL);
    config_fail(",\n  \"num_labels\": 1, \"problem_type\": \"single_label_classification\"",
                "config.json: num_labels = 1", NULL);
}
END_TEST

int main(void) {
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_add_test(tc, loads_classifier);
    tcase_add_test(tc, loads_half_dtypes);
    tcase_add_test(tc, loads_unaligned_data);
    tcase_add_test(tc, loads_bert_model_without_prefix);
    tcase_add_test(tc, loads_old_layernorm_names);
    tcase_add_test(tc, regression_head);
    tcase_add_test(tc, loads_sharded);
    tcase_add_test(tc, loads_pruned);
    tcase_add_test(tc, read_config_only);
    tcase_add_test(tc, save_load_round_trip);
    tcase_add_test(tc, save_encoder_without_prefix);
    tcase_add_test(tc, save_fresh_model);
    tcase_add_test(tc, prunes_heads);
    tcase_add_test(tc, missing_files);
    tcase_add_test(tc, bad_files);
    tcase_add_test(tc, bad_tensors);
    tcase_add_test(tc, bad_shards);
    tcase_add_test(tc, bad_config);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
