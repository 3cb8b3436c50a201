#ifndef BT_ENGINE_THREADS_H
#define BT_ENGINE_THREADS_H

/* Threads in use (bt_engine_set_threads, else OpenMP's default). */
int eng_threads(void);
/* First thing in a parallel region whose threads call eng_gemm: each product runs on its calling
 * thread alone, also in a team of one thread. */
void eng_products_on_this_thread(void);
/* Bracket a parallel region whose iterations call BLAS: BLAS runs single-threaded inside. */
void eng_blas_serial_begin(void);
void eng_blas_serial_end(void);

#endif
