/* safetensors dtypes and their exact conversion to F32.
 *
 * The file is little-endian and so is every host we build for; loads go through memcpy because
 * a tensor's data has whatever alignment the header length gave it. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "model/safetensors.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the safetensors reader assumes a little-endian host"
#endif

static const struct {
    const char *name;
    int bits;
} DTYPES[BT_ST_N_DTYPES] = {
    [BT_ST_BOOL] = {"BOOL", 8},       [BT_ST_U8] = {"U8", 8},           [BT_ST_I8] = {"I8", 8},
    [BT_ST_F8_E5M2] = {"F8_E5M2", 8}, [BT_ST_F8_E4M3] = {"F8_E4M3", 8}, [BT_ST_F8_E8M0] = {"F8_E8M0", 8},
    [BT_ST_I16] = {"I16", 16},        [BT_ST_U16] = {"U16", 16},        [BT_ST_F16] = {"F16", 16},
    [BT_ST_BF16] = {"BF16", 16},      [BT_ST_I32] = {"I32", 32},        [BT_ST_U32] = {"U32", 32},
    [BT_ST_F32] = {"F32", 32},        [BT_ST_F64] = {"F64", 64},        [BT_ST_I64] = {"I64", 64},
    [BT_ST_U64] = {"U64", 64},        [BT_ST_C64] = {"C64", 64},        [BT_ST_F4] = {"F4", 4},
    [BT_ST_F6_E2M3] = {"F6_E2M3", 6}, [BT_ST_F6_E3M2] = {"F6_E3M2", 6},
};

int bt_st_dtype_parse(const char *name) {
    for (int i = 0; i < BT_ST_N_DTYPES; i++)
        if (strcmp(name, DTYPES[i].name) == 0) return i;
    return -1;
}

const char *bt_st_dtype_name(int dtype) { return dtype >= 0 && dtype < BT_ST_N_DTYPES ? DTYPES[dtype].name : "?"; }

int bt_st_dtype_bits(int dtype) { return dtype >= 0 && dtype < BT_ST_N_DTYPES ? DTYPES[dtype].bits : 0; }

int bt_st_dtype_is_float(int dtype) {
    return dtype == BT_ST_F32 || dtype == BT_ST_F16 || dtype == BT_ST_BF16 || dtype == BT_ST_F64;
}

static inline float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Moves the exponent and mantissa into place and rebiases; subnormal halves are renormalised by
 * one exact float subtraction (both operands and the result are normal floats). */
float bt_f16_to_f32(uint16_t h) {
    const uint32_t exp_mask = 0x7c00u << 13;
    uint32_t o = ((uint32_t)h & 0x7fffu) << 13;
    uint32_t exp = o & exp_mask;
    o += (uint32_t)(127 - 15) << 23;
    if (exp == exp_mask) {
        o += (uint32_t)(128 - 16) << 23; /* Inf/NaN keep an all-ones exponent */
    } else if (exp == 0) {
        o += 1u << 23;
        o = f32_bits(bits_f32(o) - bits_f32(113u << 23));
    }
    return bits_f32(o | ((uint32_t)h & 0x8000u) << 16);
}

/* BF16 is the upper half of an F32. */
float bt_bf16_to_f32(uint16_t b) { return bits_f32((uint32_t)b << 16); }

static inline uint16_t ld16(const unsigned char *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static inline float load_elem(int dtype, const unsigned char *p, int64_t i) {
    switch (dtype) {
    case BT_ST_F32: {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    case BT_ST_F16:
        return bt_f16_to_f32(ld16(p + 2 * i));
    case BT_ST_BF16:
        return bt_bf16_to_f32(ld16(p + 2 * i));
    case BT_ST_F64: {
        double d;
        memcpy(&d, p + 8 * i, 8);
        /* out-of-range double -> float is undefined in C; IEEE (and the finiteness check) want inf */
        return d > FLT_MAX ? INFINITY : d < -FLT_MAX ? -INFINITY : (float)d;
    }
    default:
        return NAN;
    }
}

float bt_st_elem_f32(const bt_st_tensor *t, int64_t i) { return load_elem(t->dtype, t->data, i); }

static int64_t first_nonfinite(const bt_st_tensor *t) {
    for (int64_t i = 0; i < t->numel; i++)
        if (!isfinite(load_elem(t->dtype, t->data, i))) return i;
    return -1;
}

#define NONFINITE(u) (((u)&0x7f800000u) == 0x7f800000u)

/* One pass per dtype: the loops are simple enough for the compiler to vectorise the F32 and
 * BF16 cases; the finiteness test rides along on the converted bits. */
int64_t bt_st_to_f32(const bt_st_tensor *t, float *dst, int transpose) {
    const int64_t n = t->numel;
    const unsigned char *src = t->data;
    if (!bt_st_dtype_is_float(t->dtype)) return 0; /* callers check first; never report clean */
    if (transpose && t->ndim == 2) {
        const int64_t rows = t->shape[0], cols = t->shape[1];
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) dst[j * rows + i] = load_elem(t->dtype, src, i * cols + j);
        for (int64_t k = 0; k < n; k++)
            if (NONFINITE(f32_bits(dst[k]))) return first_nonfinite(t);
        return -1;
    }
    uint32_t bad = 0;
    switch (t->dtype) {
    case BT_ST_F32:
        for (int64_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, src + 4 * i, 4);
            bad |= NONFINITE(u);
            dst[i] = bits_f32(u);
        }
        break;
    case BT_ST_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint32_t u = (uint32_t)ld16(src + 2 * i) << 16;
            bad |= NONFINITE(u);
            dst[i] = bits_f32(u);
        }
        break;
    case BT_ST_F16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = ld16(src + 2 * i);
            bad |= (h & 0x7c00u) == 0x7c00u;
            dst[i] = bt_f16_to_f32(h);
        }
        break;
    case BT_ST_F64:
        for (int64_t i = 0; i < n; i++) {
            float f = load_elem(BT_ST_F64, src, i);
            bad |= NONFINITE(f32_bits(f));
            dst[i] = f;
        }
        break;
    }
    return bad ? first_nonfinite(t) : -1;
}
