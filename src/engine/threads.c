/* Threads: BLAS and the engine's OpenMP loops share one process-wide count. Attention runs many
 * small independent products, which parallelise better across (sequence, head) pairs with a
 * single-threaded BLAS inside than inside each product. An OpenMP OpenBLAS does that by itself
 * inside a parallel region; a pthread OpenBLAS must be told. */
#include <cblas.h>
#include <omp.h>

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
