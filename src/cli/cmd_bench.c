/* bertology bench: engine speed against this machine's GEMM rate, measured in the same run.
 *
 * First the rate of a bert-base-shaped product (2048 x 3072 x 768, the FFN's) with every GEMM
 * backend of the build, interleaved and repeated: the median of each; the fastest backend is the
 * baseline. Then, for forward alone and forward + backward to the gates, at T = 128 and at the
 * lengths of the SST-2 dev set, tokens/s and the FLOP rate of every product the engine runs
 * (counted from the shapes). Each engine run follows the best of three baseline products and
 * their ratio is taken per run, so that load changes between runs cancel; times and ratios are
 * medians of --reps runs after a warm-up, printed with their spread, the ratio of the best engine
 * run to the best product (what an idle machine would show) and the load average (the machine may
 * be shared: only ratios within one run mean anything). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bertology/attribution.h"
#include "bertology/common.h"
#include "bench_sst2.h"
#include "bertology/engine.h"
#include "bertology/model.h"
#include "bertology/plan.h"
#include "cli_msg.h"
#include "commands.h"
#include "run_opts.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

/* The 1-minute load average: other processes on the cores show up in every time. */
static double load1(void) {
    double l = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1.0;
        fclose(f);
    }
    return l;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double median, min, max;
} stats;

static stats stats_of(double *t, int n) {
    qsort(t, n, sizeof *t, cmp_double);
    return (stats){.median = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]), .min = t[0], .max = t[n - 1]};
}

/* The baseline product C[M,N] = A[M,K] B[N,K]^T: a linear layer's, at bert-base's FFN shape. */
typedef struct {
    int M, N, K, kind; /* kind: the backend it runs on */
    float *a, *b, *c;
} gemm_probe;

static int probe_new(int M, int N, int K, gemm_probe *g, bt_error *err) {
    *g = (gemm_probe){.M = M, .N = N, .K = K, .kind = BT_GEMM_BLAS};
    if (!(g->a = bt_malloc((size_t)M * K, sizeof(float), "the GEMM probe", err)) ||
        !(g->b = bt_malloc((size_t)N * K, sizeof(float), "the GEMM probe", err)) ||
        !(g->c = bt_malloc((size_t)M * N, sizeof(float), "the GEMM probe", err)))
        return BT_EINTERNAL;
    for (size_t i = 0; i < (size_t)M * K; i++) g->a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)N * K; i++) g->b[i] = (float)(i % 5) * 0.1f;
    return BT_OK;
}

/* Seconds of one product on backend kind (the engine's backend is restored after). */
static double probe_time(const gemm_probe *g, int kind) {
    const int active = bt_engine_gemm();
    bt_error err;
    bt_engine_set_gemm(kind, &err);
    const double t0 = now();
    bt_engine_sgemm('N', 'T', g->M, g->N, g->K, 1.0f, g->a, g->K, g->b, g->K, 0.0f, g->c, g->N);
    const double t = now() - t0;
    bt_engine_set_gemm(active, &err);
    return t;
}

/* Every built backend, interleaved so that a change of load hits all alike. Returns the fastest
 * median rate and sets g->kind to its backend. */
static double gemm_baseline(gemm_probe *g, int reps, bt_error *err) {
    const int M = g->M, N = g->N, K = g->K;
    double *t[4] = {0};
    for (int k = BT_GEMM_BLAS; k <= BT_GEMM_ONEDNN_BF16; k++)
        if (bt_gemm_available(k) && !(t[k] = bt_malloc((size_t)reps, sizeof(double), "the GEMM times", err))) {
            for (int j = 0; j < k; j++) free(t[j]);
            return -1.0;
        }
    for (int r = 0; r <= reps; r++) {
        for (int k = BT_GEMM_BLAS; k <= BT_GEMM_ONEDNN_BF16; k++) {
            if (!bt_gemm_available(k)) continue;
            const double dt = probe_time(g, k);
            if (r > 0) t[k][r - 1] = dt; /* r = 0 warms up threads, pages and clocks */
        }
    }
    double best = 0.0;
    const double flop = 2.0 * M * N * K;
    for (int k = BT_GEMM_BLAS; k <= BT_GEMM_ONEDNN_BF16; k++) {
        if (!t[k]) continue;
        const stats s = stats_of(t[k], reps);
        const double gf = flop / s.median / 1e9;
        printf("bench gemm=%s M=%d N=%d K=%d GFLOP/s=%.1f (median of %d; %.1f..%.1f) load=%.2f isa=%s kernel=%s\n",
               bt_gemm_name(k), M, N, K, gf, reps, flop / s.max / 1e9, flop / s.min / 1e9, load1(), bt_gemm_isa(k),
               bt_gemm_info(k));
        /* the baseline is the fastest float32 product: bf16 is reduced precision, shown apart */
        if (gf > best && k != BT_GEMM_ONEDNN_BF16) best = gf, g->kind = k;
        free(t[k]);
    }
    return best;
}

/* FLOPs (multiply-adds x 2) of every product the engine runs for a batch, from the shapes alone:
 * the layers, attention at full T x T (a causal model masks after the product), the pooler and
 * classifier or the tied LM head (T_b - 1 rows of V logits, and with backward their gradient). */
static double engine_flops(const bt_config *c, const int *lens, int B, int backward) {
    const double D = c->d_model, F = c->d_ff, V = c->vocab_size;
    double f = 0;
    for (int b = 0; b < B; b++) {
        const double T = lens[b];
        for (int l = 0; l < c->n_layers; l++) {
            const double Dl = (double)c->layer_heads[l] * c->d_head;
            const double dense = 2 * T * (3 * Dl * D + Dl * D + 2 * D * F);
            const double attn = 2 * 2 * T * T * Dl; /* Q K^T and P V */
            f += dense + attn;
            if (backward) {
                /* input gradients of o-proj and FFN always; of qkv and attention above layer 0 */
                f += 2 * T * (Dl * D + 2 * D * F);
                if (l > 0) f += 2 * T * 3 * Dl * D + 2 * attn;
            }
        }
        if (c->head == BT_HEAD_LM) {
            f += 2 * (T - 1) * V * D * (backward ? 2 : 1);
        } else if (c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS) {
            const double head = 2 * D * (c->has_pooler ? D : 0) + 2 * D * c->n_labels;
            f += head * (backward ? 2 : 1);
        }
    }
    return f;
}

static int random_bert_base(bt_model *m, int L, bt_error *err) {
    memset(m, 0, sizeof *m);
    bt_config c = {.arch = BT_ARCH_BERT, .n_layers = L, .d_model = 768, .n_heads = 12, .d_head = 64,
                   .d_ff = 3072, .vocab_size = 30522, .max_pos = 512, .type_vocab = 2,
                   .n_labels = 2, .head = BT_HEAD_CLASSIFY, .has_pooler = 1, .act = BT_ACT_GELU,
                   .ln_eps = 1e-12f};
    bt_config_unpruned(&c);
    if (bt_model_alloc(m, &c, err)) return BT_EINTERNAL; /* the block, its views mapped */
    unsigned s = 1;
    for (size_t i = 0; i < m->n_params; i++) {
        s = s * 1664525u + 1013904223u;
        m->block[i] = ((s >> 9) * (1.0f / 8388608.0f) - 0.5f) * 0.08f;
    }
    for (int l = 0; l < L; l++)
        for (int i = 0; i < 768; i++) m->params.layer[l].ln1_g[i] = m->params.layer[l].ln2_g[i] = 1.0f;
    for (int i = 0; i < 768; i++) m->params.emb_ln_g[i] = 1.0f;
    return BT_OK;
}

typedef struct {
    const char *name;
    int backward;
} mode;

/* Times forward (and backward) of one batch; 0, or the engine's error code after printing it. */
/* Times forward (and backward) of one batch, each run right after one baseline product on the
 * fastest backend: the ratio of the two rates is taken per run, so that load changes between
 * runs cancel. 0, or the engine's error code after printing it. */
static int run_case(const bt_model *m, const char *label, const int *lens, int B, int reps, const gemm_probe *g,
                    int threads) {
    const bt_config *c = &m->cfg;
    int N = 0, maxT = 0;
    for (int b = 0; b < B; b++) N += lens[b], maxT = lens[b] > maxT ? lens[b] : maxT;
    bt_error err = {0};
    int *ids = bt_malloc((size_t)N, sizeof(int), "a batch", &err), *labels = bt_malloc((size_t)B, sizeof(int), "a batch", &err);
    float *targets = bt_malloc((size_t)B, sizeof(float), "a batch", &err);
    double *t = bt_malloc((size_t)reps + 1, sizeof(double), "the times", &err);
    double *ratio = bt_malloc((size_t)reps + 1, sizeof(double), "the times", &err);
    if (!ids || !labels || !targets || !t || !ratio) {
        fprintf(stderr, "bertology bench: %s\n", err.msg);
        free(ids), free(labels), free(targets), free(t), free(ratio);
        return BT_EINTERNAL;
    }
    for (int i = 0; i < N; i++) ids[i] = (i * 7919) % c->vocab_size;
    for (int b = 0; b < B; b++) labels[b] = c->n_labels > 1 ? b % c->n_labels : 0, targets[b] = 0.5f * (b % 3);
    const bt_batch batch = {.n_seqs = B, .lens = lens, .ids = ids, .labels = labels, .targets = targets};
    const mode modes[2] = {{"fwd", 0}, {"fwd+bwd", 1}};
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        bt_engine_limits lim = {.max_tokens = N, .max_seqs = B, .max_len = maxT, .backward = modes[k].backward};
        bt_engine *e = NULL;
        rc = bt_engine_create(c, &m->params, &lim, &e, &err);
        const int flags = modes[k].backward ? BT_FWD_ENTROPY : 0;
        const double flop = engine_flops(c, lens, B, modes[k].backward), gflop = 2.0 * g->M * g->N * g->K;
        double gsum = 0.0;
        double tg_best = 1e30;
        for (int r = 0; r <= reps && !rc; r++) {
            /* the best of three products: the GEMM rate the machine gives at this moment */
            double tg = 1e30;
            for (int i = 0; i < 3; i++) {
                const double x = probe_time(g, g->kind);
                tg = x < tg ? x : tg;
            }
            if (r > 0 && tg < tg_best) tg_best = tg;
            const double t0 = now();
            rc = bt_engine_forward(e, &batch, NULL, flags, &err);
            if (!rc && modes[k].backward) rc = bt_engine_backward(e, &err);
            t[r] = now() - t0;
            ratio[r] = (flop / t[r]) / (gflop / tg);
            if (r > 0) gsum += gflop / tg / 1e9;
        }
        if (!rc) {
            /* index 0: the warm-up */
            const stats s = stats_of(t + 1, reps), q = stats_of(ratio + 1, reps);
            printf("bench mode=%s T=%s tokens=%d seqs=%d threads=%d tok/s=%.0f (median of %d; %.0f..%.0f) "
                   "s/example=%.4f flop=%.6e GFLOP/s=%.1f gemm_GFLOP/s=%.1f ratio=%.2f (%.2f..%.2f) "
                   "best_ratio=%.2f activations_MB=%.0f load=%.2f\n", modes[k].name, label, N, B, threads,
                   N / s.median, reps, N / s.max, N / s.min, s.median / B, flop, flop / s.median / 1e9, gsum / reps,
                   q.median, q.min, q.max, (flop / s.min) / (gflop / tg_best), bt_engine_bytes(e) / 1e6, load1());
            fflush(stdout);
        } else {
            fprintf(stderr, "bertology bench: %s (%s, T=%s)\n", err.msg, modes[k].name, label);
        }
        bt_engine_free(e);
    }
    free(ids), free(labels), free(targets), free(t), free(ratio);
    return rc;
}

/* The attribution (bertology/attribution.h) of n SST-2-length examples at m steps, each timed
 * right after the engine's plain forward+backward of the same m copies as one batch (the gate
 * method's work on that many tokens): the ratio of the two rates in layer passes x tokens is the
 * attribution's efficiency, load changes cancelling. Per example it runs m * sum_l (L - l)
 * layer passes (forward and backward) on T tokens; the baseline L layer passes on m * T. */
static int run_attr_case(const bt_model *m, const int *lens, int n, int steps, int reps) {
    const bt_config *c = &m->cfg;
    const int L = c->n_layers;
    int maxT = 0;
    for (int i = 0; i < n; i++) maxT = lens[i] > maxT ? lens[i] : maxT;
    bt_error err = {0};
    bt_engine *e = NULL;
    bt_attr a = {0};
    const bt_engine_limits own = {.max_tokens = maxT, .max_seqs = 1, .max_len = maxT, .backward = 1, .hidden = 1};
    const bt_engine_limits lim = bt_attr_limits(own, steps);
    int *ids = bt_malloc((size_t)steps * maxT, sizeof(int), "a batch", &err);
    int *cl = bt_malloc((size_t)steps, sizeof(int), "a batch", &err), *lab = bt_calloc((size_t)steps, sizeof(int), "a batch", &err);
    double *ratio = bt_malloc((size_t)reps * n, sizeof(double), "the ratios", &err), score[BT_MAX_LAYERS * BT_MAX_HEADS];
    int rc = ids && cl && lab && ratio ? BT_OK : BT_EINTERNAL;
    if (!rc) rc = bt_engine_create(c, &m->params, &lim, &e, &err);
    if (!rc) rc = bt_attr_alloc(&a, c, &own, steps, &err);
    for (int i = 0; !rc && i < steps * maxT; i++) ids[i] = (i * 7919) % c->vocab_size;
    double t_attr = 0, t_gate = 0, t_naive = 0, passes = 0;
    int k = 0;
    for (int r = 0; r <= reps && !rc; r++)
        for (int i = 0; i < n && !rc; i++) {
            const int T = lens[i];
            for (int j = 0; j < steps; j++) cl[j] = T;
            const bt_batch copies = {.n_seqs = steps, .lens = cl, .ids = ids, .labels = lab};
            const bt_batch one = {.n_seqs = 1, .lens = cl, .ids = ids, .labels = lab};
            double t0 = now();
            rc = bt_engine_forward(e, &copies, NULL, 0, &err);
            if (!rc) rc = bt_engine_backward(e, &err);
            const double tb = now() - t0;
            t0 = now();
            if (!rc) rc = bt_engine_forward(e, &one, NULL, 0, &err);
            if (!rc) rc = bt_attr_batch(&a, e, &one, NULL, lab, score, NULL, &err);
            const double ta = now() - t0;
            const double work_attr = (double)steps * L * (L + 1) / 2 * T, work_base = (double)L * steps * T;
            if (r == 0) continue; /* the warm-up */
            ratio[k++] = (work_attr / ta) / (work_base / tb);
            t_attr += ta, t_gate += tb / steps, passes += (double)steps * L * (L + 1) / 2;
            if (r > 1) continue;
            /* once per example: every copy from the embeddings, what sharing the lower layers saves */
            a.from_embeddings = 1;
            t0 = now();
            if (!rc) rc = bt_engine_forward(e, &one, NULL, 0, &err);
            if (!rc) rc = bt_attr_batch(&a, e, &one, NULL, lab, score, NULL, &err);
            t_naive += now() - t0;
            a.from_embeddings = 0;
        }
    if (!rc) {
        const stats q = stats_of(ratio, k);
        printf("bench mode=attattr steps=%d T=sst2 examples=%d s/example=%.3f gate_s/example=%.4f "
               "layer_passes/example=%.0f naive_layer_passes/example=%.0f naive_s/example=%.3f ratio=%.2f (%.2f..%.2f) "
               "load=%.2f\n", steps, n, t_attr / k, t_gate / k, passes / k, (double)steps * L * L, t_naive / n, q.median,
               q.min, q.max, load1());
    } else {
        fprintf(stderr, "bertology bench: %s (attattr)\n", err.msg);
    }
    bt_attr_free(&a);
    bt_engine_free(e);
    free(ids), free(cl), free(lab), free(ratio);
    return rc;
}

int bt_cmd_bench(int argc, char **argv) {
    bt_run_options o;
    int rc = run_opts_parse(&o, BT_CMD_BENCH, "bench", argc, argv, 0);
    if (rc) return rc < 0 ? 0 : rc;
    bt_error err;
    if (o.gemm && bt_engine_set_gemm(o.gemm, &err)) { /* built: checked as the flag was parsed */
        run_fail(0, "bench", &err);
        return err.code;
    }
    const char *dir = o.model;
    const int layers = o.bench_layers, reps = o.reps, threads = o.threads;
    const int batch_tokens = o.batch_tokens ? o.batch_tokens : BT_PLAN_DEFAULT_BATCH_TOKENS;
    if (threads > 0) bt_engine_set_threads(threads);
    const char *warn = bt_engine_blas_warning();
    if (warn) cli_print(stderr, "bertology bench: warning", warn);
    bt_model m;
    if (dir ? bt_model_load(dir, &m, &err) : random_bert_base(&m, layers, &err)) {
        run_fail(0, "bench", &err);
        return err.code;
    }
    const bt_config *c = &m.cfg;
    printf("bench model=%s L=%d D=%d H=%d F=%d V=%d params=%zu gemm=%s load=%.2f\n", dir ? dir : "random-bert-base",
           c->n_layers, c->d_model, c->n_heads, c->d_ff, c->vocab_size, m.n_params, bt_engine_gemm_info(), load1());
    gemm_probe g;
    int *lens = NULL;
    const double gf = probe_new(batch_tokens, c->d_ff, c->d_model, &g, &err) ? -1.0 : gemm_baseline(&g, reps < 9 ? 9 : reps, &err);
    if (gf < 0 || !(lens = bt_malloc(batch_tokens > 872 ? (size_t)batch_tokens : 872, sizeof(int), "the lengths", &err))) {
        run_fail(0, "bench", &err);
        free(g.a), free(g.b), free(g.c);
        bt_model_free(&m);
        return BT_EINTERNAL;
    }
    printf("bench gemm_fastest=%s GFLOP/s=%.1f engine_gemm=%s\n", bt_gemm_name(g.kind), gf,
           bt_gemm_name(bt_engine_gemm()));
    const int max_len = c->max_pos - c->pos_offset;
    int T = 128 < max_len ? 128 : max_len;
    int B = batch_tokens / T;
    for (int b = 0; b < B; b++) lens[b] = T;
    rc = run_case(&m, "128", lens, B, reps, &g, bt_engine_threads());
    /* SST-2 dev sentences in file order, as many as fit */
    int N = 0;
    B = 0;
    for (int i = 0; i < 872 && N + SST2_DEV_LENGTHS[i] <= batch_tokens; i++) {
        lens[B] = SST2_DEV_LENGTHS[i] < max_len ? SST2_DEV_LENGTHS[i] : max_len;
        N += lens[B++];
    }
    if (!rc) rc = run_case(&m, "sst2", lens, B, reps, &g, bt_engine_threads());
    /* the attribution of the first SST-2 sentences (a model with a sequence head), fewer runs: each
     * costs m*L(L+1)/2 layer passes */
    if (!rc && o.steps > 0 && (c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS)) {
        for (int i = 0; i < 4; i++) lens[i] = SST2_DEV_LENGTHS[i] < max_len ? SST2_DEV_LENGTHS[i] : max_len;
        rc = run_attr_case(&m, lens, 4, o.steps, reps < 3 ? reps : 3);
    }
    printf("bench peak_rss_MB=%.0f\n", peak_rss_mb());
    free(lens), free(g.a), free(g.b), free(g.c);
    bt_model_free(&m);
    return rc;
}
