/* The loader for GPT-2, GPT (openai-gpt), RoBERTa and DistilBERT: checkpoints written byte by
 * byte here (test_model_weights.h) must land in the engine's views, Conv1D matrices transposed
 * ([in, out] in the file, [out, in] in the block) with GPT-2's fused c_attn split into its q,
 * k, v column blocks; configs must give the right architecture, head and offsets; saved models
 * must use transformers' names and layouts; the real tiny GPT-2 must load with the values
 * numpy reads from it; bad directories must fail naming the field or tensor. */
#include <cjson/cJSON.h>
#include <stdarg.h>

#include "bertology/model.h"
#include "test_model_weights.h"

/* ---- checks ---- */

static void load_ok(const char *dir, bt_model *m) {
    bt_error e = {0};
    int rc = bt_model_load(dir, m, &e);
    ck_assert_msg(rc == BT_OK, "load %s: %s", dir, e.msg);
}

static void expect_fail(const char *dir, const char *must1, const char *must2) {
    bt_model m;
    bt_error e = {0};
    int rc = bt_model_load(dir, &m, &e);
    ck_assert_msg(rc == BT_EINPUT, "expected BT_EINPUT, got %d (%s)", rc, e.msg);
    ck_assert_ptr_null(m.block);
    ck_assert_msg(strstr(e.msg, must1) != NULL, "message \"%s\" lacks \"%s\"", e.msg, must1);
    if (must2) ck_assert_msg(strstr(e.msg, must2) != NULL, "message \"%s\" lacks \"%s\"", e.msg, must2);
    ck_assert_ptr_null(strchr(e.msg, '\n'));
}

static const ck_tensor *find(const ck_file *f, const char *name) {
    const ck_tensor *t = ck_find(f, name);
    ck_assert_msg(t != NULL, "fixture has no %s", name);
    return t;
}

/* view holds tensor name as stored */
static void same(const ck_file *f, const char *name, const float *view) {
    const ck_tensor *t = find(f, name);
    ck_assert_msg(view != NULL, "no view for %s", name);
    ck_assert_msg(memcmp(view, t->expect, (size_t)t->numel * sizeof(float)) == 0, "%s is not in its view", name);
}

/* view holds tensor name ([rows, cols] in the file) transposed: view[j][i] = file[i][j] */
static void transposed(const ck_file *f, const char *name, const float *view) {
    const ck_tensor *t = find(f, name);
    ck_assert_msg(view != NULL, "no view for %s", name);
    const long long rows = t->shape[0], cols = t->shape[1];
    for (long long i = 0; i < rows; i++)
        for (long long j = 0; j < cols; j++)
            ck_assert_msg(view[j * rows + i] == t->expect[i * cols + j], "%s[%lld][%lld] is not at view[%lld][%lld]",
                          name, i, j, j, i);
}

static const char *nm(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *nm(const char *fmt, ...) {
    static char buf[4][200];
    static int k;
    char *b = buf[k++ % 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, 200, fmt, ap);
    va_end(ap);
    return b;
}

static char *saved_header(const char *dir) {
    char p[1200];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    FILE *fp = fopen(p, "rb");
    ck_assert_ptr_nonnull(fp);
    unsigned char len8[8];
    ck_assert_int_eq(fread(len8, 1, 8, fp), 8);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)len8[i] << (8 * i);
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

static const char *arch0(const cJSON *j) {
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "architectures"), 0)->valuestring;
}

static void same_model(const bt_model *a, const bt_model *b) {
    ck_assert_int_eq(a->cfg.arch, b->cfg.arch);
    ck_assert_int_eq(a->cfg.head, b->cfg.head);
    ck_assert_int_eq(a->cfg.n_labels, b->cfg.n_labels);
    ck_assert_int_eq(a->cfg.has_pooler, b->cfg.has_pooler);
    ck_assert_int_eq(a->cfg.pooler_act, b->cfg.pooler_act);
    ck_assert_int_eq(a->cfg.cls_last, b->cfg.cls_last);
    ck_assert_int_eq(a->cfg.pos_offset, b->cfg.pos_offset);
    ck_assert_int_eq(a->cfg.act, b->cfg.act);
    ck_assert_int_eq(a->cfg.d_ff, b->cfg.d_ff);
    ck_assert_float_eq(a->cfg.ln_eps, b->cfg.ln_eps);
    for (int l = 0; l < a->cfg.n_layers; l++) {
        ck_assert_int_eq(a->cfg.layer_heads[l], b->cfg.layer_heads[l]);
        ck_assert_int_eq(memcmp(a->cfg.head_id[l], b->cfg.head_id[l], BT_MAX_HEADS), 0);
    }
    ck_assert_uint_eq(a->n_params, b->n_params);
    ck_assert_int_eq(memcmp(a->block, b->block, a->n_params * sizeof(float)), 0);
}

static void save_ok(const bt_model *m, const char *dir) {
    bt_error e = {0};
    ck_assert_msg(bt_model_save(m, dir, &e) == BT_OK, "save %s: %s", dir, e.msg);
}

/* Writes dir/config.json: the object text with the keys of the object extra (may be NULL)
 * added or replacing its own. */
static void write_config(const char *dir, const char *text, const char *extra) {
    cJSON *j = cJSON_Parse(text), *x = extra ? cJSON_Parse(extra) : NULL;
    ck_assert_ptr_nonnull(j);
    ck_assert(!extra || x);
    for (cJSON *e = x ? x->child : NULL; e; e = e->next) {
        cJSON *copy = cJSON_Duplicate(e, 1);
        if (cJSON_GetObjectItemCaseSensitive(j, e->string))
            cJSON_ReplaceItemInObjectCaseSensitive(j, e->string, copy);
        else
            cJSON_AddItemToObject(j, e->string, copy);
    }
    char *out = cJSON_Print(j);
    tu_write_file(dir, "config.json", out, strlen(out));
    cJSON_free(out);
    cJSON_Delete(j);
    cJSON_Delete(x);
}

/* ---- decoders: GPT-2 and GPT ---- */

typedef struct {
    int L, D, H, F, V, P, C;
    int openai;         /* openai-gpt names, no ln_f */
    const char *prefix; /* "transformer." or "" */
    const char *dtype;
    int kept[4]; /* heads present in layer l (0 = all); pruned ones are the first H - kept */
    int extra;   /* lm_head.weight and the attn.bias / attn.masked_bias buffers */
} dec_fix;

static dec_fix dec_small(void) {
    dec_fix d = {.L = 2, .D = 8, .H = 4, .F = 32, .V = 13, .P = 7, .prefix = "transformer.", .dtype = "F32"};
    return d;
}

static int dec_Dl(const dec_fix *d, int l) { return (d->kept[l] ? d->kept[l] : d->H) * (d->D / d->H); }

static void dec_build(const dec_fix *d, ck_file *f) {
    memset(f, 0, sizeof *f);
    f->pad_header = 1;
    uint32_t seed = 100;
#define ADD(rows, cols, ...) ck_add_rand(f, nm("%s%s", d->prefix, nm(__VA_ARGS__)), d->dtype, rows, cols, seed++)
    ADD(d->V, d->D, d->openai ? "tokens_embed.weight" : "wte.weight");
    ADD(d->P, d->D, d->openai ? "positions_embed.weight" : "wpe.weight");
    for (int l = 0; l < d->L; l++) {
        const int Dl = dec_Dl(d, l);
        ADD(d->D, 0, "h.%d.ln_1.weight", l);
        ADD(d->D, 0, "h.%d.ln_1.bias", l);
        if (d->extra) {
            const long long s4[4] = {1, 1, d->P, d->P}, s0[1] = {0};
            float *tri = calloc((size_t)(d->P * d->P), sizeof(float)), m = -1e4f;
            ck_add_raw(f, nm("%sh.%d.attn.bias", d->prefix, l), "F32", 4, s4, tri, (size_t)(d->P * d->P) * 4);
            ck_add_raw(f, nm("%sh.%d.attn.masked_bias", d->prefix, l), "F32", 0, s0, &m, 4);
            free(tri);
        }
        ADD(d->D, 3 * Dl, "h.%d.attn.c_attn.weight", l);
        ADD(3 * Dl, 0, "h.%d.attn.c_attn.bias", l);
        ADD(Dl, d->D, "h.%d.attn.c_proj.weight", l);
        ADD(d->D, 0, "h.%d.attn.c_proj.bias", l);
        ADD(d->D, 0, "h.%d.ln_2.weight", l);
        ADD(d->D, 0, "h.%d.ln_2.bias", l);
        ADD(d->D, d->F, "h.%d.mlp.c_fc.weight", l);
        ADD(d->F, 0, "h.%d.mlp.c_fc.bias", l);
        ADD(d->F, d->D, "h.%d.mlp.c_proj.weight", l);
        ADD(d->D, 0, "h.%d.mlp.c_proj.bias", l);
    }
    if (!d->openai) {
        ADD(d->D, 0, "ln_f.weight");
        ADD(d->D, 0, "ln_f.bias");
    }
#undef ADD
    if (d->C) ck_add_rand(f, "score.weight", d->dtype, d->C, d->D, seed++);
    if (d->extra && !d->C) ck_add_rand(f, "lm_head.weight", d->dtype, d->V, d->D, 100);
}

/* config.json, with the keys of the JSON object extra on top */
static void dec_config(const dec_fix *d, const char *dir, const char *arch, const char *extra) {
    char text[4096];
    int n;
    if (d->openai)
        n = snprintf(text, sizeof text,
                     "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"openai-gpt\",\n  \"afn\": \"gelu\",\n"
                     "  \"n_embd\": %d,\n  \"n_layer\": %d,\n  \"n_head\": %d,\n  \"n_positions\": %d,\n"
                     "  \"vocab_size\": %d,\n  \"layer_norm_epsilon\": 1e-05\n}\n",
                     arch, d->D, d->L, d->H, d->P, d->V);
    else
        n = snprintf(text, sizeof text,
                     "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"gpt2\",\n"
                     "  \"activation_function\": \"gelu_new\",\n  \"n_embd\": %d,\n  \"n_layer\": %d,\n"
                     "  \"n_head\": %d,\n  \"n_inner\": %s,\n  \"n_positions\": %d,\n  \"n_ctx\": %d,\n"
                     "  \"vocab_size\": %d,\n  \"layer_norm_epsilon\": 1e-05\n}\n",
                     arch, d->D, d->L, d->H, d->F == 4 * d->D ? "null" : nm("%d", d->F), d->P, d->P, d->V);
    ck_assert_int_lt(n, (int)sizeof text);
    write_config(dir, text, extra);
}

static const char *dec_dir(const dec_fix *d, ck_file *f, const char *arch, const char *extra) {
    const char *dir = tu_tmpdir();
    dec_build(d, f);
    ck_write(f, dir, "model.safetensors");
    dec_config(d, dir, arch, extra);
    return dir;
}

static void dec_views(const bt_model *m, const ck_file *f, const dec_fix *d) {
    const bt_params *p = &m->params;
    const char *pre = d->prefix;
    same(f, nm("%s%s", pre, d->openai ? "tokens_embed.weight" : "wte.weight"), p->wte);
    same(f, nm("%s%s", pre, d->openai ? "positions_embed.weight" : "wpe.weight"), p->wpe);
    for (int l = 0; l < d->L; l++) {
        const bt_layer_params *lp = &p->layer[l];
        same(f, nm("%sh.%d.ln_1.weight", pre, l), lp->ln1_g);
        same(f, nm("%sh.%d.ln_1.bias", pre, l), lp->ln1_b);
        transposed(f, nm("%sh.%d.attn.c_attn.weight", pre, l), lp->wqkv);
        same(f, nm("%sh.%d.attn.c_attn.bias", pre, l), lp->bqkv);
        transposed(f, nm("%sh.%d.attn.c_proj.weight", pre, l), lp->wo);
        same(f, nm("%sh.%d.attn.c_proj.bias", pre, l), lp->bo);
        same(f, nm("%sh.%d.ln_2.weight", pre, l), lp->ln2_g);
        same(f, nm("%sh.%d.ln_2.bias", pre, l), lp->ln2_b);
        transposed(f, nm("%sh.%d.mlp.c_fc.weight", pre, l), lp->w1);
        same(f, nm("%sh.%d.mlp.c_fc.bias", pre, l), lp->b1);
        transposed(f, nm("%sh.%d.mlp.c_proj.weight", pre, l), lp->w2);
        same(f, nm("%sh.%d.mlp.c_proj.bias", pre, l), lp->b2);
    }
    if (!d->openai) {
        same(f, nm("%sln_f.weight", pre), p->lnf_g);
        same(f, nm("%sln_f.bias", pre), p->lnf_b);
    } else {
        ck_assert_ptr_null(p->lnf_g);
    }
    ck_assert_ptr_null(p->emb_ln_g);
    ck_assert_ptr_null(p->wtt);
    if (d->C) {
        same(f, "score.weight", p->cls_w);
        for (int c = 0; c < d->C; c++) ck_assert_float_eq(p->cls_b[c], 0.0f);
    } else {
        ck_assert_ptr_null(p->cls_w);
    }
}

/* transformers' num_parameters() of a decoder fixture (LM head tied: counted once) */
static size_t dec_count(const dec_fix *d) {
    const size_t D = d->D, F = d->F;
    size_t n = (size_t)(d->V + d->P) * D;
    for (int l = 0; l < d->L; l++) {
        const size_t Dl = dec_Dl(d, l);
        n += 2 * D + D * 3 * Dl + 3 * Dl + Dl * D + D + 2 * D + D * F + F + F * D + D;
    }
    return n + (d->openai ? 0 : 2 * D) + (size_t)d->C * D;
}

START_TEST(tiny_gpt2_loads) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/models/tiny-gpt2", tu_data_dir());
    bt_model m;
    load_ok(dir, &m);
    const bt_config *c = &m.cfg;
    ck_assert_int_eq(c->arch, BT_ARCH_GPT2);
    ck_assert_int_eq(c->n_layers, 2);
    ck_assert_int_eq(c->d_model, 2);
    ck_assert_int_eq(c->n_heads, 2);
    ck_assert_int_eq(c->d_head, 1);
    ck_assert_int_eq(c->d_ff, 8); /* n_inner null: 4 * n_embd */
    ck_assert_int_eq(c->vocab_size, 50257);
    ck_assert_int_eq(c->max_pos, 1024);
    ck_assert_int_eq(c->type_vocab, 0);
    ck_assert_int_eq(c->pos_offset, 0);
    ck_assert_int_eq(c->head, BT_HEAD_LM);
    ck_assert_int_eq(c->n_labels, 0);
    ck_assert_int_eq(c->has_pooler, 0);
    ck_assert_int_eq(c->act, BT_ACT_GELU_TANH);
    ck_assert_float_eq(c->ln_eps, 1e-5f);
    ck_assert_str_eq(m.model_type, "gpt2");
    ck_assert_str_eq(m.arch_name, "GPT2LMHeadModel");
    ck_assert_str_eq(m.dtype, "F32");
    /* values numpy reads from the file (safetensors_np, float32 printed with %.9g) */
    const bt_params *p = &m.params;
    ck_assert_float_eq(p->wte[50256 * 2 + 0], -0.0440042168f);
    ck_assert_float_eq(p->wte[50256 * 2 + 1], -0.0182080399f);
    ck_assert_float_eq(p->wpe[1023 * 2 + 0], -0.0186584145f);
    /* h.1.attn.c_attn.weight [in 2, out 6]: (in 0, out 1) is query row 1; (in 1, out 3) is key row 1 */
    ck_assert_float_eq(p->layer[1].wqkv[1 * 2 + 0], 0.0067835832f);
    ck_assert_float_eq(p->layer[1].wqkv[3 * 2 + 1], 0.017812347f);
    ck_assert_float_eq(p->layer[0].wo[1 * 2 + 0], -0.00121119851f); /* c_proj (in 0, out 1) */
    ck_assert_float_eq(p->layer[0].w1[5 * 2 + 1], -0.0204028916f);  /* c_fc (in 1, out 5) */
    ck_assert_float_eq(p->layer[0].w2[1 * 8 + 4], 0.0663253441f);   /* mlp.c_proj (in 4, out 1) */
    ck_assert_float_eq(p->layer[0].ln1_g[1], 1.0f);
    ck_assert_ptr_nonnull(p->lnf_g);
    ck_assert_ptr_null(p->cls_w);
    /* 2*50257 + 2*1024 + 2 * 74 per layer + 4 (ln_f): the sum of the file's 28 tensors */
    ck_assert_uint_eq(bt_model_param_count(&m), 102714);
    bt_model_free(&m);
}
END_TEST

START_TEST(gpt2_lm_views) {
    dec_fix d = dec_small();
    d.extra = 1; /* lm_head.weight, attn.bias [1,1,P,P], attn.masked_bias [] are skipped */
    ck_file f;
    const char *dir = dec_dir(&d, &f, "GPT2LMHeadModel", NULL);
    bt_model m;
    load_ok(dir, &m);
    const bt_config *c = &m.cfg;
    ck_assert_int_eq(c->arch, BT_ARCH_GPT2);
    ck_assert_int_eq(c->head, BT_HEAD_LM);
    ck_assert_int_eq(c->n_labels, 0);
    ck_assert_int_eq(c->d_ff, 32);
    ck_assert_int_eq(c->d_head, 2);
    ck_assert_int_eq(c->max_pos, 7);
    ck_assert_int_eq(c->act, BT_ACT_GELU_TANH);
    dec_views(&m, &f, &d);
    /* c_attn's columns Dl..2Dl-1 are the keys: file column 8 + 3 (key unit 3) = wqkv row 11 */
    const ck_tensor *t = find(&f, "transformer.h.1.attn.c_attn.weight");
    ck_assert_float_eq(m.params.layer[1].wqkv[(8 + 3) * 8 + 5], t->expect[5 * 24 + 8 + 3]);
    ck_assert_uint_eq(bt_model_param_count(&m), dec_count(&d));
    bt_model_free(&m);
    ck_free(&f);
}
END_TEST

START_TEST(gpt2_model_f16_no_prefix) {
    dec_fix d = dec_small();
    d.prefix = "";
    d.dtype = "F16";
    d.F = 20; /* n_inner given */
    ck_file f;
    const char *dir = dec_dir(&d, &f, "GPT2Model", NULL);
    bt_model m;
    load_ok(dir, &m);
    ck_assert_int_eq(m.cfg.head, BT_HEAD_LM); /* a bare decoder still has the tied LM head */
    ck_assert_int_eq(m.cfg.d_ff, 20);
    ck_assert_str_eq(m.dtype, "F16");
    dec_views(&m, &f, &d);
    bt_model_free(&m);
    ck_free(&f);
}
END_TEST

START_TEST(gpt2_classifier) {
    dec_fix d = dec_small();
    d.C = 3;
    ck_file f;
    const char *labels = "{\"id2label\": {\"0\": \"a\", \"1\": \"b\", \"2\": \"c\"}, \"pad_token_id\": 12}";
    const char *dir = dec_dir(&d, &f, "GPT2ForSequenceClassification", labels);
    bt_model m;
    load_ok(dir, &m);
    ck_assert_int_eq(m.cfg.head, BT_HEAD_CLASSIFY);
    ck_assert_int_eq(m.cfg.n_labels, 3);
    ck_assert_int_eq(m.cfg.cls_last, 1);
    ck_assert_int_eq(m.cfg.has_pooler, 0);
    dec_views(&m, &f, &d);
    ck_assert_uint_eq(bt_model_param_count(&m), dec_count(&d)); /* score has no bias */
    char out[600];
    snprintf(out, sizeof out, "%s/saved", tu_tmpdir());
    save_ok(&m, out);
    char *h = saved_header(out);
    ck_assert_ptr_nonnull(strstr(h, "\"score.weight\":{\"shape\":[3,8]"));
    ck_assert_ptr_null(strstr(h, "score.bias"));
    free(h);
    bt_model m2;
    load_ok(out, &m2);
    same_model(&m, &m2);
    bt_model_free(&m2);
    bt_model_free(&m);
    ck_free(&f);

    /* regression: one label */
    d.C = 1;
    dir = dec_dir(&d, &f, "GPT2ForSequenceClassification", "{\"num_labels\": 1}");
    load_ok(dir, &m);
    ck_assert_int_eq(m.cfg.head, BT_HEAD_REGRESS);
    ck_assert_int_eq(m.cfg.n_labels, 1);
    bt_model_free(&m);
    ck_free(&f);
}
END_TEST

START_TEST(gpt2_pruned_and_saved) {
    dec_fix d = dec_small();
    d.kept[1] = 2; /* layer 1 keeps heads 1 and 3 */
    d.extra = 1;
    ck_file f;
    const char *dir = dec_dir(&d, &f, "GPT2LMHeadModel", "{\"pruned_heads\": {\"1\": [0, 2]}}");
    bt_model m;
    load_ok(dir, &m);
    ck_assert_int_eq(m.cfg.layer_heads[0], 4);
    ck_assert_int_eq(m.cfg.layer_heads[1], 2);
    ck_assert_int_eq(m.cfg.head_id[1][0], 1);
    ck_assert_int_eq(m.cfg.head_id[1][1], 3);
    dec_views(&m, &f, &d);

    /* written back: Conv1D layout, transformers' names, no buffers or tied head */
    char out[600];
    snprintf(out, sizeof out, "%s/saved", tu_tmpdir());
    save_ok(&m, out);
    char *h = saved_header(out);
    ck_assert_ptr_nonnull(strstr(h, "\"transformer.h.1.attn.c_attn.weight\":{\"shape\":[8,12]"));
    ck_assert_ptr_nonnull(strstr(h, "\"transformer.h.1.attn.c_proj.weight\":{\"shape\":[4,8]"));
    ck_assert_ptr_nonnull(strstr(h, "\"transformer.h.0.mlp.c_fc.weight\":{\"shape\":[8,32]"));
    ck_assert_ptr_nonnull(strstr(h, "\"transformer.ln_f.bias\":{\"shape\":[8]"));
    ck_assert_ptr_null(strstr(h, "lm_head"));
    ck_assert_ptr_null(strstr(h, ".attn.bias\""));
    ck_assert_ptr_null(strstr(h, "masked_bias"));
    free(h);
    cJSON *j = saved_config(out);
    ck_assert_str_eq(arch0(j), "GPT2LMHeadModel");
    ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "n_inner"))); /* still 4 * n_embd */
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "pruned_heads")), 1);
    cJSON_Delete(j);
    bt_model m2;
    load_ok(out, &m2);
    same_model(&m, &m2);
    bt_model_free(&m2);

    /* pruning head 2 of layer 0 in memory: the saved c_attn keeps, of each of its q, k and v
     * column blocks, the columns of heads 0, 1 and 3 (GPT2Attention.prune_heads) */
    float mask[2 * 4] = {1, 1, 0, 1, 1, 1, 1, 1};
    bt_model pr;
    bt_error e = {0};
    ck_assert_int_eq(bt_model_prune(&m, mask, &pr, &e), BT_OK);
    save_ok(&pr, out);
    bt_model back;
    load_ok(out, &back);
    ck_assert_int_eq(back.cfg.layer_heads[0], 3);
    const ck_tensor *t = find(&f, "transformer.h.0.attn.c_attn.weight"); /* [8, 24] */
    static const int keep[3] = {0, 1, 3};
    for (int blk = 0; blk < 3; blk++)         /* q, k, v */
        for (int j = 0; j < 3; j++)           /* kept head */
            for (int u = 0; u < 2; u++)       /* unit of the head */
                for (int i = 0; i < 8; i++) { /* input */
                    const int col_old = blk * 8 + keep[j] * 2 + u, row_new = blk * 6 + j * 2 + u;
                    ck_assert_float_eq(back.params.layer[0].wqkv[row_new * 8 + i], t->expect[i * 24 + col_old]);
                }
    const ck_tensor *cp = find(&f, "transformer.h.0.attn.c_proj.weight"); /* [8 in, 8 out] */
    for (int j = 0; j < 3; j++)
        for (int u = 0; u < 2; u++)
            for (int o = 0; o < 8; o++)
                ck_assert_float_eq(back.params.layer[0].wo[o * 6 + j * 2 + u], cp->expect[(keep[j] * 2 + u) * 8 + o]);
    j = saved_config(out);
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(j, "pruned_heads");
    ck_assert_int_eq(cJSON_GetArraySize(ph), 2);
    ck_assert_int_eq(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ph, "0"), 0)->valueint, 2);
    cJSON_Delete(j);
    bt_model_free(&back);
    bt_model_free(&pr);
    bt_model_free(&m);
    ck_free(&f);
}
END_TEST

START_TEST(openai_gpt_views) {
    dec_fix d = dec_small();
    d.openai = 1;
    d.extra = 1; /* only lm_head.weight applies */
    ck_file f;
    const char *dir = dec_dir(&d, &f, "OpenAIGPTLMHeadModel", NULL);
    bt_model m;
    load_ok(dir, &m);
    const bt_config *c = &m.cfg;
    ck_assert_int_eq(c->arch, BT_ARCH_GPT);
    ck_assert_int_eq(c->head, BT_HEAD_LM);
    ck_assert_int_eq(c->act, BT_ACT_GELU_TANH); /* afn "gelu" is transformers' gelu_new */
    ck_assert_int_eq(c->d_ff, 32);
    ck_assert_int_eq(c->type_vocab, 0);
    ck_assert_str_eq(m.model_type, "openai-gpt");
    dec_views(&m, &f, &d);
    ck_assert_uint_eq(bt_model_param_count(&m), dec_count(&d));
    char out[600];
    snprintf(out, sizeof out, "%s/saved", tu_tmpdir());
    save_ok(&m, out);
    char *h = saved_header(out);
    ck_assert_ptr_nonnull(strstr(h, "\"transformer.tokens_embed.weight\":{\"shape\":[13,8]"));
    ck_assert_ptr_nonnull(strstr(h, "\"transformer.h.0.attn.c_attn.weight\":{\"shape\":[8,24]"));
    ck_assert_ptr_null(strstr(h, "ln_f"));
    free(h);
    cJSON *j = saved_config(out);
    ck_assert_str_eq(arch0(j), "OpenAIGPTLMHeadModel");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "afn")->valuestring, "gelu");
    cJSON_Delete(j);
    bt_model m2;
    load_ok(out, &m2);
    same_model(&m, &m2);
    bt_model_free(&m2);
    bt_model_free(&m);
    ck_free(&f);
}
END_TEST

/* ---- encoders: RoBERTa and DistilBERT ---- */

static void roberta_build(bert_fix *b, ck_file *f, int head) {
    b->pooler = !head; /* RobertaModel's own pooler; the classifier has classifier.dense instead */
    b->classifier = 0;
    bert_build(b, f);
    if (head) {
        ck_add_rand(f, "classifier.dense.weight", b->dtype, b->D, b->D, 900);
        ck_add_rand(f, "classifier.dense.bias", b->dtype, b->D, 0, 901);
        ck_add_rand(f, "classifier.out_proj.weight", b->dtype, b->C, b->D, 902);
        ck_add_rand(f, "classifier.out_proj.bias", b->dtype, b->C, 0, 903);
    }
}

static const char *roberta_dir(bert_fix *b, ck_file *f, int head, const char *extra) {
    const char *dir = tu_tmpdir();
    roberta_build(b, f, head);
    ck_write(f, dir, "model.safetensors");
    char text[2048];
    int n = snprintf(text, sizeof text,
                     "{\"architectures\": [\"%s\"], \"model_type\": \"roberta\", \"hidden_size\": %d,\n"
                     " \"num_hidden_layers\": %d, \"num_attention_heads\": %d, \"intermediate_size\": %d,\n"
                     " \"vocab_size\": %d, \"max_position_embeddings\": %d, \"type_vocab_size\": %d,\n"
                     " \"layer_norm_eps\": 1e-05, \"pad_token_id\": 1%s}\n",
                     head ? "RobertaForSequenceClassification" : "RobertaModel", b->D, b->L, b->H, b->F, b->V, b->P,
                     b->TT, head ? ", \"id2label\": {\"0\": \"x\", \"1\": \"y\", \"2\": \"z\"}" : "");
    ck_assert_int_lt(n, (int)sizeof text);
    write_config(dir, text, extra);
    return dir;
}

/* Layer l of an encoder: names[] are the formats (with %d for the layer) of q, k, v, the
 * attention output, its LayerNorm, the two FFN matrices and the last LayerNorm. */
static void encoder_layer_views(const bt_model *m, const ck_file *f, const char *pre, int l,
                                const char *const names[8]) {
    const bt_layer_params *lp = &m->params.layer[l];
    const size_t Dl = (size_t)m->cfg.layer_heads[l] * m->cfg.d_head, D = (size_t)m->cfg.d_model;
    float *const w[8] = {lp->wqkv, lp->wqkv + Dl * D, lp->wqkv + 2 * Dl * D, lp->wo, lp->ln1_g, lp->w1,
                         lp->w2,   lp->ln2_g};
    float *const b[8] = {lp->bqkv, lp->bqkv + Dl, lp->bqkv + 2 * Dl, lp->bo, lp->ln1_b, lp->b1, lp->b2, lp->ln2_b};
    for (int k = 0; k < 8; k++) {
        char base[160];
        snprintf(base, sizeof base, names[k], l);
        same(f, nm("%s%s.weight", pre, base), w[k]);
        same(f, nm("%s%s.bias", pre, base), b[k]);
    }
}

/* Drops tensor name from the fixture. */
static void drop(ck_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) {
            free(f->t[i].data);
            free(f->t[i].expect);
            f->t[i] = f->t[--f->n];
            return;
        }
    ck_abort_msg("fixture has no %s", name);
}

START_TEST(roberta_views) {
    bert_fix b = bert_small();
    b.prefix = "roberta.";
    b.TT = 1;
    ck_file f;
    const char *dir = roberta_dir(&b, &f, 1, NULL);
    bt_model m;
    load_ok(dir, &m);
    const bt_config *c = &m.cfg;
    ck_assert_int_eq(c->arch, BT_ARCH_BERT);
    ck_assert_int_eq(c->pos_offset, 2); /* padding_idx 1 + 1 */
    ck_assert_int_eq(c->type_vocab, 1);
    ck_assert_int_eq(c->head, BT_HEAD_CLASSIFY);
    ck_assert_int_eq(c->n_labels, 3);
    ck_assert_int_eq(c->has_pooler, 1);
    ck_assert_int_eq(c->pooler_act, BT_POOL_TANH);
    ck_assert_int_eq(c->cls_last, 0);
    ck_assert_float_eq(c->ln_eps, 1e-5f);
    const bt_params *p = &m.params;
    same(&f, "roberta.embeddings.word_embeddings.weight", p->wte);
    same(&f, "roberta.embeddings.position_embeddings.weight", p->wpe);
    same(&f, "roberta.embeddings.token_type_embeddings.weight", p->wtt);
    same(&f, "roberta.embeddings.LayerNorm.weight", p->emb_ln_g);
    static const char *const names[8] = {"encoder.layer.%d.attention.self.query",
                                         "encoder.layer.%d.attention.self.key",
                                         "encoder.layer.%d.attention.self.value",
                                         "encoder.layer.%d.attention.output.dense",
                                         "encoder.layer.%d.attention.output.LayerNorm",
                                         "encoder.layer.%d.intermediate.dense",
                                         "encoder.layer.%d.output.dense",
                                         "encoder.layer.%d.output.LayerNorm"};
    for (int l = 0; l < 2; l++) encoder_layer_views(&m, &f, "roberta.", l, names);
    same(&f, "classifier.dense.weight", p->pool_w);
    same(&f, "classifier.dense.bias", p->pool_b);
    same(&f, "classifier.out_proj.weight", p->cls_w);
    same(&f, "classifier.out_proj.bias", p->cls_b);
    char out[600];
    snprintf(out, sizeof out, "%s/saved", tu_tmpdir());
    save_ok(&m, out);
    char *h = saved_header(out);
    ck_assert_ptr_nonnull(strstr(h, "\"roberta.encoder.layer.1.attention.self.key.weight\":{\"shape\":[8,8]"));
    ck_assert_ptr_nonnull(strstr(h, "\"classifier.dense.weight\":{\"shape\":[8,8]"));
    ck_assert_ptr_nonnull(strstr(h, "\"classifier.out_proj.bias\":{\"shape\":[3]"));
    ck_assert_ptr_null(strstr(h, "pooler"));
    free(h);
    cJSON *j = saved_config(out);
    ck_assert_str_eq(arch0(j), "RobertaForSequenceClassification");
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(j, "pad_token_id")->valueint, 1);
    cJSON_Delete(j);
    bt_model m2;
    load_ok(out, &m2);
    same_model(&m, &m2);
    bt_model_free(&m2);
    bt_model_free(&m);
    ck_free(&f);

    /* RobertaModel: no head, its pooler kept (under the base names, no prefix) */
    b.prefix = "";
    dir = roberta_dir(&b, &f, 0, "{\"pad_token_id\": 3}");
    load_ok(dir, &m);
    ck_assert_int_eq(m.cfg.head, BT_HEAD_NONE);
    ck_assert_int_eq(m.cfg.pos_offset, 4);
    ck_assert_int_eq(m.cfg.has_pooler, 1);
    same(&f, "pooler.dense.weight", m.params.pool_w);
    save_ok(&m, out);
    h = saved_header(out);
    ck_assert_ptr_nonnull(strstr(h, "\"pooler.dense.weight\":{\"shape\":[8,8]"));
    ck_assert_ptr_nonnull(strstr(h, "\"embeddings.word_embeddings.weight\""));
    free(h);
    j = saved_config(out);
    ck_assert_str_eq(arch0(j), "RobertaModel");
    cJSON_Delete(j);
    bt_model_free(&m);
    ck_free(&f);
}
END_TEST

typedef struct {
    int L, D, H, F, V, P, C;
    const char *prefix;
    int kept[4];
} distil_fix;

static const char *distil_dir(const distil_fix *d, ck_file *f, const char *arch, const char *extra) {
    memset(f, 0, sizeof *f);
    f->pad_header = 1;
    uint32_t seed = 500;
    const int dh = d->D / d->H;
#define ADD(rows, cols, ...) ck_add_rand(f, nm("%s%s", d->prefix, nm(__VA_ARGS__)), "BF16", rows, cols, seed++)
    ADD(d->V, d->D, "embeddings.word_embeddings.weight");
    ADD(d->P, d->D, "embeddings.position_embeddings.weight");
    ADD(d->D, 0, "embeddings.LayerNorm.weight");
    ADD(d->D, 0, "embeddings.LayerNorm.bias");
    static const char *const qkv[3] = {"q_lin", "k_lin", "v_lin"};
    for (int l = 0; l < d->L; l++) {
        const int Dl = (d->kept[l] ? d->kept[l] : d->H) * dh;
        for (int k = 0; k < 3; k++) {
            ADD(Dl, d->D, "transformer.layer.%d.attention.%s.weight", l, qkv[k]);
            ADD(Dl, 0, "transformer.layer.%d.attention.%s.bias", l, qkv[k]);
        }
        ADD(d->D, Dl, "transformer.layer.%d.attention.out_lin.weight", l);
        ADD(d->D, 0, "transformer.layer.%d.attention.out_lin.bias", l);
        ADD(d->D, 0, "transformer.layer.%d.sa_layer_norm.weight", l);
        ADD(d->D, 0, "transformer.layer.%d.sa_layer_norm.bias", l);
        ADD(d->F, d->D, "transformer.layer.%d.ffn.lin1.weight", l);
        ADD(d->F, 0, "transformer.layer.%d.ffn.lin1.bias", l);
        ADD(d->D, d->F, "transformer.layer.%d.ffn.lin2.weight", l);
        ADD(d->D, 0, "transformer.layer.%d.ffn.lin2.bias", l);
        ADD(d->D, 0, "transformer.layer.%d.output_layer_norm.weight", l);
        ADD(d->D, 0, "transformer.layer.%d.output_layer_norm.bias", l);
    }
#undef ADD
    if (d->C) {
        ck_add_rand(f, "pre_classifier.weight", "BF16", d->D, d->D, seed++);
        ck_add_rand(f, "pre_classifier.bias", "BF16", d->D, 0, seed++);
        ck_add_rand(f, "classifier.weight", "BF16", d->C, d->D, seed++);
        ck_add_rand(f, "classifier.bias", "BF16", d->C, 0, seed++);
    }
    const char *dir = tu_tmpdir();
    ck_write(f, dir, "model.safetensors");
    char text[2048];
    int n = snprintf(text, sizeof text,
                     "{\"architectures\": [\"%s\"], \"model_type\": \"distilbert\", \"dim\": %d, \"n_layers\": %d,\n"
                     " \"n_heads\": %d, \"hidden_dim\": %d, \"vocab_size\": %d, \"max_position_embeddings\": %d,\n"
                     " \"activation\": \"gelu\", \"sinusoidal_pos_embds\": false, \"num_labels\": %d}\n",
                     arch, d->D, d->L, d->H, d->F, d->V, d->P, d->C ? d->C : 2);
    ck_assert_int_lt(n, (int)sizeof text);
    write_config(dir, text, extra);
    return dir;
}

START_TEST(distilbert_views) {
    distil_fix d = {.L = 2, .D = 8, .H = 2, .F = 16, .V = 11, .P = 9, .C = 2, .prefix = "distilbert.", .kept = {0, 1}};
    ck_file f;
    const char *dir = distil_dir(&d, &f, "DistilBertForSequenceClassification", "{\"pruned_heads\": {\"1\": [0]}}");
    bt_model m;
    load_ok(dir, &m);
    const bt_config *c = &m.cfg;
    ck_assert_int_eq(c->arch, BT_ARCH_BERT);
    ck_assert_int_eq(c->n_layers, 2);
    ck_assert_int_eq(c->d_ff, 16);
    ck_assert_int_eq(c->type_vocab, 0);
    ck_assert_int_eq(c->pos_offset, 0);
    ck_assert_int_eq(c->head, BT_HEAD_CLASSIFY);
    ck_assert_int_eq(c->has_pooler, 1);
    ck_assert_int_eq(c->pooler_act, BT_POOL_RELU);
    ck_assert_int_eq(c->act, BT_ACT_GELU);
    ck_assert_float_eq(c->ln_eps, 1e-12f);
    ck_assert_int_eq(c->layer_heads[1], 1);
    ck_assert_int_eq(c->head_id[1][0], 1);
    ck_assert_str_eq(m.dtype, "BF16");
    const bt_params *p = &m.params;
    ck_assert_ptr_null(p->wtt);
    same(&f, "distilbert.embeddings.word_embeddings.weight", p->wte);
    same(&f, "distilbert.embeddings.position_embeddings.weight", p->wpe);
    same(&f, "distilbert.embeddings.LayerNorm.bias", p->emb_ln_b);
    static const char *const names[8] = {
        "transformer.layer.%d.attention.q_lin", "transformer.layer.%d.attention.k_lin",
        "transformer.layer.%d.attention.v_lin", "transformer.layer.%d.attention.out_lin",
        "transformer.layer.%d.sa_layer_norm",   "transformer.layer.%d.ffn.lin1",
        "transformer.layer.%d.ffn.lin2",        "transformer.layer.%d.output_layer_norm"};
    for (int l = 0; l < 2; l++) encoder_layer_views(&m, &f, "distilbert.", l, names);
    same(&f, "pre_classifier.weight", p->pool_w);
    same(&f, "pre_classifier.bias", p->pool_b);
    same(&f, "classifier.weight", p->cls_w);
    same(&f, "classifier.bias", p->cls_b);
    char out[600];
    snprintf(out, sizeof out, "%s/saved", tu_tmpdir());
    save_ok(&m, out);
    char *h = saved_header(out);
    ck_assert_ptr_nonnull(strstr(h, "\"distilbert.transformer.layer.1.attention.q_lin.weight\":{\"shape\":[4,8]"));
    ck_assert_ptr_nonnull(strstr(h, "\"distilbert.transformer.layer.1.attention.out_lin.weight\":{\"shape\":[8,4]"));
    ck_assert_ptr_nonnull(strstr(h, "\"pre_classifier.weight\":{\"shape\":[8,8]"));
    ck_assert_ptr_null(strstr(h, "token_type"));
    free(h);
    cJSON *j = saved_config(out);
    ck_assert_str_eq(arch0(j), "DistilBertForSequenceClassification");
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(j, "dim")->valueint, 8);
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(j, "hidden_size")); /* DistilBERT's own keys only */
    cJSON_Delete(j);
    bt_model m2;
    load_ok(out, &m2);
    same_model(&m, &m2);
    bt_model_free(&m2);
    bt_model_free(&m);
    ck_free(&f);

    /* DistilBertModel: an encoder, no prefix */
    d.C = 0;
    d.prefix = "";
    dir = distil_dir(&d, &f, "DistilBertModel", "{\"pruned_heads\": {\"1\": [0]}}");
    load_ok(dir, &m);
    ck_assert_int_eq(m.cfg.head, BT_HEAD_NONE);
    ck_assert_int_eq(m.cfg.has_pooler, 0);
    bt_model_free(&m);
    ck_free(&f);
}
END_TEST

/* ---- bad input ---- */

static void dec_fail(const char *arch, const char *extra, const char *missing, const char *must1, const char *must2) {
    dec_fix d = dec_small();
    ck_file f;
    dec_build(&d, &f);
    if (missing) drop(&f, missing);
    const char *dir = tu_tmpdir();
    ck_write(&f, dir, "model.safetensors");
    dec_config(&d, dir, arch, extra);
    expect_fail(dir, must1, must2);
    ck_free(&f);
}

START_TEST(bad_family_input) {
    const char *dir = tu_tmpdir();
    const char *t5 = "{\"model_type\": \"t5\"}";
    tu_write_file(dir, "config.json", t5, strlen(t5));
    expect_fail(dir, "model_type \"t5\" is not supported", "bert, gpt2, openai-gpt, roberta, distilbert");

    dec_fail("GPT2LMHeadModel", NULL, "transformer.h.1.mlp.c_proj.weight", "model.safetensors: missing tensor",
             "transformer.h.1.mlp.c_proj.weight");
    dec_fail("GPT2LMHeadModel", NULL, "transformer.wte.weight", "missing tensor transformer.wte.weight", NULL);
    dec_fail("GPT2ForSequenceClassification", NULL, NULL, "missing tensor score.weight",
             "GPT2ForSequenceClassification");
    dec_fail("GPT2LMHeadModel", "{\"activation_function\": \"swish\"}", NULL,
             "config.json: activation_function \"swish\" is not supported", NULL);
    dec_fail("GPT2LMHeadModel", "{\"n_head\": 3}", NULL, "config.json: n_embd 8 is not a multiple of n_head 3", NULL);
    dec_fail("GPT2LMHeadModel", "{\"scale_attn_by_inverse_layer_idx\": true}", NULL, "scale_attn_by_inverse_layer_idx",
             NULL);
    dec_fail("GPT2LMHeadModel", "{\"add_cross_attention\": true}", NULL, "add_cross_attention", NULL);
    dec_fail("GPT2LMHeadModel", "{\"n_positions\": 9}", NULL, "transformer.wpe.weight has shape [7,8]", "[9,8]");
    dec_fail("GPT2LMHeadModel", "{\"pruned_heads\": {\"0\": [1]}}", NULL,
             "transformer.h.0.attn.c_attn.weight has shape [8,24]", "[8,18]");
    /* "n_inner": 0 (null means 4 * n_embd; 0 is no width at all) */
    dec_fix d = dec_small(), d0 = dec_small();
    d.F = 0;
    ck_file f;
    dec_build(&d0, &f);
    const char *dir2 = tu_tmpdir();
    ck_write(&f, dir2, "model.safetensors");
    dec_config(&d, dir2, "GPT2LMHeadModel", NULL);
    expect_fail(dir2, "\"n_inner\" must be an integer in 1..", NULL);
    ck_free(&f);

    /* openai-gpt */
    d = dec_small();
    d.openai = 1;
    dec_build(&d, &f);
    const char *dir3 = tu_tmpdir();
    ck_write(&f, dir3, "model.safetensors");
    dec_config(&d, dir3, "OpenAIGPTLMHeadModel", "{\"afn\": \"swish\"}");
    expect_fail(dir3, "afn \"swish\" is not supported", NULL);
    ck_free(&f);

    /* RoBERTa: pad_token_id leaving no positions; classifier without out_proj */
    bert_fix b = bert_small();
    b.prefix = "roberta.";
    const char *dir4 = roberta_dir(&b, &f, 1, "{\"pad_token_id\": 8}");
    expect_fail(dir4, "pad_token_id 8 leaves no positions", NULL);
    ck_free(&f);
    const char *dir5 = roberta_dir(&b, &f, 1, NULL);
    drop(&f, "classifier.out_proj.weight");
    drop(&f, "classifier.out_proj.bias");
    ck_write(&f, dir5, "model.safetensors");
    expect_fail(dir5, "missing tensor classifier.out_proj.weight", "RobertaForSequenceClassification");
    ck_free(&f);

    /* DistilBERT: sinusoidal positions; classifier without pre_classifier */
    distil_fix dd = {.L = 1, .D = 8, .H = 2, .F = 16, .V = 11, .P = 9, .C = 2, .prefix = "distilbert."};
    const char *dir6 = distil_dir(&dd, &f, "DistilBertForSequenceClassification", "{\"sinusoidal_pos_embds\": true}");
    expect_fail(dir6, "sinusoidal_pos_embds", NULL);
    ck_free(&f);
    dd.C = 0;
    const char *dir7 = distil_dir(&dd, &f, "DistilBertForSequenceClassification", NULL);
    expect_fail(dir7, "missing tensor pre_classifier.weight", "DistilBertForSequenceClassification");
    ck_free(&f);
}
END_TEST

int main(void) {
    Suite *s = suite_create("model_families");
    TCase *tc = tcase_create("model_families");
    tcase_add_test(tc, tiny_gpt2_loads);
    tcase_add_test(tc, gpt2_lm_views);
    tcase_add_test(tc, gpt2_model_f16_no_prefix);
    tcase_add_test(tc, gpt2_classifier);
    tcase_add_test(tc, gpt2_pruned_and_saved);
    tcase_add_test(tc, openai_gpt_views);
    tcase_add_test(tc, roberta_views);
    tcase_add_test(tc, distilbert_views);
    tcase_add_test(tc, bad_family_input);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
