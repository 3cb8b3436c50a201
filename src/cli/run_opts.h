/* The command line of the commands over a data set (importance, eval, mask, ablate, syntax, prune
 * with --task): argv -> bt_run_options through the library's flag table (include/bertology/run.h), and
 * the library's run calls with their errors printed once, on rank 0. */
#ifndef BT_CLI_RUN_OPTS_H
#define BT_CLI_RUN_OPTS_H

#include <mpi.h>
#include <stdio.h>

#include "bertology/run.h"

/* The first steps of every command: MPI start, rank and size, flags. Returns 0 to go on;
 * otherwise MPI is finalised, any message printed, and the command returns rc < 0 ? 0 : rc
 * (-1 after --help). */
int run_begin(int *argc, char ***argv, int command, const char *name, bt_run_options *o, int *rank, int *n_ranks);

/* Parses argv into o. Returns 0, or 2 after printing a one-line error (rank 0 only prints). A
 * --help prints usage and returns -1 (the caller exits 0). */
int run_opts_parse(bt_run_options *o, int command, const char *name, int argc, char **argv, int rank);

/* The end of every command that may have opened run.h5: MPI_Finalize, or, when a failed write
 * left the file impossible to close (bt_store_poisoned), _exit(1) without it: HDF5's hook inside
 * MPI_Finalize would hang or crash on that file. Every rank takes the same branch. */
void run_end(void);

/* Prints "bertology <name>: msg" on rank 0 (for BT_EINTERRUPTED: where the work is saved). */
void run_fail(int rank, const char *name, const bt_error *err);
/* Prints what the run has to tell (x->notice: e.g. a checkpoint that could not be resumed). */
void run_notice(const bt_run *x);

/* bt_run_open with the message printed on rank 0; also reports what the inputs' reading skipped.
 * Collective; returns the agreed code. */
int run_open(MPI_Comm comm, const bt_run_options *o, bt_run *x);

#endif
