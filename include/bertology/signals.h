/* signals: stop requests and fatal signals of a program that runs the engine (common floor;
 * docs/checkpoint.md "Stopping"). POSIX threads and signals only: nothing here knows MPI.
 *
 * No signal handler may run on a thread that computes. oneDNN's JIT f32 GEMM kernels (Debian's
 * 2.6.3, and every release up to 3.11: uxlfoundation/oneDNN#4845) point rsp at a heap buffer
 * while they run; a signal delivered then makes the kernel write the handler's frame (about 3 KB
 * with the AVX-512 state) over the heap chunks below that buffer, and glibc aborts later
 * ("corrupted size vs. prev_size"). So the stop signals are blocked in every thread, and one
 * thread of ours, which computes nothing, takes them with sigwait(): no handler runs at all. */
#ifndef BERTOLOGY_SIGNALS_H
#define BERTOLOGY_SIGNALS_H

#include <signal.h>

#include "bertology/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Blocks SIGTERM, SIGINT and SIGUSR1 in the calling thread, and so in every thread started after
 * it (MPI's, OpenMP's, oneDNN's): call it first, before MPI_Init and before any parallel region.
 * Then exactly one of bt_signals_catch_stop and bt_signals_release. A thread started before it
 * (a library's pool started when the library is loaded, as a pthread build of OpenBLAS does;
 * the build links OpenBLAS's OpenMP variant, whose threads start later) does not block them: a
 * stop signal the kernel hands to such a thread takes its default action. */
void bt_signals_block(void);

/* Starts the thread that takes the stop signals. The returned flag is 0 until the first one
 * arrives, then that signal's number (a plain store by the taking thread: read it, never write
 * it). A second SIGINT ends the process at once, as an uncaught ^C does. NULL with err set when
 * the thread cannot start (the signals are released then). Once per process. */
const volatile sig_atomic_t *bt_signals_catch_stop(bt_error *err);

/* From now on SIGTERM or SIGINT ends the process at once with _exit(status) (flush stdio first):
 * for the end of a run, when everything is on disk and only MPI_Finalize is left, which an
 * mpirun told to end (SIGTERM, ^C) never answers: it sends the ranks SIGTERM a second later and
 * SIGKILL a second after that. */
void bt_signals_exit_on_stop(int status);

/* Seconds since the first stop signal arrived (monotonic clock), or -1 before one did. */
double bt_signals_stop_age(void);

/* Instead of bt_signals_catch_stop: the stop signals take their default action again (they end
 * the process); one that arrived since bt_signals_block does so now. */
void bt_signals_release(void);

/* SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT: one line "WHO: fatal signal SIGSEGV" and a
 * backtrace on stderr, then the process ends of that signal (its launcher reports it). The
 * handler runs on its own stack and never touches the heap, which may be what is broken (glibc's
 * abort on a corrupted heap holds the heap's lock: a handler that allocates waits for ever); if
 * it still hangs, an alarm ends the process 10 s later. Replaces the handlers MPI_Init installed
 * (Open MPI's print a backtrace through malloc): call it after. Not in sanitizer builds, whose
 * own reports are better. who is copied (at most 127 bytes). */
void bt_signals_fatal(const char *who);

#ifdef __cplusplus
}
#endif
#endif
