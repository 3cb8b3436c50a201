/* Stop requests taken by a thread of their own, and fatal signals that end the process without
 * touching the heap (bertology/signals.h says why). */
#include "bertology/signals.h"

#include <execinfo.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Written by the taking thread only; volatile sig_atomic_t, as the sweep and run options read it
 * (an aligned int: its stores and loads are whole on every target we build for). */
static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_exit_status = -1; /* bt_signals_exit_on_stop */
static struct timespec g_stop_at; /* written before g_stop (the flag publishes it) */

static sigset_t stop_set(void) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGUSR1);
    return s;
}

void bt_signals_block(void) {
    const sigset_t s = stop_set();
    pthread_sigmask(SIG_BLOCK, &s, NULL);
}

void bt_signals_release(void) {
    const sigset_t s = stop_set();
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
}

static void *take_stops(void *arg) {
    (void)arg;
    const sigset_t s = stop_set();
    for (;;) {
        int sig = 0;
        if (sigwait(&s, &sig)) continue;
        if (sig != SIGUSR1 && g_exit_status >= 0) _exit(g_exit_status);
        if (sig == SIGINT && g_stop) { /* a second ^C: end now, of SIGINT, as without us */
            sigset_t one;
            sigemptyset(&one);
            sigaddset(&one, SIGINT);
            signal(SIGINT, SIG_DFL);
            pthread_sigmask(SIG_UNBLOCK, &one, NULL);
            raise(SIGINT);
        }
        if (!g_stop) {
            clock_gettime(CLOCK_MONOTONIC, &g_stop_at);
            __atomic_store_n(&g_stop, sig, __ATOMIC_RELEASE);
        }
    }
    return NULL;
}

void bt_signals_exit_on_stop(int status) { g_exit_status = status; }

double bt_signals_stop_age(void) {
    if (!__atomic_load_n(&g_stop, __ATOMIC_ACQUIRE)) return -1.0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - g_stop_at.tv_sec) + (double)(now.tv_nsec - g_stop_at.tv_nsec) * 1e-9;
}

const volatile sig_atomic_t *bt_signals_catch_stop(bt_error *err) {
    static int started;
    if (started) return &g_stop;
    pthread_attr_t at;
    pthread_t t;
    int rc = pthread_attr_init(&at);
    if (!rc) {
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        rc = pthread_create(&t, &at, take_stops, NULL);
        pthread_attr_destroy(&at);
    }
    if (rc) {
        bt_signals_release();
        bt_error_set(err, BT_EINTERNAL, "cannot start the thread that takes stop signals: %s", strerror(rc));
        return NULL;
    }
    started = 1;
    return &g_stop;
}

/* ---- fatal signals -------------------------------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
void bt_signals_fatal(const char *who) { (void)who; }
#else
static char g_who[128];
static char g_altstack[64 * 1024]; /* not the heap, and not a stack that may be broken */

static void put(const char *s) {
    size_t n = strlen(s);
    while (n > 0) {
        const ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static const char *sig_name(int sig) {
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    default: return "?";
    }
}

/* Async-signal-safe only: write, backtrace (its unwinder was loaded by bt_signals_fatal, so no
 * dlopen and no malloc now), alarm, raise. SA_RESETHAND made the disposition the default one: the
 * raise, delivered when the handler returns, ends the process of sig (and so would a fault in
 * here). */
static void on_fatal(int sig) {
    alarm(10); /* should the unwinder hang on a broken stack, SIGALRM ends the process */
    put(g_who);
    put(": fatal signal ");
    put(sig_name(sig));
    put("\n");
    void *frames[48];
    const int n = backtrace(frames, 48);
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
    raise(sig);
}

void bt_signals_fatal(const char *who) {
    snprintf(g_who, sizeof g_who, "%s", who);
    void *warm[2];
    backtrace(warm, 2); /* loads libgcc's unwinder now, while the heap is sound */
    const stack_t ss = {.ss_sp = g_altstack, .ss_size = sizeof g_altstack};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
}
#endif
