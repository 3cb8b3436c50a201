/* Test fixture: safetensors files and tiny BERT checkpoints written byte by byte here, without
 * the module's writer, so that reader and writer are each checked against this code.
 *
 * Every tensor keeps the F32 values it must load as. Those come from an independent decoding:
 * F32 values are built exactly, F16 expectations come from the compiler's _Float16, BF16 ones
 * from placing the 16 bits on top of an F32. */
#ifndef TEST_MODEL_CKPT_H
#define TEST_MODEL_CKPT_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define CK_MAX 160
#define CK_UNUSED __attribute__((unused)) /* not every suite uses every helper */

typedef struct {
    char name[160];
    char dtype[16];
    int ndim;
    long long shape[4];
    unsigned char *data;
    size_t nbytes;
    float *expect; /* numel F32 values the loader must produce (float dtypes) */
    long long numel;
} ck_tensor;

typedef struct {
    ck_tensor t[CK_MAX];
    int n;
    int pad_header; /* pad the header to 8 bytes (as the safetensors library does) */
} ck_file;

static CK_UNUSED uint32_t ck_hash(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static CK_UNUSED ck_tensor *ck_add_raw(ck_file *f, const char *name, const char *dtype, int ndim,
                                       const long long *shape, const void *data, size_t nbytes) {
    ck_assert_int_lt(f->n, CK_MAX);
    ck_tensor *t = &f->t[f->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->dtype, sizeof t->dtype, "%s", dtype);
    t->ndim = ndim;
    t->numel = 1;
    for (int d = 0; d < ndim; d++) {
        t->shape[d] = shape[d];
        t->numel *= shape[d];
    }
    t->data = malloc(nbytes + 1);
    if (nbytes) memcpy(t->data, data, nbytes);
    t->nbytes = nbytes;
    return t;
}

/* A float tensor with pseudo-random finite values unique to (seed, element); cols = 0 for a
 * vector. Covers the whole F16/BF16 bit space except Inf/NaN, so subnormals occur. */
static CK_UNUSED ck_tensor *ck_add_rand(ck_file *f, const char *name, const char *dtype, long long rows, long long cols,
                                        uint32_t seed) {
    long long shape[2] = {rows, cols};
    const long long n = rows * (cols ? cols : 1);
    const int w = strcmp(dtype, "F32") == 0 ? 4 : 2;
    unsigned char *raw = malloc((size_t)(n * w) + 1);
    float *exp = malloc((size_t)n * sizeof(float) + 1);
    for (long long i = 0; i < n; i++) {
        uint32_t h = ck_hash(seed * 1000003u + (uint32_t)i);
        if (w == 4) {
            /* exactly representable: a 24-bit integer / 2^23 - 1 */
            float v = (float)(h >> 8) / 8388608.0f - 1.0f;
            memcpy(raw + 4 * i, &v, 4);
            exp[i] = v;
        } else if (strcmp(dtype, "F16") == 0) {
            uint16_t b = (uint16_t)h;
            if ((b & 0x7c00u) == 0x7c00u) b &= 0xbfffu; /* no Inf/NaN */
            _Float16 x;
            memcpy(&x, &b, 2);
            memcpy(raw + 2 * i, &b, 2);
            exp[i] = (float)x;
        } else {
            uint16_t b = (uint16_t)h;
            if ((b & 0x7f80u) == 0x7f80u) b &= 0xbfffu;
            uint32_t u = (uint32_t)b << 16;
            memcpy(raw + 2 * i, &b, 2);
            memcpy(&exp[i], &u, 4);
        }
    }
    ck_tensor *t = ck_add_raw(f, name, dtype, cols ? 2 : 1, shape, raw, (size_t)(n * w));
    t->expect = exp;
    free(raw);
    return t;
}

static CK_UNUSED const ck_tensor *ck_find(const ck_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    return NULL;
}

static CK_UNUSED void ck_free(ck_file *f) {
    for (int i = 0; i < f->n; i++) {
        free(f->t[i].data);
        free(f->t[i].expect);
    }
    f->n = 0;
}

/* The whole file: u64 header length, JSON header written with snprintf, data in order. */
static CK_UNUSED unsigned char *ck_bytes(const ck_file *f, size_t *len) {
    size_t cap = 1 << 16, h = 0;
    char *hdr = malloc(cap);
    h += (size_t)snprintf(hdr + h, cap - h, "{\"__metadata__\":{\"format\":\"pt\"}");
    size_t off = 0;
    for (int i = 0; i < f->n; i++) {
        const ck_tensor *t = &f->t[i];
        h += (size_t)snprintf(hdr + h, cap - h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, t->dtype);
        for (int d = 0; d < t->ndim; d++) h += (size_t)snprintf(hdr + h, cap - h, "%s%lld", d ? "," : "", t->shape[d]);
        h += (size_t)snprintf(hdr + h, cap - h, "],\"data_offsets\":[%zu,%zu]}", off, off + t->nbytes);
        off += t->nbytes;
        ck_assert_uint_lt(h, cap - 256);
    }
    h += (size_t)snprintf(hdr + h, cap - h, "}");
    while (f->pad_header && h % 8) hdr[h++] = ' ';
    unsigned char *out = malloc(8 + h + off + 1);
    uint64_t hl = h;
    for (int b = 0; b < 8; b++) out[b] = (unsigned char)(hl >> (8 * b));
    memcpy(out + 8, hdr, h);
    free(hdr);
    size_t p = 8 + h;
    for (int i = 0; i < f->n; i++) {
        if (f->t[i].nbytes) memcpy(out + p, f->t[i].data, f->t[i].nbytes);
        p += f->t[i].nbytes;
    }
    *len = p;
    return out;
}

static CK_UNUSED void ck_write(const ck_file *f, const char *dir, const char *name) {
    size_t len;
    unsigned char *b = ck_bytes(f, &len);
    tu_write_file(dir, name, b, len);
    free(b);
}

/* ---- a tiny BERT ---- */

typedef struct {
    int L, D, H, F, V, P, TT, C;
    const char *prefix; /* "bert." (head models) or "" (BertModel) */
    const char *dtype;  /* F32, F16, BF16 */
    int pooler, classifier;
    int gamma_beta;  /* LayerNorm.gamma/beta, as TensorFlow-converted checkpoints */
    int extra;       /* unused tensors a real checkpoint carries */
    int kept[8];     /* heads present in layer l (0 = all H) */
    const char *act; /* hidden_act, NULL = gelu */
} bert_fix;

static CK_UNUSED bert_fix bert_small(void) {
    bert_fix b = {.L = 2,
                  .D = 8,
                  .H = 4,
                  .F = 12,
                  .V = 11,
                  .P = 9,
                  .TT = 2,
                  .C = 3,
                  .prefix = "bert.",
                  .dtype = "F32",
                  .pooler = 1,
                  .classifier = 1};
    return b;
}

static CK_UNUSED void bert_build(const bert_fix *b, ck_file *f) {
    memset(f, 0, sizeof *f);
    f->pad_header = 1;
    char nm[160];
    uint32_t seed = 1;
    const int dh = b->D / b->H;
#define ADD(rows, cols, ...)                                                                                           \
    do {                                                                                                               \
        char base[128];                                                                                                \
        snprintf(base, sizeof base, __VA_ARGS__);                                                                      \
        snprintf(nm, sizeof nm, "%s%s", b->prefix, base);                                                              \
        ck_add_rand(f, nm, b->dtype, rows, cols, seed++);                                                              \
    } while (0)
    const char *g = b->gamma_beta ? "gamma" : "weight", *be = b->gamma_beta ? "beta" : "bias";
    if (b->extra) {
        long long shape[2] = {1, b->P};
        long long *ids = calloc((size_t)b->P, sizeof *ids);
        for (int i = 0; i < b->P; i++) ids[i] = i;
        snprintf(nm, sizeof nm, "%sembeddings.position_ids", b->prefix);
        ck_add_raw(f, nm, "I64", 2, shape, ids, (size_t)b->P * 8);
        free(ids);
        ck_add_rand(f, "cls.predictions.bias", b->dtype, b->V, 0, 999);
    }
    ADD(b->V, b->D, "embeddings.word_embeddings.weight");
    ADD(b->P, b->D, "embeddings.position_embeddings.weight");
    ADD(b->TT, b->D, "embeddings.token_type_embeddings.weight");
    ADD(b->D, 0, "embeddings.LayerNorm.%s", g);
    ADD(b->D, 0, "embeddings.LayerNorm.%s", be);
    for (int l = 0; l < b->L; l++) {
        const int Dl = (b->kept[l] ? b->kept[l] : b->H) * dh;
        ADD(Dl, b->D, "encoder.layer.%d.attention.self.query.weight", l);
        ADD(Dl, 0, "encoder.layer.%d.attention.self.query.bias", l);
        ADD(Dl, b->D, "encoder.layer.%d.attention.self.key.weight", l);
        ADD(Dl, 0, "encoder.layer.%d.attention.self.key.bias", l);
        ADD(Dl, b->D, "encoder.layer.%d.attention.self.value.weight", l);
        ADD(Dl, 0, "encoder.layer.%d.attention.self.value.bias", l);
        ADD(b->D, Dl, "encoder.layer.%d.attention.output.dense.weight", l);
        ADD(b->D, 0, "encoder.layer.%d.attention.output.dense.bias", l);
        ADD(b->D, 0, "encoder.layer.%d.attention.output.LayerNorm.%s", l, g);
        ADD(b->D, 0, "encoder.layer.%d.attention.output.LayerNorm.%s", l, be);
        ADD(b->F, b->D, "encoder.layer.%d.intermediate.dense.weight", l);
        ADD(b->F, 0, "encoder.layer.%d.intermediate.dense.bias", l);
        ADD(b->D, b->F, "encoder.layer.%d.output.dense.weight", l);
        ADD(b->D, 0, "encoder.layer.%d.output.dense.bias", l);
        ADD(b->D, 0, "encoder.layer.%d.output.LayerNorm.%s", l, g);
        ADD(b->D, 0, "encoder.layer.%d.output.LayerNorm.%s", l, be);
    }
    if (b->pooler) {
        ADD(b->D, b->D, "pooler.dense.weight");
        ADD(b->D, 0, "pooler.dense.bias");
    }
#undef ADD
    if (b->classifier) {
        ck_add_rand(f, "classifier.weight", b->dtype, b->C, b->D, seed++);
        ck_add_rand(f, "classifier.bias", b->dtype, b->C, 0, seed++);
    }
}

/* config.json of the fixture; extra is spliced in as further keys (e.g. ",\"x\": 1"). */
static CK_UNUSED void bert_config(const bert_fix *b, const char *dir, const char *arch, const char *extra) {
    char text[4096];
    int n = snprintf(text, sizeof text,
                     "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"bert\",\n  \"hidden_size\": %d,\n"
                     "  \"num_hidden_layers\": %d,\n  \"num_attention_heads\": %d,\n  \"intermediate_size\": %d,\n"
                     "  \"vocab_size\": %d,\n  \"max_position_embeddings\": %d,\n  \"type_vocab_size\": %d,\n"
                     "  \"layer_norm_eps\": 1e-12,\n  \"hidden_act\": \"%s\"%s\n}\n",
                     arch, b->D, b->L, b->H, b->F, b->V, b->P, b->TT, b->act ? b->act : "gelu", extra ? extra : "");
    tu_write_file(dir, "config.json", text, (size_t)n);
}

#endif
