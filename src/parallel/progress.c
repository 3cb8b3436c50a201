/* Progress line of a pass over the batch plan (rank 0 only). No communication until finish:
 * rank 0 extrapolates from its own share of the static assignment (see dist.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bertology/dist.h"

#define TTY_INTERVAL_S 0.2
#define LOG_INTERVAL_S 10.0

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* 1234567 -> "1.23M": rates and counts stay readable from SST-2 to QQP. */
static void human(char *buf, size_t n, double x) {
    if (x >= 1e9) snprintf(buf, n, "%.2fG", x / 1e9);
    else if (x >= 1e6) snprintf(buf, n, "%.2fM", x / 1e6);
    else if (x >= 1e4) snprintf(buf, n, "%.1fk", x / 1e3);
    else snprintf(buf, n, "%.0f", x);
}

static void hms(char *buf, size_t n, double s) {
    if (!(s >= 0.0) || s > 359999.0) { /* NaN or absurd early estimates */
        snprintf(buf, n, "?");
        return;
    }
    /* s <= 359999 keeps every field small: int, and the compiler can see it fits */
    const int t = (int)(s + 0.5), h = t / 3600 % 100, m = t / 60 % 60, sec = t % 60;
    if (t >= 3600) snprintf(buf, n, "%d:%02d:%02d", h, m, sec);
    else snprintf(buf, n, "%d:%02d", m, sec);
}

void bt_dist_progress_begin(bt_dist_progress *p, MPI_Comm comm, const bt_plan *plan,
                            const bt_plan_assignment *asg, const char *label, FILE *out,
                            double interval_s) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    memset(p, 0, sizeof *p);
    p->out = rank == 0 ? out : NULL;
    p->tty = p->out && isatty(fileno(p->out));
    p->interval_s = p->tty ? TTY_INTERVAL_S : interval_s > 0.0 ? interval_s : LOG_INTERVAL_S;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "progress");
    p->t0 = p->last_print = now_s();
    p->total_examples = plan->n_examples;
    p->total_tokens = plan->n_tokens;
    if (rank < asg->n_ranks) {
        p->my_cost = asg->rank_cost[rank];
        const int *mine = bt_plan_rank_batches(asg, rank);
        for (int j = 0; j < bt_plan_rank_count(asg, rank); j++) {
            p->my_examples += plan->batches[mine[j]].n_seqs;
            p->my_tokens += plan->batches[mine[j]].n_tokens;
        }
    }
}

void bt_dist_progress_resumed(bt_dist_progress *p, const bt_plan *plan, int b) {
    if (b < 0 || b >= plan->n_batches) return;
    p->my_cost_resumed += plan->batches[b].cost;
    p->my_examples_resumed += plan->batches[b].n_seqs;
    p->my_tokens_resumed += plan->batches[b].n_tokens;
    p->my_cost_done += plan->batches[b].cost;
    p->my_examples_done += plan->batches[b].n_seqs;
    p->my_tokens_done += plan->batches[b].n_tokens;
}

void bt_dist_progress_batch(bt_dist_progress *p, const bt_plan *plan, int b) {
    if (b < 0 || b >= plan->n_batches) return;
    p->my_cost_done += plan->batches[b].cost;
    p->my_examples_done += plan->batches[b].n_seqs;
    p->my_tokens_done += plan->batches[b].n_tokens;
    if (!p->out) return;
    double t = now_s();
    if (t - p->last_print < p->interval_s) return;
    p->last_print = t;

    /* Each quantity is extrapolated from rank 0's own share of it: counts from its counts, the
     * time left from its estimated cost (cost, not examples, is what takes time). */
    double el = t - p->t0;
    double fex = p->my_examples ? (double)p->my_examples_done / p->my_examples : 1.0;
    double ftok = p->my_tokens ? (double)p->my_tokens_done / p->my_tokens : 1.0;
    double fcost = p->my_cost > 0.0 ? p->my_cost_done / p->my_cost : 1.0;
    /* rates and the time left from the computed part only: resumed batches cost no time */
    double fres = p->my_cost > 0.0 ? p->my_cost_resumed / p->my_cost : 0.0;
    double fex_res = p->my_examples ? (double)p->my_examples_resumed / p->my_examples : 0.0;
    double ex = fex * p->total_examples, tok = ftok * p->total_tokens;
    double ex_run = (fex - fex_res) * p->total_examples, tok_run = ex > 0 ? tok * ex_run / ex : 0.0;
    char sex[16], stok[16], sexs[16], stoks[16], seta[16], sres[48] = "";
    human(sex, sizeof sex, ex);
    human(stok, sizeof stok, tok);
    human(sexs, sizeof sexs, el > 0 ? ex_run / el : 0.0);
    human(stoks, sizeof stoks, el > 0 ? tok_run / el : 0.0);
    hms(seta, sizeof seta, fcost - fres > 0.0 ? el * (1.0 - fcost) / (fcost - fres) : -1.0);
    if (p->my_examples_resumed) {
        char r[16];
        human(r, sizeof r, fex_res * p->total_examples);
        snprintf(sres, sizeof sres, " (~%s resumed)", r);
    }
    fprintf(p->out, "%s%s: ~%s/%lld examples (%.0f%%)%s, ~%s tokens, %s ex/s, %s tok/s, ETA %s%s",
            p->tty ? "\r" : "", p->label, sex, (long long)p->total_examples, 100.0 * fcost, sres, stok,
            sexs, stoks, seta, p->tty ? "\033[K" : "\n");
    fflush(p->out);
    p->line_open = p->tty;
}

void bt_dist_progress_finish(bt_dist_progress *p, MPI_Comm comm) {
    int n_ranks;
    MPI_Comm_size(comm, &n_ranks);
    p->busy_s = now_s() - p->t0;
    double mx[2] = {p->busy_s, (double)bt_dist_peak_rss()}, mxr[2] = {0, 0}, sum = 0.0;
    MPI_Reduce(mx, mxr, 2, MPI_DOUBLE, MPI_MAX, 0, comm);
    MPI_Reduce(&p->busy_s, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, comm);
    int64_t mine[3] = {p->my_examples_done, p->my_examples_resumed, p->my_tokens_resumed}, all[3] = {0, 0, 0};
    MPI_Reduce(mine, all, 3, MPI_INT64_T, MPI_SUM, 0, comm);
    if (!p->out) return;
    if (p->stopped) {
        fprintf(p->out, "%s%s: stopped after %lld of %lld examples (%lld of them resumed)%s\n", p->line_open ? "\r" : "",
                p->label, (long long)all[0], (long long)p->total_examples, (long long)all[1], p->line_open ? "\033[K" : "");
        fflush(p->out);
        p->line_open = 0;
        return;
    }
    char sres[64] = "";
    if (all[1]) snprintf(sres, sizeof sres, " (%lld examples resumed from the checkpoint)", (long long)all[1]);
    double wall = mxr[0], mean = sum / n_ranks;
    char sex[16], stok[16], sexs[16], stoks[16], swall[24];
    human(sex, sizeof sex, (double)p->total_examples);
    human(stok, sizeof stok, (double)p->total_tokens);
    /* rates of what this run computed: resumed batches took no time */
    human(sexs, sizeof sexs, wall > 0 ? (double)(p->total_examples - all[1]) / wall : 0.0);
    human(stoks, sizeof stoks, wall > 0 ? (double)(p->total_tokens - all[2]) / wall : 0.0);
    if (wall < 60.0) snprintf(swall, sizeof swall, "%.2f s", wall);
    else hms(swall, sizeof swall, wall);
    fprintf(p->out,
            "%s%s: %s examples, %s tokens in %s: %s ex/s, %s tok/s; %d rank%s, busy max/mean %.2f, "
            "peak RSS max %.0f MiB%s%s\n",
            p->line_open ? "\r" : "", p->label, sex, stok, swall, sexs, stoks, n_ranks,
            n_ranks > 1 ? "s" : "", mean > 0 ? wall / mean : 1.0, mxr[1] / (1024.0 * 1024.0), sres,
            p->line_open ? "\033[K" : "");
    fflush(p->out);
    p->line_open = 0;
}
