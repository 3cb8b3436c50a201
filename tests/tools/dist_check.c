/* MPI driver for the dist floor's tests (the scripts in tests/dist run it under mpirun -np 1..4).
 *
 *   dist_check reduce OUT      ordered reduction of order-sensitive values; rank 0 writes the
 *                              sums (hex floats) to OUT; gathers are self-checked on every rank
 *   dist_check agree R[,R...]  ranks R fail (rank 3 with BT_EINTERNAL, others BT_EINPUT);
 *                              every rank prints the agreed code and exits with it
 *   dist_check agree2 R[,R...] the same, then every rank agrees again on the agreed error (as
 *                              a caller further up does): the failed ranks are counted once
 *   dist_check progress        a fake pass with progress lines on stderr (non-terminal)
 *   dist_check bench NB K      time of the ordered reduction of NB batches x K doubles against
 *                              MPI_Allreduce of each rank's K partial sums (the unordered way)
 *
 * The synthetic lengths and values are simple formulas that tests/dist/test_reduce.py
 * recomputes on its own. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bertology/dist.h"

#define N_EXAMPLES 97
#define BATCH_TOKENS 64
#define K 5

static void lengths(int *len) {
    uint32_t s = 2024;
    for (int i = 0; i < N_EXAMPLES; i++) {
        s = s * 1664525u + 1013904223u;
        len[i] = 1 + (int)((s >> 8) % 40);
    }
}

/* Batch b's vector. k = 0: +-1e16 and 1 in a pattern whose float sum depends on the order of
 * addition; k = 1: wide exponents and both signs; k = 2: 0.1 steps (inexact in binary);
 * k = 3: integers (exact); k = 4: tiny values next to a large one. */
static double value(int b, int k) {
    switch (k) {
    case 0: return b % 3 == 0 ? 1e16 : b % 3 == 1 ? 1.0 : -1e16;
    case 1: {
        uint32_t s = 77u + 2654435761u * (uint32_t)b;
        s ^= s >> 13;
        double m = 1.0 + (s % 1000) / 1000.0;
        return (s & 1 ? -1.0 : 1.0) * ldexp(m, (int)((s >> 10) % 60) - 30);
    }
    case 2: return 0.1 * (b + 1);
    case 3: return (double)(b + 1);
    default: return b == 0 ? 1.0 : 1e-17;
    }
}

typedef struct {
    int64_t example;
    int32_t batch, rank;
    double value;
} record;

static int fail(const char *what, const bt_error *e) {
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    fprintf(stderr, "dist_check rank %d: %s: %s\n", rank, what, e ? e->msg : "");
    return 1;
}

static int run_reduce(const char *out_path) {
    MPI_Comm comm = MPI_COMM_WORLD;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int len[N_EXAMPLES];
    lengths(len);
    bt_plan_options o = bt_plan_options_default();
    o.batch_tokens = BATCH_TOKENS;
    bt_plan plan;
    bt_plan_assignment asg;
    bt_error e;
    if (bt_plan_build(&plan, len, N_EXAMPLES, &o, &e) || bt_plan_assign(&asg, &plan, size, &e))
        return fail("plan", &e);

    int mine = bt_plan_rank_count(&asg, rank), my_ex = bt_plan_rank_examples(&plan, &asg, rank);
    const int *slots = bt_plan_rank_batches(&asg, rank);
    double *local = malloc(((size_t)mine * K + 1) * sizeof *local);
    record *rec = malloc(((size_t)my_ex + 1) * sizeof *rec);
    for (int j = 0, x = 0; j < mine; j++) {
        const bt_plan_batch *B = &plan.batches[slots[j]];
        for (int k = 0; k < K; k++) local[j * K + k] = value(slots[j], k);
        for (int s = 0; s < B->n_seqs; s++, x++) {
            int i = plan.order[B->first + s];
            rec[x] = (record){i, slots[j], rank, 0.5 * i - 3.0};
        }
    }

    double sum[K];
    if (bt_dist_reduce_ordered(comm, &asg, local, K, sum, &e)) return fail("reduce", &e);

    int bad = 0;
    for (int root = BT_DIST_ALL; root < size; root++) {
        double *rows = malloc((size_t)plan.n_batches * K * sizeof *rows);
        if (bt_dist_gather_batches(comm, &asg, local, K, rows, root, &e)) return fail("gather batches", &e);
        if (root == BT_DIST_ALL || root == rank)
            for (int b = 0; b < plan.n_batches; b++)
                for (int k = 0; k < K; k++) bad += memcmp(&rows[b * K + k], &(double){value(b, k)}, 8) != 0;
        free(rows);
    }
    record *all = malloc((size_t)N_EXAMPLES * sizeof *all);
    for (int root = BT_DIST_ALL; root < size; root++) {
        memset(all, 0xff, (size_t)N_EXAMPLES * sizeof *all);
        if (bt_dist_gather_examples(comm, &plan, &asg, rec, sizeof *rec, all, root, &e))
            return fail("gather examples", &e);
        if (root != BT_DIST_ALL && root != rank) continue;
        for (int i = 0; i < N_EXAMPLES; i++) {
            int b = all[i].batch;
            bad += all[i].example != i || all[i].value != 0.5 * i - 3.0;
            bad += b < 0 || b >= plan.n_batches || asg.owner[b] != all[i].rank;
        }
    }
    free(all);
    if (bad) {
        fprintf(stderr, "dist_check rank %d: %d gathered values differ from the inputs\n", rank, bad);
        return 1;
    }

    /* K = 0 is a no-op that still returns; ranks disagreeing on K all fail, none hangs. */
    if (bt_dist_reduce_ordered(comm, &asg, local, 0, sum, &e)) return fail("reduce K=0", &e);
    if (size > 1) {
        double tmp[K];
        int rc = bt_dist_reduce_ordered(comm, &asg, local, rank == size - 1 ? K - 1 : K, tmp, &e);
        if (rc != BT_EINTERNAL) {
            fprintf(stderr, "dist_check rank %d: mismatched K gave %d, expected %d\n", rank, rc, BT_EINTERNAL);
            return 1;
        }
    }

    if (rank == 0) {
        FILE *f = fopen(out_path, "w");
        if (!f) return fail("cannot write output", NULL);
        fprintf(f, "batches %d\n", plan.n_batches);
        for (int k = 0; k < K; k++) fprintf(f, "sum %d %a\n", k, sum[k]);
        fclose(f);
    }
    free(local);
    free(rec);
    bt_plan_assignment_free(&asg);
    bt_plan_free(&plan);
    return 0;
}

static int run_agree(const char *ranks, int twice) {
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int code = BT_OK;
    bt_error e;
    bt_error_clear(&e);
    for (const char *p = ranks; *p;) {
        char *end;
        long r = strtol(p, &end, 10);
        if (end == p) break;
        if (r == rank) {
            code = rank == 3 ? BT_EINTERNAL : BT_EINPUT;
            bt_error_set(&e, code, "synthetic failure: data/dev.tsv:%d: label 'x' not in {0, 1}", 10 + rank);
        }
        p = *end ? end + 1 : end;
    }
    int agreed = bt_dist_agree(MPI_COMM_WORLD, code, &e, &e);
    if (twice) agreed = bt_dist_agree(MPI_COMM_WORLD, agreed, &e, &e);
    printf("rank %d: local %d agreed %d\n", rank, code, agreed);
    fflush(stdout);
    if (agreed) {
        if (rank == 0) fprintf(stderr, "bertology: %s\n", e.msg);
        return agreed;
    }
    MPI_Barrier(MPI_COMM_WORLD); /* the next phase: reached by every rank or by none */
    return 0;
}

static int run_progress(void) {
    MPI_Comm comm = MPI_COMM_WORLD;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int len[N_EXAMPLES];
    lengths(len);
    bt_plan_options o = bt_plan_options_default();
    o.batch_tokens = BATCH_TOKENS;
    bt_plan plan;
    bt_plan_assignment asg;
    bt_error e;
    if (bt_plan_build(&plan, len, N_EXAMPLES, &o, &e) || bt_plan_assign(&asg, &plan, size, &e))
        return fail("plan", &e);
    bt_dist_progress p;
    bt_dist_progress_begin(&p, comm, &plan, &asg, "fake", stderr, 0.02);
    const int *slots = bt_plan_rank_batches(&asg, rank);
    for (int j = 0; j < bt_plan_rank_count(&asg, rank); j++) {
        /* ~0.6 s of "work" in total, split among the ranks by estimated cost */
        double s = 0.6 * plan.batches[slots[j]].cost / plan.cost * size;
        nanosleep(&(struct timespec){0, (long)(s * 1e9)}, NULL);
        bt_dist_progress_batch(&p, &plan, slots[j]);
    }
    bt_dist_progress_finish(&p, comm);
    bt_plan_assignment_free(&asg);
    bt_plan_free(&plan);
    return 0;
}

static int run_bench(int nb, int k) {
    MPI_Comm comm = MPI_COMM_WORLD;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int *len = malloc((size_t)nb * sizeof *len);
    for (int i = 0; i < nb; i++) len[i] = 1 + i % 100;
    bt_plan_options o = bt_plan_options_default();
    o.mode = BT_PLAN_BY_SIZE; /* one example per batch: nb batches */
    bt_plan plan;
    bt_plan_assignment asg;
    bt_error e;
    if (bt_plan_build(&plan, len, nb, &o, &e) || bt_plan_assign(&asg, &plan, size, &e)) return fail("plan", &e);
    int mine = bt_plan_rank_count(&asg, rank);
    double *local = malloc(((size_t)mine * k + 1) * sizeof *local), *out = malloc((size_t)k * sizeof *out);
    double *part = calloc((size_t)k, sizeof *part);
    for (size_t i = 0; i < (size_t)mine * k; i++) local[i] = 1.0 / (double)(i + 1);
    int reps = 20;
    double t[2] = {0, 0};
    for (int rep = 0; rep < reps; rep++) {
        MPI_Barrier(comm);
        double t0 = MPI_Wtime();
        if (bt_dist_reduce_ordered(comm, &asg, local, k, out, &e)) return fail("reduce", &e);
        double t1 = MPI_Wtime();
        for (int j = 0; j < mine; j++)
            for (int c = 0; c < k; c++) part[c] += local[(size_t)j * k + c];
        MPI_Allreduce(MPI_IN_PLACE, part, k, MPI_DOUBLE, MPI_SUM, comm);
        double t2 = MPI_Wtime();
        t[0] += t1 - t0;
        t[1] += t2 - t1;
    }
    MPI_Allreduce(MPI_IN_PLACE, t, 2, MPI_DOUBLE, MPI_MAX, comm);
    if (rank == 0)
        printf("np %d, %d batches x %d doubles (%.1f MB): ordered %.3f ms, allreduce %.3f ms\n", size, nb, k,
               nb * (double)k * 8 / 1e6, 1e3 * t[0] / reps, 1e3 * t[1] / reps);
    free(local);
    free(out);
    free(part);
    free(len);
    bt_plan_assignment_free(&asg);
    bt_plan_free(&plan);
    return 0;
}

int main(int argc, char **argv) {
    bt_error e;
    if (bt_dist_init(&argc, &argv, &e)) return fail("init", &e);
    int rc = 2;
    if (argc == 3 && !strcmp(argv[1], "reduce")) rc = run_reduce(argv[2]);
    else if (argc == 3 && !strcmp(argv[1], "agree")) rc = run_agree(argv[2], 0);
    else if (argc == 3 && !strcmp(argv[1], "agree2")) rc = run_agree(argv[2], 1);
    else if (argc == 2 && !strcmp(argv[1], "progress")) rc = run_progress();
    else if (argc == 4 && !strcmp(argv[1], "bench")) rc = run_bench(atoi(argv[2]), atoi(argv[3]));
    else fprintf(stderr, "usage: dist_check reduce OUT | agree RANKS | agree2 RANKS | progress | bench NB K\n");
    bt_dist_finalize();
    return rc;
}
