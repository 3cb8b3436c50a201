/* Ordered reduction and gathers over the static assignment. Floating-point addition is not
 * associative, so a tree reduction (MPI_Reduce) gives bits that depend on the number of ranks;
 * instead the per-batch vectors travel to the root, which adds them in global batch order. The
 * volume is small (n_batches * K doubles once per pass), and every rank knows the assignment,
 * so no batch indices travel with the data. */
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/dist.h"

enum { LOCAL_OK = 0, LOCAL_NOMEM = 1, LOCAL_BADARG = 2 };

/* One allreduce before any data moves. A rank that found bad arguments or could not allocate
 * must not leave the others waiting in the gather, so it reports here and all ranks return
 * together. It also catches ranks that disagree on the arguments (a caller bug that would
 * otherwise corrupt data or hang in the gather). */
static int preflight(MPI_Comm comm, const char *what, int local, long long width, int root,
                     long long n_batches, bt_error *err) {
    /* max(x) == -max(-x) exactly when every rank passed the same x */
    long long w[7] = {local, width, -width, root, -root, n_batches, -n_batches};
    if (MPI_Allreduce(MPI_IN_PLACE, w, 7, MPI_LONG_LONG, MPI_MAX, comm) != MPI_SUCCESS)
        return bt_error_set(err, BT_EINTERNAL, "%s: MPI_Allreduce failed", what);
    if (local == LOCAL_NOMEM) return bt_error_set(err, BT_EINTERNAL, "%s: out of memory", what);
    if (local == LOCAL_BADARG) return BT_EINTERNAL; /* message already set */
    if (w[0]) return bt_error_set(err, BT_EINTERNAL, "%s: failed on another rank", what);
    if (w[1] != -w[2] || w[3] != -w[4] || w[5] != -w[6])
        return bt_error_set(err, BT_EINTERNAL,
                            "%s: ranks disagree on the arguments (width, root or number of batches)", what);
    return BT_OK;
}

/* Checks shared by the three calls; on failure sets err and returns LOCAL_BADARG. */
static int check_args(MPI_Comm comm, const char *what, const bt_plan_assignment *asg, long long width,
                      int root, bt_error *err) {
    int size;
    MPI_Comm_size(comm, &size);
    if (asg->n_ranks != size)
        return bt_error_set(err, LOCAL_BADARG, "%s: assignment made for %d ranks, communicator has %d",
                            what, asg->n_ranks, size);
    if (width < 0) return bt_error_set(err, LOCAL_BADARG, "%s: negative width %lld", what, width);
    if (root != BT_DIST_ALL && (root < 0 || root >= size))
        return bt_error_set(err, LOCAL_BADARG, "%s: root %d outside 0..%d", what, root, size - 1);
    return LOCAL_OK;
}

static int is_receiver(MPI_Comm comm, int root) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    return root == BT_DIST_ALL || rank == root;
}

/* Gathers each rank's rows (rank-major, slot order within a rank) into buf on root, or on every
 * rank for BT_DIST_ALL. Units of counts and displs are rows of `width` elements of `elem`. */
static int gather_rows(MPI_Comm comm, const char *what, const void *send, const int *counts,
                       const int *displs, int width, MPI_Datatype elem, void *buf, int root,
                       bt_error *err) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    MPI_Datatype row;
    MPI_Type_contiguous(width, elem, &row);
    MPI_Type_commit(&row);
    int rc = root == BT_DIST_ALL
                 ? MPI_Allgatherv(send, counts[rank], row, buf, counts, displs, row, comm)
                 : MPI_Gatherv(send, counts[rank], row, buf, counts, displs, row, root, comm);
    MPI_Type_free(&row);
    return rc == MPI_SUCCESS ? BT_OK : bt_error_set(err, BT_EINTERNAL, "%s: MPI gather failed", what);
}

/* Per-batch rows in rank-major slot order into *rows (receivers only). *cursor is [n_ranks]
 * scratch for walking that buffer in batch order (see next_row); it is allocated before any
 * communication so that running out of memory is agreed on in the preflight. */
static int gather_batch_rows(MPI_Comm comm, const char *what, const bt_plan_assignment *asg,
                             const double *local, int K, int root, double **rows, int **cursor,
                             bt_error *err) {
    *rows = NULL;
    *cursor = NULL;
    int local_state = check_args(comm, what, asg, K, root, err);
    int *counts = NULL;
    if (local_state == LOCAL_OK) {
        size_t n = (size_t)asg->n_batches * (size_t)K;
        counts = bt_malloc((size_t)asg->n_ranks, sizeof *counts, what, NULL);
        *cursor = bt_malloc((size_t)asg->n_ranks, sizeof **cursor, what, NULL);
        if (is_receiver(comm, root) && counts) *rows = bt_malloc(n, sizeof **rows, what, NULL);
        if (!counts || !*cursor || (is_receiver(comm, root) && !*rows)) local_state = LOCAL_NOMEM;
    }
    int rc = preflight(comm, what, local_state, K, root, asg->n_batches, err);
    if (!rc && K > 0 && asg->n_batches > 0) {
        for (int r = 0; r < asg->n_ranks; r++) counts[r] = bt_plan_rank_count(asg, r);
        rc = gather_rows(comm, what, local, counts, asg->rank_first, K, MPI_DOUBLE, *rows, root, err);
    }
    free(counts);
    if (rc) {
        free(*rows);
        free(*cursor);
        *rows = NULL;
        *cursor = NULL;
    }
    return rc;
}

/* Row of batch b in the rank-major buffer, for b = 0, 1, 2, ... in turn: each rank's slots are
 * in increasing batch index, so one cursor per rank (starting at rank_first) finds it. */
static size_t next_row(const bt_plan_assignment *a, int *cursor, int b) {
    return (size_t)cursor[a->owner[b]]++;
}

int bt_dist_reduce_ordered(MPI_Comm comm, const bt_plan_assignment *asg, const double *local, int K,
                           double *out, bt_error *err) {
    const char *what = "ordered reduction";
    double *rows;
    int *cursor;
    int rc = gather_batch_rows(comm, what, asg, local, K, 0, &rows, &cursor, err);
    if (rc) return rc;
    if (rows) {
        memcpy(cursor, asg->rank_first, (size_t)asg->n_ranks * sizeof *cursor);
        for (int k = 0; k < K; k++) out[k] = 0.0;
        for (int b = 0; b < asg->n_batches; b++) {
            const double *v = rows + next_row(asg, cursor, b) * K;
            for (int k = 0; k < K; k++) out[k] += v[k];
        }
    }
    free(rows);
    free(cursor);
    if (K > 0 && MPI_Bcast(out, K, MPI_DOUBLE, 0, comm) != MPI_SUCCESS)
        return bt_error_set(err, BT_EINTERNAL, "%s: MPI_Bcast failed", what);
    return BT_OK;
}

int bt_dist_gather_batches(MPI_Comm comm, const bt_plan_assignment *asg, const double *local, int K,
                           double *out, int root, bt_error *err) {
    double *rows;
    int *cursor;
    int rc = gather_batch_rows(comm, "batch gather", asg, local, K, root, &rows, &cursor, err);
    if (rc) return rc;
    if (rows) {
        memcpy(cursor, asg->rank_first, (size_t)asg->n_ranks * sizeof *cursor);
        for (int b = 0; b < asg->n_batches; b++)
            memcpy(out + (size_t)b * K, rows + next_row(asg, cursor, b) * K, (size_t)K * sizeof *out);
    }
    free(rows);
    free(cursor);
    return BT_OK;
}

int bt_dist_gather_examples(MPI_Comm comm, const bt_plan *plan, const bt_plan_assignment *asg,
                            const void *local, size_t rec_bytes, void *out, int root, bt_error *err) {
    const char *what = "example gather";
    int local_state = check_args(comm, what, asg, (long long)rec_bytes, root, err);
    if (!local_state && (rec_bytes == 0 || rec_bytes > (size_t)1 << 30))
        local_state = bt_error_set(err, LOCAL_BADARG, "%s: record size %zu bytes outside 1..2^30", what,
                                   rec_bytes);
    if (!local_state && asg->n_batches != plan->n_batches)
        local_state = bt_error_set(err, LOCAL_BADARG, "%s: assignment has %d batches, plan %d", what,
                                   asg->n_batches, plan->n_batches);
    int recv = is_receiver(comm, root);
    int *counts = NULL, *displs = NULL;
    char *rows = NULL;
    if (!local_state) {
        counts = bt_malloc((size_t)asg->n_ranks, sizeof *counts, what, NULL);
        displs = bt_malloc((size_t)asg->n_ranks, sizeof *displs, what, NULL);
        if (recv) rows = bt_malloc((size_t)plan->n_examples, rec_bytes, what, NULL);
        if (!counts || !displs || (recv && !rows)) local_state = LOCAL_NOMEM;
    }
    int rc = preflight(comm, what, local_state, (long long)rec_bytes, root, plan->n_examples, err);
    if (!rc && plan->n_examples > 0) {
        for (int r = 0, d = 0; r < asg->n_ranks; r++) {
            counts[r] = bt_plan_rank_examples(plan, asg, r);
            displs[r] = d;
            d += counts[r];
        }
        rc = gather_rows(comm, what, local, counts, displs, (int)rec_bytes, MPI_BYTE, rows, root, err);
    }
    if (!rc && recv && plan->n_examples > 0) {
        /* rank-major slot order -> example order */
        const char *src = rows;
        for (int r = 0; r < asg->n_ranks; r++) {
            const int *mine = bt_plan_rank_batches(asg, r);
            for (int j = 0; j < bt_plan_rank_count(asg, r); j++) {
                const bt_plan_batch *B = &plan->batches[mine[j]];
                for (int s = 0; s < B->n_seqs; s++, src += rec_bytes)
                    memcpy((char *)out + (size_t)plan->order[B->first + s] * rec_bytes, src, rec_bytes);
            }
        }
    }
    free(counts);
    free(displs);
    free(rows);
    return rc;
}
