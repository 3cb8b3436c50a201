/* Threads: BLAS and the engine's OpenMP loops share one process-wide count. Attention runs many
 * small independent products, which parallelise better across (sequence, head) pairs with a
 * single-threaded BLAS inside than inside each product. An OpenMP OpenBLAS does that by itself
 * inside a parallel region; a pthread OpenBLAS must be told. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "bertology/engine.h"
#include "threads.h"

#define OPENBLAS_PTHREADS 1 /* openblas_get_parallel(): 0 sequential, 1 pthreads, 2 OpenMP */

static int g_threads = 0;

void bt_engine_set_threads(int n) {
    if (n < 1) n = 1;
    g_threads = n;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int eng_threads(void) { return g_threads > 0 ? g_threads : omp_get_max_threads(); }

void eng_blas_serial_begin(void) {
    if (eng_threads() > 1 && openblas_get_parallel() == OPENBLAS_PTHREADS) openblas_set_num_threads(1);
}

void eng_blas_serial_end(void) {
    if (eng_threads() > 1 && openblas_get_parallel() == OPENBLAS_PTHREADS) openblas_set_num_threads(eng_threads());
}

const char *bt_engine_blas_warning(void) {
    static char msg[256];
    const char *core = openblas_get_corename();
    if (!core || (strcmp(core, "Prescott") && strcmp(core, "Core2") && strcmp(core, "Nehalem"))) return NULL;
    const char *better = __builtin_cpu_supports("avx512f") ? "SkylakeX" : __builtin_cpu_supports("avx2") ? "Haswell" : NULL;
    if (!better) return NULL;
    snprintf(msg, sizeof msg,
             "OpenBLAS uses its generic '%s' kernels on this %s CPU (several times slower): "
             "set OPENBLAS_CORETYPE=%s", core, better[0] == 'S' ? "AVX-512" : "AVX2", better);
    return msg;
}
