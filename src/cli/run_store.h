/* run.h5 for the commands over a split (importance, eval, mask, ablate): open, summary, commit, each step
 * agreed by all ranks, with the message printed once on rank 0 when something fails. */
#ifndef BT_CLI_RUN_STORE_H
#define BT_CLI_RUN_STORE_H

#include <mpi.h>

#include "bertology/store.h"
#include "bertology/sweep.h"
#include "h5sink.h"
#include "run_opts.h"

typedef struct {
    h5sink sink; /* sink.store is the open file, NULL once committed or aborted */
    char path[4096];
    char *opts_json;
} run_store;

/* Opens o->out/run.h5 for per-example rows of x's data (has_loss: loss and gate_grad rows).
 * Collective; returns the agreed code, the message already printed. */
int run_store_open(MPI_Comm comm, const run_opts *o, const run_ctx *x, int has_loss, run_store *s);
/* The summary of a pass (importance fields only when r has them). Collective; local code. */
int run_store_summary(run_store *s, const bt_sweep_result *r, bt_error *err);
/* Agrees on lrc (this rank's outcome of the writes since open), then commits or aborts.
 * Collective; returns the agreed code, the message already printed. */
int run_store_commit(MPI_Comm comm, const run_opts *o, run_store *s, int lrc, const bt_error *local);
/* Aborts a file still open (after a failed pass) and frees everything. */
void run_store_free(run_store *s);

/* The end of every command that opened a run: MPI_Finalize, or, when a failed write left
 * run.h5 impossible to close (bt_store_poisoned), _exit(1) without it: HDF5's hook inside
 * MPI_Finalize would hang or crash on that file. Every rank takes the same branch. */
void run_finalize(void);

/* "bertology X; HDF5 a.b.c; Open MPI ...; OpenBLAS ..." */
void run_versions(char *buf, size_t n);

#endif
