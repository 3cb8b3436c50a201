/* Attention's Q K^T as one oneDNN batched matmul against the engine's loop of dnnl_sgemm over
 * (sequence, head), on the strided qkv layout of the engine (docs/engine.md "GEMM backends"):
 *     bench_attention_matmul [T] [reps]      (2048 tokens, 12 heads of 64; OMP_NUM_THREADS)
 * Prints the median and best time of each and whether the bits agree. Not a test: it records
 * the measurement behind the engine's choice of the loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef BT_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define CHECK(call)                                                         \
    do {                                                                    \
        if ((call) != dnnl_success) {                                       \
            fprintf(stderr, "bench_attention_matmul: %s failed\n", #call); \
            return 1;                                                       \
        }                                                                   \
    } while (0)

int main(int argc, char **argv) {
    const int T = argc > 1 ? atoi(argv[1]) : 128, R = argc > 2 ? atoi(argv[2]) : 31;
    if (T < 1 || T > 2048 || R < 1 || R > 1000) {
        fprintf(stderr, "usage: bench_attention_matmul [T in 1..2048] [reps in 1..1000]\n");
        return 2;
    }
    const int H = 12, dh = 64, D = H * dh, ld = 3 * D, B = 2048 / T;
    float *qkv = malloc(sizeof(float) * B * T * ld), *pb = malloc(sizeof(float) * B * H * T * T),
          *pl = malloc(sizeof(float) * B * H * T * T);
    double *tb = malloc(sizeof(double) * R), *tl = malloc(sizeof(double) * R);
    for (long i = 0; i < (long)B * T * ld; i++) qkv[i] = (float)(i % 13) * 0.01f;
    dnnl_engine_t eng;
    dnnl_stream_t st;
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&st, eng, dnnl_stream_default_flags));
    /* Q [B,H,T,dh] and K^T [B,H,dh,T] read in place from qkv; P [B,H,T,T] dense */
    dnnl_memory_desc_t src, wei, dst;
    dnnl_dims_t sd = {B, H, T, dh}, ss = {(dnnl_dim_t)T * ld, dh, ld, 1};
    dnnl_dims_t wd = {B, H, dh, T}, ws = {(dnnl_dim_t)T * ld, dh, 1, ld};
    dnnl_dims_t dd = {B, H, T, T}, ds = {(dnnl_dim_t)H * T * T, (dnnl_dim_t)T * T, T, 1};
    CHECK(dnnl_memory_desc_init_by_strides(&src, 4, sd, dnnl_f32, ss));
    CHECK(dnnl_memory_desc_init_by_strides(&wei, 4, wd, dnnl_f32, ws));
    CHECK(dnnl_memory_desc_init_by_strides(&dst, 4, dd, dnnl_f32, ds));
    dnnl_matmul_desc_t md;
    CHECK(dnnl_matmul_desc_init(&md, &src, &wei, NULL, &dst));
    dnnl_primitive_attr_t attr;
    CHECK(dnnl_primitive_attr_create(&attr));
    const float scale = 0.125f;
    CHECK(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &md, attr, eng, NULL));
    const char *impl = "?";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    dnnl_primitive_t prim;
    CHECK(dnnl_primitive_create(&prim, pd));
    dnnl_memory_t ms, mw, mdst;
    CHECK(dnnl_memory_create(&ms, &src, eng, qkv));
    CHECK(dnnl_memory_create(&mw, &wei, eng, qkv + D));
    CHECK(dnnl_memory_create(&mdst, &dst, eng, pb));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, mdst}};
    for (int r = -1; r < R; r++) { /* r = -1: warm-up */
        double t0 = now();
        CHECK(dnnl_primitive_execute(prim, st, 3, args));
        CHECK(dnnl_stream_wait(st));
        const double t1 = now();
#pragma omp parallel for schedule(dynamic, 1)
        for (int u = 0; u < B * H; u++) {
            const float *q = qkv + (long)(u / H) * T * ld + (u % H) * dh;
            dnnl_sgemm('N', 'T', T, T, dh, scale, q, ld, q + D, ld, 0.0f, pl + (long)u * T * T, T);
        }
        if (r >= 0) tb[r] = t1 - t0, tl[r] = now() - t1;
    }
    qsort(tb, R, sizeof *tb, cmp);
    qsort(tl, R, sizeof *tl, cmp);
    const double f = 2.0 * B * H * T * T * dh / 1e9;
    printf("T=%d B=%d H=%d: batched matmul (%s) median %.3f ms (%.0f GFLOP/s), best %.3f ms; loop of dnnl_sgemm "
           "median %.3f ms (%.0f GFLOP/s), best %.3f ms; loop/batched (medians) %.2f; same bits: %s\n",
           T, B, H, impl, tb[R / 2] * 1e3, f / tb[R / 2], tb[0] * 1e3, tl[R / 2] * 1e3, f / tl[R / 2], tl[0] * 1e3,
           tl[R / 2] / tb[R / 2], memcmp(pb, pl, sizeof(float) * B * H * T * T) ? "no" : "yes");
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    dnnl_memory_destroy(ms), dnnl_memory_destroy(mw), dnnl_memory_destroy(mdst);
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
    free(qkv), free(pb), free(pl), free(tb), free(tl);
    return 0;
}
#else
int main(void) {
    fprintf(stderr, "bench_attention_matmul: built without oneDNN\n");
    return 2;
}
#endif
