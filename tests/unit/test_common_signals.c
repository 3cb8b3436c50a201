/* Stop signals are taken by a thread of ours, never by a handler on a computing thread (oneDNN's
 * JIT GEMM points rsp at the heap, where a handler's frame corrupts it: issue 20); a second ^C
 * ends the process; fatal signals end it without touching the heap, even when the heap's lock is
 * held by the thread that crashed. Every case runs in a child process of its own. */
#include <check.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bertology/signals.h"
#include "testutil.h"

static void pause_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* fn in a child (its exit code: 0 when fn returns), stderr into err; the wait status, or -1 when
 * the child still ran after 10 s (then it is killed). */
static int in_child(void (*fn)(void), char *err, size_t n) {
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    const pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) { /* as a command starts: default actions (Check's process forwards SIGTERM) */
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGUSR1, SIG_DFL);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    int status = -1;
    for (int i = 0; i < 1000; i++) {
        struct pollfd p = {fds[0], POLLIN, 0};
        while (poll(&p, 1, 0) > 0 && got + 1 < n) {
            const ssize_t r = read(fds[0], err + got, n - 1 - got);
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (waitpid(pid, &status, WNOHANG) == pid) break;
        status = -1;
        pause_ms(10);
    }
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    err[got] = '\0';
    close(fds[0]);
    return status;
}

static int blocked_here(void) {
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, SIGTERM) && sigismember(&cur, SIGINT) && sigismember(&cur, SIGUSR1);
}

static void *report_mask(void *out) {
    *(int *)out = blocked_here();
    return NULL;
}

static int wait_flag(const volatile sig_atomic_t *flag, int want) {
    for (int i = 0; i < 500 && *flag != want; i++) pause_ms(2);
    return *flag == want;
}

/* exit codes say which expectation failed */
static void stop_reaches_the_flag(void) {
    bt_signals_block();
    int worker_blocked = 0;
    pthread_t t; /* a thread started afterwards, as MPI's, OpenMP's and oneDNN's are */
    pthread_create(&t, NULL, report_mask, &worker_blocked);
    pthread_join(t, NULL);
    if (!worker_blocked || !blocked_here()) _exit(10);
    bt_error err = {0};
    const volatile sig_atomic_t *flag = bt_signals_catch_stop(&err);
    if (!flag || *flag != 0 || bt_signals_stop_age() != -1.0) _exit(11);
    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa);
    if (sa.sa_handler != SIG_DFL) _exit(12); /* no handler at all: nothing runs on a computing thread */
    kill(getpid(), SIGUSR1); /* to the process, as a launcher sends it */
    if (!wait_flag(flag, SIGUSR1)) _exit(13);
    kill(getpid(), SIGTERM);
    pause_ms(50);
    if (*flag != SIGUSR1) _exit(14); /* the first request is the one reported */
    const double age = bt_signals_stop_age();
    if (!(age >= 0.05 && age < 5.0)) _exit(15);
}

START_TEST(stop_signals_set_the_flag_no_handler_runs) {
    char err[4096];
    const int st = in_child(stop_reaches_the_flag, err, sizeof err);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x, exit %d: %s", st, WEXITSTATUS(st), err);
}
END_TEST

static void second_interrupt(void) {
    bt_signals_block();
    bt_error err = {0};
    const volatile sig_atomic_t *flag = bt_signals_catch_stop(&err);
    kill(getpid(), SIGINT);
    if (!wait_flag(flag, SIGINT)) _exit(20);
    kill(getpid(), SIGINT);
    pause_ms(3000);
    _exit(21); /* still alive */
}

START_TEST(a_second_sigint_ends_the_process) {
    char err[4096];
    const int st = in_child(second_interrupt, err, sizeof err);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT, "child status %#x: %s", st, err);
}
END_TEST

static void released(void) {
    bt_signals_block();
    kill(getpid(), SIGTERM); /* pending while blocked: nobody takes it */
    pause_ms(50);
    bt_signals_release();
    pause_ms(3000);
    _exit(30);
}

START_TEST(released_signals_take_their_default_action) {
    char err[4096];
    const int st = in_child(released, err, sizeof err);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "child status %#x: %s", st, err);
}
END_TEST

static void exit_on_stop(void) {
    bt_signals_block();
    bt_error err = {0};
    const volatile sig_atomic_t *flag = bt_signals_catch_stop(&err);
    bt_signals_exit_on_stop(3);
    kill(getpid(), SIGUSR1); /* forwarded by a launcher that is well: no reason to leave */
    if (!wait_flag(flag, SIGUSR1)) _exit(40);
    pause_ms(50);
    kill(getpid(), SIGTERM);
    pause_ms(3000);
    _exit(41);
}

START_TEST(after_exit_on_stop_sigterm_ends_with_the_status) {
    char err[4096];
    const int st = in_child(exit_on_stop, err, sizeof err);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 3, "child status %#x: %s", st, err);
}
END_TEST

static void *idle(void *arg) {
    pause_ms(60000);
    return arg;
}

/* glibc's malloc finds the top chunk's size corrupted and aborts while it holds the arena's lock
 * (a process with more than one thread locks it): a handler that allocated would wait for ever,
 * as Open MPI's backtrace handler did in issue 20. */
static void crash_inside_malloc(void) {
    bt_signals_fatal("unit test");
    pthread_t t;
    pthread_create(&t, NULL, idle, NULL);
    char *p = malloc(60000); /* from the top chunk: the top's size field follows it */
    *(size_t *)(p + malloc_usable_size(p)) = (size_t)1 << 40;
    volatile char *q = malloc(70000); /* "malloc(): corrupted top size" */
    q[0] = 1;
    _exit(50);
}

START_TEST(a_fatal_signal_with_the_heap_lock_held_ends_the_process) {
#if defined(__SANITIZE_ADDRESS__)
    return; /* the sanitizer's allocator and reports instead: bt_signals_fatal does nothing */
#endif
    char err[8192];
    const int st = in_child(crash_inside_malloc, err, sizeof err);
    ck_assert_msg(st != -1, "the child hung in its fatal-signal handler: %s", err);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "child status %#x: %s", st, err);
    ck_assert_msg(strstr(err, "corrupted top size") && strstr(err, "unit test: fatal signal SIGABRT\n"), "%s", err);
}
END_TEST

int main(void) {
    Suite *s = suite_create("signals");
    TCase *tc = tcase_create("signals");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, stop_signals_set_the_flag_no_handler_runs);
    tcase_add_test(tc, a_second_sigint_ends_the_process);
    tcase_add_test(tc, released_signals_take_their_default_action);
    tcase_add_test(tc, after_exit_on_stop_sigterm_ends_with_the_status);
    tcase_add_test(tc, a_fatal_signal_with_the_heap_lock_held_ends_the_process);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
