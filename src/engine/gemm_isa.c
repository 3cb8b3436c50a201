/* Which kernels the GEMM backends run, and oneDNN's ISA cap.
 *
 * A product's bits depend on the kernels that compute it (docs/engine.md "What is bitwise"):
 * oneDNN picks them by CPUID, OpenBLAS by CPUID or OPENBLAS_CORETYPE. For every rank of a run,
 * and a resumed run, to compute the same bits, the run floor makes the ranks agree on the lowest
 * oneDNN ISA any of them has and caps every rank to it, then compares bt_engine_kernels().
 *
 * The cap must be set before oneDNN's first use of its ISA setting, and asking oneDNN what it
 * would choose fixes the setting. So the level a process may use is derived here from CPUID
 * and the variables oneDNN reads, without calling oneDNN. Should this ever disagree with
 * oneDNN, the comparison of bt_engine_kernels() afterwards still refuses a mixed run. */
#include <ctype.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bertology/engine.h"
#include "gemm.h"
#ifdef BT_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif
#ifdef BT_OPENBLAS
#include <cblas.h>
#endif

static const char *const ISA_NAMES[] = {"none", "sse41", "avx", "avx2", "avx512_core", "avx512_core_bf16",
                                        "avx512_core_amx"};

const char *bt_isa_name(int level) {
    return level >= 0 && level <= BT_ISA_AMX ? ISA_NAMES[level] : "?";
}

/* AMX by CPUID leaf 7 and the OS's tile state in XCR0, read directly: clang 14 (the fuzz
 * build) knows no "amx-*" names for __builtin_cpu_supports. */
static int cpu_has_amx(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const unsigned tile = 1u << 24, bf16 = 1u << 22, int8 = 1u << 25;
    if ((d & (tile | bf16 | int8)) != (tile | bf16 | int8)) return 0;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0; /* OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    const unsigned xtile = 3u << 17; /* XTILECFG, XTILEDATA */
    return (lo & xtile) == xtile;
#else
    return 0;
#endif
}

static int cpu_level(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    const int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    const int bf16 = avx512 && __builtin_cpu_supports("avx512bf16");
    if (bf16 && cpu_has_amx()) return BT_ISA_AMX;
    if (bf16) return BT_ISA_AVX512_BF16;
    if (avx512) return BT_ISA_AVX512;
    if (__builtin_cpu_supports("avx2")) return BT_ISA_AVX2;
    if (__builtin_cpu_supports("avx")) return BT_ISA_AVX;
    if (__builtin_cpu_supports("sse4.1")) return BT_ISA_SSE41;
#endif
    return BT_ISA_NONE;
}

/* The cap oneDNN 2.6 reads from ONEDNN_MAX_CPU_ISA, else DNNL_MAX_CPU_ISA (any case; an unknown
 * value is no cap). The VNNI levels add integer instructions only: for float products they
 * are the level below. */
static int env_cap(void) {
    const char *v = getenv("ONEDNN_MAX_CPU_ISA");
    if (!v) v = getenv("DNNL_MAX_CPU_ISA");
    if (!v) return BT_ISA_AMX;
    char s[32];
    size_t n = 0;
    for (; v[n] && n + 1 < sizeof s; n++) s[n] = (char)toupper((unsigned char)v[n]);
    s[n] = '\0';
    static const struct {
        const char *name;
        int level;
    } caps[] = {{"SSE41", BT_ISA_SSE41}, {"AVX", BT_ISA_AVX}, {"AVX2", BT_ISA_AVX2}, {"AVX2_VNNI", BT_ISA_AVX2},
                {"AVX512_CORE", BT_ISA_AVX512}, {"AVX512_CORE_VNNI", BT_ISA_AVX512},
                {"AVX512_CORE_BF16", BT_ISA_AVX512_BF16}, {"AVX512_CORE_AMX", BT_ISA_AMX}};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        if (!strcmp(s, caps[i].name)) return caps[i].level;
    return BT_ISA_AMX;
}

static int g_cap = -1; /* the cap this process set, -1: none */

int bt_engine_isa_level(void) {
#ifdef BT_HAVE_ONEDNN
    int l = cpu_level();
    const int e = env_cap();
    if (e < l) l = e;
    if (g_cap >= 0 && g_cap < l) l = g_cap;
    return l;
#else
    return BT_ISA_NONE;
#endif
}

int bt_engine_cap_isa(int level, bt_error *err) {
#ifdef BT_HAVE_ONEDNN
    static const dnnl_cpu_isa_t to_dnnl[] = {dnnl_cpu_isa_all, dnnl_cpu_isa_sse41, dnnl_cpu_isa_avx,
                                             dnnl_cpu_isa_avx2, dnnl_cpu_isa_avx512_core,
                                             dnnl_cpu_isa_avx512_core_bf16, dnnl_cpu_isa_avx512_core_amx};
    if (level < BT_ISA_SSE41 || level > BT_ISA_AMX)
        return bt_error_set(err, BT_EINTERNAL, "no such instruction-set level %d", level);
    if (level == g_cap) return BT_OK;
    if (dnnl_set_max_cpu_isa(to_dnnl[level]) != dnnl_success)
        return bt_error_set(err, BT_EINTERNAL, "oneDNN chose its kernels before they could be capped at %s",
                            bt_isa_name(level));
    g_cap = level;
#else
    (void)level, (void)err;
#endif
    return BT_OK;
}

#ifdef BT_HAVE_ONEDNN
int eng_gemm_onednn_bf16_supported(void) { return bt_engine_isa_level() >= BT_ISA_AVX512_BF16; }

/* oneDNN's f32 GEMM has kernels for sse41, avx, avx2 and avx512_core; the levels above add
 * bf16 and integer instructions, so they run the avx512_core kernels. */
static int onednn_effective(void) {
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return BT_ISA_SSE41;
    case dnnl_cpu_isa_avx: return BT_ISA_AVX;
    case dnnl_cpu_isa_avx2:
    case dnnl_cpu_isa_avx2_vnni: return BT_ISA_AVX2;
    case dnnl_cpu_isa_avx512_core:
    case dnnl_cpu_isa_avx512_core_vnni: return BT_ISA_AVX512;
    case dnnl_cpu_isa_avx512_core_bf16: return BT_ISA_AVX512_BF16;
    case dnnl_cpu_isa_avx512_core_amx: return BT_ISA_AMX;
    default: return BT_ISA_NONE;
    }
}
#endif

const char *bt_gemm_isa(int kind) {
    switch (kind) {
#ifdef BT_HAVE_ONEDNN
    case BT_GEMM_ONEDNN: return bt_isa_name(onednn_effective());
    case BT_GEMM_ONEDNN_BF16: return bt_isa_name(onednn_effective());
#endif
    case BT_GEMM_BLAS: {
#ifdef BT_OPENBLAS
        /* OpenBLAS 0.3.21's x86 cores by the instructions their SGEMM kernels use */
        static const struct {
            const char *core;
            const char *isa;
        } cores[] = {{"SkylakeX", "avx512"}, {"Cooperlake", "avx512"}, {"SapphireRapids", "avx512"},
                     {"Haswell", "avx2"},     {"Zen", "avx2"},         {"SandyBridge", "avx"},
                     {"Nehalem", "sse4.2"},   {"Penryn", "sse4.1"},    {"Core2", "ssse3"},
                     {"Prescott", "sse3"}};
        const char *core = openblas_get_corename();
        for (size_t i = 0; core && i < sizeof cores / sizeof cores[0]; i++)
            if (!strcasecmp(core, cores[i].core)) return cores[i].isa;
        return "unknown";
#else
        return "chosen by " BT_BLAS_VENDOR;
#endif
    }
    default: return NULL;
    }
}

const char *bt_engine_kernels(void) {
    static char buf[96];
    const int k = bt_engine_gemm();
    if (k == BT_GEMM_BLAS) {
#ifdef BT_OPENBLAS
        snprintf(buf, sizeof buf, "blas/%s", openblas_get_corename());
#else
        snprintf(buf, sizeof buf, "blas/%s", BT_BLAS_VENDOR);
#endif
        return buf;
    }
#ifdef BT_HAVE_ONEDNN
    /* float32 products: every level from avx512_core up runs the same kernels */
    int l = onednn_effective();
    if (k == BT_GEMM_ONEDNN && l > BT_ISA_AVX512) l = BT_ISA_AVX512;
    snprintf(buf, sizeof buf, "%s/%s", bt_gemm_name(k), bt_isa_name(l));
#endif
    return buf;
}
