/* float32 -> float16 rounding: hand-computed cases at every boundary, then agreement with the
 * compiler's own _Float16 conversion (libgcc / F16C, round to nearest even) over a sweep of
 * float32 bit patterns. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "bertology/store.h"
#include "testutil.h"

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

START_TEST(hand_computed_cases) {
    struct { float x; uint16_t h; } c[] = {
        {0.0f, 0x0000}, {-0.0f, 0x8000}, {1.0f, 0x3c00}, {-2.0f, 0xc000}, {0.5f, 0x3800},
        {65504.0f, 0x7bff},                    /* largest half */
        {65519.99f, 0x7bff},                   /* just below the tie with 65536 */
        {65520.0f, 0x7c00},                    /* tie between 65504 (odd) and 65536: inf */
        {1e10f, 0x7c00}, {-1e10f, 0xfc00}, {INFINITY, 0x7c00}, {-INFINITY, 0xfc00},
        {1.0f + 0x1p-11f, 0x3c00},             /* tie, 1.0 has even mantissa: down */
        {1.0f + 3 * 0x1p-11f, 0x3c02},         /* tie, 1+2^-10 is odd: up */
        {1.0f + 0x1p-11f + 0x1p-20f, 0x3c01},  /* above the tie: up */
        {0x1p-14f, 0x0400},                    /* smallest normal */
        {0x1p-24f, 0x0001},                    /* smallest subnormal */
        {0x1p-25f, 0x0000},                    /* tie between 0 and 2^-24: even = 0 */
        {0x1.000002p-25f, 0x0001},             /* just above: up */
        {3 * 0x1p-25f, 0x0002},                /* 1.5 * 2^-24: tie, 1 is odd: up to 2 */
        {5 * 0x1p-25f, 0x0002},                /* 2.5 * 2^-24: tie, 2 is even: stays */
        {0x1p-14f - 0x1p-25f, 0x0400},         /* 1023.5 * 2^-24: tie, rounds to 1024 = normal */
        {0x1p-30f, 0x0000},
        {0.1f, 0x2e66},                        /* 0.1 = 0x3dcccccd: 1.6 * 2^-4 -> 0x2e66 */
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        ck_assert_msg(bt_store_f16_from_f32(c[i].x) == c[i].h, "case %zu (%a): got %04x want %04x",
                      i, (double)c[i].x, bt_store_f16_from_f32(c[i].x), c[i].h);
    uint16_t nan = bt_store_f16_from_f32(NAN);
    ck_assert((nan & 0x7c00) == 0x7c00 && (nan & 0x3ff) != 0);
    /* a signalling NaN whose payload sits only in the low bits must not become inf */
    nan = bt_store_f16_from_f32(from_bits(0x7f800001u));
    ck_assert((nan & 0x7c00) == 0x7c00 && (nan & 0x3ff) != 0);
}
END_TEST

#ifdef __FLT16_MAX__
START_TEST(agrees_with_compiler_float16) {
    /* every 509th bit pattern (8.4 M values, all exponents and sign) plus all patterns near the
     * subnormal/normal and overflow boundaries */
    long mismatches = 0;
    for (uint64_t u = 0; u < (1ull << 32); u += 509) {
        float x = from_bits((uint32_t)u);
        if (isnan(x)) continue;
        _Float16 h = (_Float16)x;
        uint16_t want;
        memcpy(&want, &h, 2);
        if (bt_store_f16_from_f32(x) != want && mismatches++ < 5)
            ck_assert_msg(0, "x=%a (%08x): got %04x want %04x", (double)x, (uint32_t)u,
                          bt_store_f16_from_f32(x), want);
    }
    const uint32_t centres[] = {0x38800000u, 0x33000000u, 0x477ff000u, 0x33800000u};
    for (size_t c = 0; c < 4; c++)
        for (uint32_t d = 0; d < 20000; d++)
            for (int sgn = 0; sgn < 2; sgn++) {
                uint32_t u = (centres[c] - 10000 + d) | (sgn ? 0x80000000u : 0);
                float x = from_bits(u);
                _Float16 h = (_Float16)x;
                uint16_t want;
                memcpy(&want, &h, 2);
                ck_assert_msg(bt_store_f16_from_f32(x) == want, "x=%a: got %04x want %04x",
                              (double)x, bt_store_f16_from_f32(x), want);
            }
    ck_assert_int_eq(mismatches, 0);
}
END_TEST
#endif

START_TEST(array_conversion_matches_scalar) {
    /* the array path (vectorised where the CPU allows) against the scalar function, on
     * 1000003 values (not a multiple of 8) spread over every exponent, both signs */
    enum { N = 1000003 };
    static float x[N];
    static uint16_t h[N];
    for (uint32_t i = 0; i < N; i++) x[i] = from_bits(i * 4294u + (i & 1u ? 0x80000000u : 0u));
    bt_store_f32_to_f16(x, h, N);
    for (uint32_t i = 0; i < N; i++) {
        if (isnan(x[i])) {
            ck_assert((h[i] & 0x7c00) == 0x7c00 && (h[i] & 0x3ff));
            continue;
        }
        ck_assert_msg(h[i] == bt_store_f16_from_f32(x[i]), "x=%a: array %04x scalar %04x",
                      (double)x[i], h[i], bt_store_f16_from_f32(x[i]));
    }
}
END_TEST

START_TEST(array_conversion) {
    float x[5] = {1, -1, 0.5f, 65504, 0x1p-24f};
    uint16_t h[5];
    bt_store_f32_to_f16(x, h, 5);
    ck_assert(h[0] == 0x3c00 && h[1] == 0xbc00 && h[2] == 0x3800 && h[3] == 0x7bff &&
              h[4] == 0x0001);
}
END_TEST

int main(void) {
    Suite *s = suite_create("store_f16");
    TCase *tc = tcase_create("f16");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, hand_computed_cases);
#ifdef __FLT16_MAX__
    tcase_add_test(tc, agrees_with_compiler_float16);
#endif
    tcase_add_test(tc, array_conversion);
    tcase_add_test(tc, array_conversion_matches_scalar);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
