/* The ranks of a run agree on what decides a product's bits (docs/engine.md "What is bitwise"):
 * the thread count, the GEMM backend and its kernels. Without it, a job spread over nodes of
 * two CPU generations, or ranks bound to different core counts, would give results that depend
 * on which rank computed which batch. */
#include <stdio.h>
#include <string.h>

#include "bertology/dist.h"
#include "bertology/engine.h"
#include "run_internal.h"

enum { KERNELS_LEN = 64 };

/* The environment variable that makes every rank run `kernels` (a "blas/<core>" id). */
static const char *how_to_match(const char *kernels) {
    return !strncmp(kernels, "blas/", 5) ? "set OPENBLAS_CORETYPE to one core for every rank"
                                         : "set ONEDNN_MAX_CPU_ISA to one level for every rank";
}

int bt_run_agree_kernels(MPI_Comm comm, const bt_run_options *o, bt_error *err) {
    bt_error local = {0};
    int rank, n;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &n);

    /* --threads, else each rank's OpenMP default (its cores): the smallest, on every rank */
    int threads = o->threads > 0 ? o->threads : bt_engine_threads(), agreed_threads;
    MPI_Allreduce(&threads, &agreed_threads, 1, MPI_INT, MPI_MIN, comm);
    bt_engine_set_threads(agreed_threads);

    /* --gemm auto leaves the process-wide choice alone (BT_GEMM in the environment, or auto) */
    int rc = bt_dist_agree(comm, o->gemm ? bt_engine_set_gemm(o->gemm, &local) : BT_OK, &local, err);
    if (rc) return rc;

    /* oneDNN: every rank capped to the lowest instruction set of any (before its first product) */
    int level = bt_engine_isa_level(), agreed_level;
    MPI_Allreduce(&level, &agreed_level, 1, MPI_INT, MPI_MIN, comm);
    rc = agreed_level > 0 ? bt_engine_cap_isa(agreed_level, &local) : BT_OK;
    if (!rc && bt_engine_gemm() == BT_GEMM_ONEDNN_BF16 && !bt_gemm_available(BT_GEMM_ONEDNN_BF16))
        rc = bt_error_set(&local, BT_EINPUT, "`gemm` onednn-bf16 needs AVX512_BF16 or AMX on every rank; some rank "
                          "has %s only", bt_isa_name(agreed_level));
    rc = bt_dist_agree(comm, rc, &local, err);
    if (rc) return rc;

    /* the same kernels everywhere: OpenBLAS picks its own by CPUID, and oneDNN's cap above is
     * computed without asking oneDNN */
    char mine[KERNELS_LEN] = {0}, first[KERNELS_LEN] = {0};
    snprintf(mine, sizeof mine, "%s", bt_engine_kernels());
    memcpy(first, mine, sizeof first);
    MPI_Bcast(first, KERNELS_LEN, MPI_CHAR, 0, comm);
    const int differs = strcmp(mine, first) != 0;
    int lowest = differs ? rank : n;
    MPI_Allreduce(MPI_IN_PLACE, &lowest, 1, MPI_INT, MPI_MIN, comm);
    if (lowest == n) return BT_OK;
    char other[KERNELS_LEN];
    memcpy(other, mine, sizeof other);
    MPI_Bcast(other, KERNELS_LEN, MPI_CHAR, lowest, comm);
    return bt_error_set(err, BT_EINPUT, "rank 0 runs GEMM kernels %s, rank %d runs %s: results would depend on "
                        "which rank computes which batch; %s (docs/engine.md \"What is bitwise\")", first, lowest,
                        other, how_to_match(first));
}
