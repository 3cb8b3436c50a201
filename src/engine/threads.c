/* Threads: the GEMM backend and the engine's OpenMP loops share one process-wide count.
 * Attention runs many small independent products, which parallelise better across
 * (sequence, head) pairs with a single-threaded GEMM inside than inside each product. oneDNN
 * (OpenMP runtime) and an OpenMP OpenBLAS do that by themselves inside a parallel region; a
 * pthread OpenBLAS must be told. Another CBLAS (FindBLAS) follows omp_set_num_threads. */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "bertology/engine.h"
#include "threads.h"
#ifdef BT_OPENBLAS
#include <cblas.h>
#endif

#define OPENBLAS_PTHREADS 1 /* openblas_get_parallel(): 0 sequential, 1 pthreads, 2 OpenMP */

static int g_threads = 0;

void bt_engine_set_threads(int n) {
    if (n < 1) n = 1;
    g_threads = n;
    omp_set_num_threads(n);
#ifdef BT_OPENBLAS
    openblas_set_num_threads(n);
#endif
}

int eng_threads(void) { return g_threads > 0 ? g_threads : omp_get_max_threads(); }

int bt_engine_threads(void) { return eng_threads(); }

#ifdef BT_OPENBLAS
static int blas_needs_serial(void) {
    return eng_threads() > 1 && bt_engine_gemm() == BT_GEMM_BLAS && openblas_get_parallel() == OPENBLAS_PTHREADS;
}
#endif

/* The GEMM libraries run a product on one thread inside an active parallel region, but use
 * the thread count of the calling task outside one, which is where a team of one thread is
 * (--threads 1, or OMP_NUM_THREADS differing from the engine's count). Setting the count of the
 * region's own task makes every context alike; it ends with the region. */
void eng_products_on_this_thread(void) { omp_set_num_threads(1); }

void eng_blas_serial_begin(void) {
#ifdef BT_OPENBLAS
    if (blas_needs_serial()) openblas_set_num_threads(1);
#endif
}

void eng_blas_serial_end(void) {
#ifdef BT_OPENBLAS
    if (blas_needs_serial()) openblas_set_num_threads(eng_threads());
#endif
}

const char *bt_engine_blas_warning(void) {
#ifdef BT_OPENBLAS
    static char msg[256];
    if (bt_engine_gemm() != BT_GEMM_BLAS) return NULL;
    const char *core = openblas_get_corename();
    if (!core || (strcmp(core, "Prescott") && strcmp(core, "Core2") && strcmp(core, "Nehalem"))) return NULL;
    const char *better = __builtin_cpu_supports("avx512f") ? "SkylakeX" : __builtin_cpu_supports("avx2") ? "Haswell" : NULL;
    if (!better) return NULL;
    snprintf(msg, sizeof msg,
             "OpenBLAS uses its generic '%s' kernels on this %s CPU (several times slower): "
             "set OPENBLAS_CORETYPE=%s%s", core, better[0] == 'S' ? "AVX-512" : "AVX2", better,
             bt_gemm_available(BT_GEMM_ONEDNN) ? ", or use `gemm` onednn" : " (or build with oneDNN: libdnnl-dev)");
    return msg;
#else
    return NULL;
#endif
}
