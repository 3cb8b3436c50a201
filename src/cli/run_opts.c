/* Flags of the GLUE commands (docs/architecture.md), parsed the same on every rank from the
 * library's one flag table. */
#include "run_opts.h"

#include "bertology/engine.h"
#include "bertology/signals.h"
#include "bertology/store.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bertology/common.h"
#include "bertology/dist.h"

/* "bertology NAME: msg (bertology NAME --help)" on rank 0, the library's option names as flags */
#define FAIL(...)                                                        \
    do {                                                                 \
        if (rank == 0) {                                                 \
            char m_[BT_ERROR_MSG_MAX];                                   \
            snprintf(m_, sizeof m_, __VA_ARGS__);                        \
            bt_run_flag_names(m_, sizeof m_);                            \
            fprintf(stderr, "bertology %s: %s (bertology %s --help)\n", name, m_, name); \
        }                                                                \
        return 2;                                                        \
    } while (0)

static void keep_command_line(bt_run_options *o, int argc, char **argv) {
    size_t pos = (size_t)snprintf(o->command_line, sizeof o->command_line, "bertology");
    for (int i = 0; i < argc && pos < sizeof o->command_line; i++)
        pos += (size_t)snprintf(o->command_line + pos, sizeof o->command_line - pos, " %s", argv[i]);
}

int run_opts_parse(bt_run_options *o, int command, const char *name, int argc, char **argv, int rank) {
    bt_run_options_init(o, command, name);
    keep_command_line(o, argc, argv);
    int n_flags;
    const bt_flag *flags = bt_run_flags(&n_flags);
    bt_error err = {0};
    struct option *opts = bt_calloc((size_t)n_flags + 1, sizeof *opts, "the flags", &err);
    if (!opts) FAIL("%s", err.msg);
    /* the command's rows only: a flag name may mean another thing to another command. getopt_long
     * returns a row's val, so vals start above every character: row 58 or 63 would otherwise come
     * back as ':' or '?', getopt's own "bad option" */
    enum { VAL0 = 1 << 10 };
    int n = 0;
    for (int i = 0; i < n_flags; i++)
        if (flags[i].commands & command)
            opts[n++] = (struct option){flags[i].name, flags[i].arg ? required_argument : no_argument, 0, VAL0 + i};
    int c, rc = 0;
    optind = 1;
    opterr = 0;
    while (!rc && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c < VAL0 || c >= VAL0 + n_flags) {
            free(opts);
            /* another command's flag, or none at all */
            const char *arg = argv[optind - 1];
            int elsewhere = 0;
            const size_t len = strcspn(arg, "=");
            for (int i = 0; i < n_flags && !strncmp(arg, "--", 2); i++)
                elsewhere |= strlen(flags[i].name) == len - 2 && !strncmp(arg + 2, flags[i].name, len - 2);
            if (elsewhere) FAIL("%.*s does not apply to %s", (int)len, arg, name);
            FAIL("unknown option or missing value: %s", arg);
        }
        const bt_flag *fl = &flags[c - VAL0];
        if (fl->kind == BT_FLAG_HELP) {
            free(opts);
            if (rank == 0) bt_run_options_usage(stdout, command, name);
            return -1;
        }
        rc = bt_run_flag_apply(o, fl, optarg, &err);
    }
    free(opts);
    if (rc) FAIL("%s", err.msg);
    if (optind < argc) FAIL("unexpected argument '%s'", argv[optind]);
    if (bt_run_options_check(o, &err)) FAIL("%s", err.msg);
    return 0;
}

/* The stop request of docs/resume.md: SIGTERM (Slurm's time limit, scancel, preemption; srun
 * forwards it; mpirun sends it to the ranks, then SIGKILL a second later), SIGUSR1 (mpirun forwards
 * it; Slurm's --signal) and SIGINT (^C) make the run stop: the batch in flight is abandoned at the
 * next layer, the work done is made durable, exit 3. A second ^C ends at once. They are taken by a
 * thread of their own, never by a handler on a computing thread (bertology/signals.h). */
static const char *g_out; /* the checkpoint's directory, for the message; NULL: no checkpoint */
static const volatile sig_atomic_t *g_stop; /* the stop flag, when the command takes stop signals */
static int g_status;                        /* what run_fail reported: the exit status */

int run_begin(int *argc, char ***argv, int command, const char *name, bt_run_options *o, int *rank, int *n_ranks) {
    bt_error err = {0};
    bt_signals_block(); /* before MPI_Init: no thread of MPI, OpenMP or oneDNN ever takes them */
    /* our fatal-signal handler from the start; Open MPI's (which allocates) not even in MPI_Init */
    char who[128];
    snprintf(who, sizeof who, "bertology %s (pid %ld)", name, (long)getpid());
    bt_signals_fatal(who);
    setenv("OMPI_MCA_opal_signal", "", 0);
    if (bt_dist_init(argc, argv, &err)) {
        fprintf(stderr, "bertology %s: %s\n", name, err.msg);
        bt_signals_release();
        return BT_EINTERNAL;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, n_ranks);
    snprintf(who, sizeof who, "bertology %s (rank %d, pid %ld)", name, *rank, (long)getpid());
    bt_signals_fatal(who); /* the rank in its line, and in place of any handler MPI_Init installed */
    int rc = run_opts_parse(o, command, name, *argc, *argv, *rank);
    if (!rc && bt_run_resumable(o)) { /* the commands that keep a checkpoint stop on request */
        bt_error local = {0};
        o->stop = bt_signals_catch_stop(&local);
        if (!o->stop) rc = BT_EINTERNAL;
        if ((rc = bt_dist_agree(MPI_COMM_WORLD, rc, &local, &err))) run_fail(*rank, name, &err);
        g_out = o->out;
        g_stop = o->stop;
    } else {
        bt_signals_release();
    }
    if (rc) run_end();
    return rc;
}

void run_fail(int rank, const char *name, const bt_error *err) {
    g_status = err->code;
    if (rank != 0) return;
    char msg[BT_ERROR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", err->msg);
    bt_run_flag_names(msg, sizeof msg);
    if (err->code == BT_EINTERRUPTED) {
        /* where, and how long after this rank's signal (the others' came at about the same time) */
        char where[4200] = "", after[64] = "";
        if (g_out) snprintf(where, sizeof where, "%s/checkpoint, ", g_out);
        if (g_stop && *g_stop)
            snprintf(after, sizeof after, "%s %.2f s after %s; ", g_out ? "saved" : "stopped", bt_signals_stop_age(),
                     *g_stop == SIGTERM ? "SIGTERM" : *g_stop == SIGINT ? "SIGINT" : "SIGUSR1");
        fprintf(stderr, "bertology %s: %s (%s%sexit status 3)\n", name, msg, where, after);
    } else
        fprintf(stderr, "bertology %s: %s\n", name, msg);
}

void run_notice(const bt_run *x) {
    if (x->rank == 0 && x->notice[0]) fprintf(stderr, "bertology %s: %s\n", x->o->name, x->notice);
}

int run_open(MPI_Comm comm, const bt_run_options *o, bt_run *x) {
    bt_error err = {0};
    const int rc = bt_run_open(comm, o, x, &err);
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (rc) {
        run_fail(rank, o->name, &err);
        return rc;
    }
    if (rank == 0 && o->text && !o->quiet) {
        const bt_lmtext_stats *t = &x->text_stats;
        fprintf(stderr, "%s: %lld lines, %lld windows of at most %d tokens (%lld from %lld lines split across windows), "
                "%lld one-token windows skipped, %lld empty lines\n", o->text, (long long)t->lines, (long long)t->windows,
                o->max_seq_length, (long long)t->split_windows, (long long)t->split_lines, (long long)t->short_windows,
                (long long)t->empty_lines);
    }
    if (rank == 0 && x->is_ud && !o->quiet) {
        const bt_conllu_pieces *pc = &x->ud_pieces;
        fprintf(stderr, "%s: %d sentences, %lld words; %d kept (%lld tokens), %lld longer than %d tokens and %lld with a "
                "word of no pieces skipped", o->data, x->ud.n_sents, (long long)x->ud.n_words, x->data.n,
                (long long)x->data.n_tokens, (long long)pc->skipped_long, o->max_seq_length, (long long)pc->skipped_empty);
        if (x->skipped_short)
            fprintf(stderr, ", %lld of one token (no next token for the loss)", (long long)x->skipped_short);
        fputc('\n', stderr);
    }
    if (rank == 0 && x->is_code && o->command != BT_CMD_CAT && !o->quiet && (x->code.skipped || x->skipped_short)) {
        fprintf(stderr, "%s: %zu functions kept (%lld tokens)", o->data, x->code.n, (long long)x->data.n_tokens);
        if (x->code.skipped) fprintf(stderr, ", %zu bad lines skipped (first: %s)", x->code.skipped, x->code.first_skipped);
        if (x->skipped_short)
            fprintf(stderr, ", %lld of one token (no next token for the loss)", (long long)x->skipped_short);
        fputc('\n', stderr);
    }
    if (rank == 0 && o->verbose) {
        fprintf(stderr, "bertology %s: GEMM %s; kernels %s on every rank, %d threads per rank\n", o->name,
                bt_engine_gemm_info(), bt_engine_kernels(), bt_engine_threads());
        for (int k = BT_GEMM_BLAS; k <= BT_GEMM_ONEDNN_BF16; k++)
            if (k != bt_engine_gemm() && bt_gemm_available(k))
                fprintf(stderr, "bertology %s: not used: %s runs ISA %s\n", o->name, bt_gemm_name(k), bt_gemm_isa(k));
    }
    if (rank == 0 && x->examples.skipped)
        fprintf(stderr, "bertology %s: skipped %zu bad lines of %s (first: %s)\n", o->name, x->examples.skipped,
                x->examples.path, x->examples.first_skipped);
    return BT_OK;
}

void run_end(void) {
    if (bt_store_poisoned()) {
        fflush(NULL);
        _exit(1);
    }
    if (g_stop) {
        /* Every collective step is done and everything is on disk. An mpirun told to end
         * (SIGTERM, ^C) never answers MPI_Finalize: end without it, now or when its SIGTERM
         * comes, rather than wait for its SIGKILL. (After SIGUSR1 the launcher is well.) */
        fflush(NULL);
        if (*g_stop == SIGTERM || *g_stop == SIGINT) _exit(g_status);
        bt_signals_exit_on_stop(g_status);
    }
    bt_dist_finalize();
}
