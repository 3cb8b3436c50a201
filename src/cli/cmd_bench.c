/* bertology bench: engine speed against this machine's sgemm rate, measured in the same run.
 *
 * For forward alone and forward + backward to the gates, at T = 128 and at packed SST-2-like
 * lengths, it prints tokens/s, the useful GFLOP/s (the products the computation needs, counted
 * from the shapes) and their ratio to the sgemm GFLOP/s of a bert-base-shaped product. */
#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bertology/engine.h"
#include "bertology/model.h"
#include "commands.h"

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

/* Best-of-3 rate of C[M,N] = A[M,K] B[N,K]^T, the shape of a linear layer. */
static double sgemm_gflops(int M, int N, int K) {
    float *a = calloc((size_t)M * K, sizeof(float)), *b = calloc((size_t)N * K, sizeof(float)),
          *c = calloc((size_t)M * N, sizeof(float));
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)N * K; i++) b[i] = (float)(i % 5) * 0.1f;
    /* best of 8 after a warm-up call (thread pool, page faults, clock ramp): the ratio below is
     * only as good as this baseline on a noisy shared machine */
    double best = 1e30;
    for (int r = 0; r < 9; r++) {
        const double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
        const double t = now() - t0;
        if (r > 0 && t < best) best = t;
    }
    free(a), free(b), free(c);
    return 2.0 * M * N * K / best / 1e9;
}

/* Products the computation needs (multiply-adds x 2) for a batch, from the shapes alone. */
static double useful_flops(const bt_config *c, const int *lens, int B, int backward) {
    const double D = c->d_model, F = c->d_ff;
    double f = 0;
    for (int l = 0; l < c->n_layers; l++) {
        const double Dl = (double)c->layer_heads[l] * c->d_head;
        for (int b = 0; b < B; b++) {
            const double T = lens[b];
            const double dense = 2 * T * (3 * Dl * D + Dl * D + 2 * D * F);
            const double attn = 2 * 2 * T * T * Dl; /* Q K^T and P V */
            f += dense + attn;
            if (backward) {
                /* input gradients of o-proj and FFN always; of qkv and attention above layer 0 */
                f += 2 * T * (Dl * D + 2 * D * F);
                if (l > 0) f += 2 * T * 3 * Dl * D + 2 * attn;
            }
        }
    }
    return f;
}

static void random_bert_base(bt_model *m, int L) {
    memset(m, 0, sizeof *m);
    bt_config *c = &m->cfg;
    *c = (bt_config){.arch = BT_ARCH_BERT, .n_layers = L, .d_model = 768, .n_heads = 12, .d_head = 64,
                     .d_ff = 3072, .vocab_size = 30522, .max_pos = 512, .type_vocab = 2,
                     .n_labels = 2, .head = BT_HEAD_CLASSIFY, .has_pooler = 1, .act = BT_ACT_GELU,
                     .ln_eps = 1e-12f};
    bt_config_unpruned(c);
    m->n_params = bt_params_count(c);
    m->block = aligned_alloc(64, (m->n_params * sizeof(float) + 63) / 64 * 64);
    unsigned s = 1;
    for (size_t i = 0; i < m->n_params; i++) {
        s = s * 1664525u + 1013904223u;
        m->block[i] = ((s >> 9) * (1.0f / 8388608.0f) - 0.5f) * 0.08f;
    }
    bt_params_map(c, m->block, &m->params);
    for (int l = 0; l < L; l++)
        for (int i = 0; i < 768; i++) m->params.layer[l].ln1_g[i] = m->params.layer[l].ln2_g[i] = 1.0f;
    for (int i = 0; i < 768; i++) m->params.emb_ln_g[i] = 1.0f;
}

/* Lengths (with [CLS]/[SEP]) drawn to match SST-2 dev under bert-base-uncased: mean ~25, 4..66. */
static int sst2_like_length(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    const double u = ((*s >> 8) + 0.5) / 16777216.0;
    int T = 4 + (int)(-21.0 * log(1.0 - u * 0.95));
    return T > 66 ? 66 : T;
}

typedef struct {
    const char *name;
    int backward;
} mode;

static int run_case(const bt_model *m, const char *label, const int *lens, int B, int reps,
                    double sgemm, int threads) {
    int N = 0, maxT = 0;
    for (int b = 0; b < B; b++) N += lens[b], maxT = lens[b] > maxT ? lens[b] : maxT;
    int *ids = malloc(N * sizeof(int)), *labels = malloc(B * sizeof(int));
    for (int i = 0; i < N; i++) ids[i] = (i * 7919) % m->cfg.vocab_size;
    for (int b = 0; b < B; b++) labels[b] = b % 2;
    const bt_batch batch = {.n_seqs = B, .lens = lens, .ids = ids, .labels = labels};
    const mode modes[2] = {{"fwd", 0}, {"fwd+bwd", 1}};
    for (int k = 0; k < 2; k++) {
        bt_engine_limits lim = {.max_tokens = N, .max_seqs = B, .max_len = maxT, .backward = modes[k].backward};
        bt_engine *e = NULL;
        bt_error err;
        if (bt_engine_create(&m->cfg, &m->params, &lim, &e, &err)) {
            fprintf(stderr, "bertology bench: %s\n", err.msg);
            free(ids), free(labels);
            return 1;
        }
        const int flags = modes[k].backward ? BT_FWD_ENTROPY : 0;
        double best = 1e30;
        for (int r = 0; r < reps + 1; r++) {
            const double t0 = now();
            bt_engine_forward(e, &batch, NULL, flags, &err);
            if (modes[k].backward) bt_engine_backward(e, &err);
            const double t = now() - t0;
            if (r > 0 && t < best) best = t;
        }
        const double gf = useful_flops(&m->cfg, lens, B, modes[k].backward) / best / 1e9;
        printf("bench mode=%s T=%s tokens=%d seqs=%d threads=%d tok/s=%.0f s/example=%.4f "
               "useful_GFLOP/s=%.1f sgemm_GFLOP/s=%.1f ratio=%.2f activations_MB=%.0f\n",
               modes[k].name, label, N, B, threads, N / best, best / B, gf, sgemm, gf / sgemm,
               bt_engine_bytes(e) / 1e6);
        fflush(stdout);
        bt_engine_free(e);
    }
    free(ids), free(labels);
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "usage: bertology bench [--model DIR] [--layers L] [--batch-tokens N] [--reps R] [--threads N]\n"
               "  without --model: a random bert-base-sized model (12 x 768, 12 heads, 3072 FFN) in memory\n");
}

int bt_cmd_bench(int argc, char **argv) {
    const char *dir = NULL;
    int layers = 12, batch_tokens = 2048, reps = 3, threads = 0;
    static const struct option opts[] = {{"model", required_argument, 0, 'm'}, {"layers", required_argument, 0, 'l'},
                                         {"batch-tokens", required_argument, 0, 'b'}, {"reps", required_argument, 0, 'r'},
                                         {"threads", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'm': dir = optarg; break;
        case 'l': layers = atoi(optarg); break;
        case 'b': batch_tokens = atoi(optarg); break;
        case 'r': reps = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (layers < 1 || layers > BT_MAX_LAYERS || batch_tokens < 128 || reps < 1) {
        usage(stderr);
        return 2;
    }
    if (threads > 0) bt_engine_set_threads(threads);
    else bt_engine_set_threads(openblas_get_num_threads());
    threads = openblas_get_num_threads();
    const char *warn = bt_engine_blas_warning();
    if (warn) fprintf(stderr, "bertology bench: warning: %s\n", warn);
    printf("bench blas=%s core=%s\n", openblas_get_config(), openblas_get_corename());
    bt_model m;
    if (dir) {
        bt_error err;
        if (bt_model_load(dir, &m, &err)) {
            fprintf(stderr, "bertology bench: %s\n", err.msg);
            return err.code;
        }
    } else {
        random_bert_base(&m, layers);
    }
    const bt_config *c = &m.cfg;
    printf("bench model=%s L=%d D=%d H=%d F=%d params=%zu\n", dir ? dir : "random-bert-base", c->n_layers,
           c->d_model, c->n_heads, c->d_ff, m.n_params);
    const double sg = sgemm_gflops(batch_tokens, c->d_ff, c->d_model);
    printf("bench sgemm M=%d N=%d K=%d GFLOP/s=%.1f\n", batch_tokens, c->d_ff, c->d_model, sg);

    int B = batch_tokens / 128;
    int *lens = malloc(sizeof(int) * batch_tokens);
    for (int b = 0; b < B; b++) lens[b] = 128;
    int rc = run_case(&m, "128", lens, B, reps, sg, threads);
    unsigned s = 42;
    int N = 0;
    B = 0;
    for (;;) {
        const int T = sst2_like_length(&s);
        if (N + T > batch_tokens) break;
        lens[B++] = T;
        N += T;
    }
    if (!rc) rc = run_case(&m, "sst2", lens, B, reps, sg, threads);
    printf("bench peak_rss_MB=%.0f\n", peak_rss_mb());
    free(lens);
    if (dir) bt_model_free(&m);
    else free(m.block);
    return rc;
}
