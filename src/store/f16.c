/* float32 -> IEEE binary16 with round-to-nearest-even, done here rather than by HDF5 because a
 * type conversion inside H5Dwrite makes parallel HDF5 1.10 fall back from collective I/O
 * (H5D_MPIO_DATATYPE_CONVERSION) and its soft converter is not documented to round to even. */
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "bertology/store.h"

uint16_t bt_store_f16_from_f32(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) /* inf, or NaN kept quiet with the top payload bits */
        return sign | 0x7c00 | (a > 0x7f800000u ? 0x0200 | ((a >> 13) & 0x3ff) : 0);
    if (a >= 0x477ff000u) return sign | 0x7c00; /* >= 65520 rounds to inf (65504 is the max) */
    if (a >= 0x38800000u) {                     /* normal half: >= 2^-14 */
        uint32_t r = a - ((uint32_t)(127 - 15) << 23); /* rebias the exponent */
        /* add just under half an ulp, plus the kept lsb so that ties go to even; a carry out of
         * the mantissa correctly bumps the exponent */
        return sign | (uint16_t)((r + 0x0fffu + ((r >> 13) & 1u)) >> 13);
    }
    if (a <= 0x33000000u) return sign; /* <= 2^-25: rounds to zero (2^-25 is a tie to even 0) */
    /* subnormal half: value = m * 2^-24 with m = round(a_val * 2^24) */
    uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
    int shift = 126 - (int)e; /* 14..24 */
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) q++; /* q may reach 0x400: smallest normal */
    return sign | (uint16_t)q;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* vcvtps2ph rounds to nearest even in hardware, as the scalar code does (which the unit test
 * checks against the compiler's _Float16), 8 values per instruction. Chosen at run time so
 * that every build type uses it on any x86-64 with F16C (2012 onwards). */
__attribute__((target("avx,f16c"))) static int64_t f32_to_f16_f16c(const float *src,
                                                                   uint16_t *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(void *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    return i;
}

/* CPUID leaf 1: ECX bit 29 F16C, bit 28 AVX (clang 14 knows no __builtin_cpu_supports("f16c")). */
static int has_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1u) && (c >> 28 & 1u) && __builtin_cpu_supports("avx");
}
#endif

void bt_store_f32_to_f16(const float *src, uint16_t *dst, int64_t n) {
    int64_t i = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    if (has_f16c())
        i = f32_to_f16_f16c(src, dst, n);
#endif
    for (; i < n; i++) dst[i] = bt_store_f16_from_f32(src[i]);
}
