/* Load-balance measurement for docs/distribution.md (no MPI: the assignment is a pure function).
 *
 *   dist_balance TSV [COLUMN]   lengths = words of COLUMN (default 0) + 2 ([CLS], [SEP])
 *
 * For several batch_tokens and rank counts prints the imbalance max/mean of estimated cost:
 *   lpt     the static LPT assignment bertology uses
 *   bound   max(mean, largest batch) / mean: no assignment of this plan can do better
 *   rr      round robin (batch b -> rank b mod np), for comparison
 *   lpt~    LPT on the model, timed with "actual" costs = model * U(0.8, 1.2) (seeded)
 *   dyn~    dynamic hand-out (next batch to the first idle rank) with the same actual costs */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/plan.h"

static int *read_lengths(const char *path, int col, int *n) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    int cap = 1 << 12, k = 0, *len = malloc(cap * sizeof *len);
    char line[1 << 16];
    if (!fgets(line, sizeof line, f)) *line = 0; /* header */
    while (fgets(line, sizeof line, f)) {
        char *field = line;
        for (int c = 0; c < col && field; c++) field = (field = strchr(field, '\t')) ? field + 1 : NULL;
        if (!field) continue;
        field[strcspn(field, "\t\r\n")] = '\0';
        int words = 0;
        for (char *t = strtok(field, " "); t; t = strtok(NULL, " ")) words++;
        if (k == cap) len = realloc(len, (cap *= 2) * sizeof *len);
        len[k++] = words + 2;
    }
    fclose(f);
    *n = k;
    return len;
}

static double max_over_mean(const double *load, int m) {
    double mx = 0, sum = 0;
    for (int r = 0; r < m; r++) {
        sum += load[r];
        if (load[r] > mx) mx = load[r];
    }
    return sum > 0 ? mx / (sum / m) : 0;
}

/* Dynamic hand-out: batches in plan order, each to the rank that becomes idle first. */
static double dynamic(const double *actual, int nb, int m, double *load) {
    for (int r = 0; r < m; r++) load[r] = 0;
    for (int b = 0; b < nb; b++) {
        int best = 0;
        for (int r = 1; r < m; r++)
            if (load[r] < load[best]) best = r;
        load[best] += actual[b];
    }
    return max_over_mean(load, m);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: dist_balance TSV [COLUMN]\n");
        return 2;
    }
    int n, *len = read_lengths(argv[1], argc > 2 ? atoi(argv[2]) : 0, &n);
    if (!len) {
        perror(argv[1]);
        return 2;
    }
    int64_t tok = 0;
    int mx = 0;
    for (int i = 0; i < n; i++) tok += len[i], mx = len[i] > mx ? len[i] : mx;
    printf("%s: %d examples, %lld tokens, longest %d; cost model BERT-base\n\n", argv[1], n, (long long)tok, mx);
    printf("| batch_tokens | batches | np | lpt | bound | rr | lpt~ | dyn~ |\n|---|---|---|---|---|---|---|---|\n");

    int64_t limits[] = {64, 256, 1024, 2048};
    int nps[] = {2, 3, 4, 16, 64, 256};
    for (int a = 0; a < 4; a++) {
        bt_plan_options o = bt_plan_options_default();
        o.batch_tokens = limits[a] < mx ? mx : limits[a];
        bt_plan p;
        bt_error e;
        if (bt_plan_build(&p, len, n, &o, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        double *actual = malloc(p.n_batches * sizeof *actual), pmax = 0;
        uint32_t s = 99;
        for (int b = 0; b < p.n_batches; b++) {
            s = s * 1664525u + 1013904223u;
            actual[b] = p.batches[b].cost * (0.8 + 0.4 * (s >> 8) / 16777216.0);
            if (p.batches[b].cost > pmax) pmax = p.batches[b].cost;
        }
        for (int t = 0; t < 6; t++) {
            int m = nps[t];
            bt_plan_assignment asg;
            if (bt_plan_assign(&asg, &p, m, &e)) return 1;
            double *load = calloc(m, sizeof *load), mean = p.cost / m;
            for (int b = 0; b < p.n_batches; b++) load[b % m] += p.batches[b].cost;
            double rr = max_over_mean(load, m);
            for (int r = 0; r < m; r++) load[r] = 0;
            for (int b = 0; b < p.n_batches; b++) load[asg.owner[b]] += actual[b];
            double lpt_noisy = max_over_mean(load, m);
            double dyn = dynamic(actual, p.n_batches, m, load);
            printf("| %lld | %d | %d | %.3f | %.3f | %.3f | %.3f | %.3f |\n", (long long)o.batch_tokens,
                   p.n_batches, m, bt_plan_imbalance(&asg), (pmax > mean ? pmax : mean) / mean, rr,
                   lpt_noisy, dyn);
            free(load);
            bt_plan_assignment_free(&asg);
        }
        free(actual);
        bt_plan_free(&p);
    }
    free(len);
    return 0;
}
