/* Writes a run.h5 with synthetic deterministic data through the store API, under any number of
 * MPI ranks. tests/store/check_run_h5.py recomputes every value independently.
 *
 *   store_demo --out FILE [--n N] [--dtype f16|f32] [--regression] [--no-tensors]
 *              [--collective] [--kill-after K | --abort-after K] [--config-bytes N]
 *              [--attr]   (also /examples/attr_max, /attribution and /rollout: seeds 3 and 4)
 *              [--bad-row-on-rank R]   (rank R passes a row out of range in its first call:
 *                                       it must get an error, the others must not hang)
 *   store_demo --bench --out FILE --mb MB [--dtype f16|f32] [--collective]
 *
 * Examples: length T_i = 1 + (7 i + 3) mod 13, batches of up to 4 rows taken in order of
 * decreasing length (as the batch plan does), batch k computed by rank k mod n_ranks. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bertology/store.h"
#include "bertology/version.h"

enum { L = 3, H = 4, C = 3, D = 8, BATCH = 4 };
static const int ATTN_LAYERS[] = {0, 2};
static const int HIDDEN_LAYERS[] = {0, 3};

static uint32_t mix(uint32_t i, uint32_t j, uint32_t seed) {
    uint32_t u = i * 2654435761u + j * 2246822519u + seed * 374761393u;
    u ^= u >> 15;
    u *= 2246822519u;
    u ^= u >> 13;
    return u;
}

/* A float32 exactly m * 2^-k with m < 2^24: normals, f16 subnormals, f16 overflow; every 16th
 * value is an exact tie for f16 rounding (13 dropped bits = 0x1000). */
static float synth(uint32_t i, uint32_t j, uint32_t seed) {
    uint32_t u = mix(i, j, seed);
    uint32_t m = u & 0xffffffu;
    if (j % 16 == 0) m = (m & ~0x1fffu) | 0x1000u;
    int k = 4 + (int)((u >> 24) % 36);
    float x = (float)m;
    for (int e = 0; e < k; e++) x *= 0.5f;
    return (u >> 31) ? -x : x;
}

static int length_of(int64_t i) { return 1 + (int)((7 * i + 3) % 13); }

static int fail(const char *what, const bt_error *e) {
    fprintf(stderr, "store_demo: %s: %s\n", what, e->msg);
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
}

static int bench(const char *out, double mb, int f16, int collective) {
    int rank, n_ranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);
    /* a bert-base sized dump: 12 layers x 12 heads x 128 x 128 per example */
    enum { BL = 12, BH = 12, BT = 128 };
    int64_t per_ex = (int64_t)BL * BH * BT * BT;
    int64_t n = (int64_t)(mb * 1e6 / (per_ex * (f16 ? 2 : 4))) + 1;
    int *lens = malloc(sizeof(int) * n);
    int layers[BL];
    for (int l = 0; l < BL; l++) layers[l] = l;
    for (int64_t i = 0; i < n; i++) lens[i] = BT;
    bt_store_layout lay = {.n_layers = BL, .n_heads = BH, .n_labels = 2, .has_loss = 1,
                           .n_examples = n, .lengths = lens, .n_attn_layers = BL,
                           .attn_layers = layers, .tensor_dtype = f16, .d_model = 768,
                           .io_mode = collective};
    bt_store *s;
    bt_error err;
    double t0 = MPI_Wtime();
    if (bt_store_open(out, MPI_COMM_WORLD, &lay, NULL, &s, &err)) return fail("open", &err);
    double t1 = MPI_Wtime();
    /* batches of 4 examples dealt round-robin, like a batch plan */
    int64_t n_batches = (n + BATCH - 1) / BATCH, calls = (n_batches + n_ranks - 1) / n_ranks;
    float *attn = malloc(sizeof(float) * per_ex * BATCH);
    for (int64_t j = 0; j < per_ex * BATCH; j++) attn[j] = (float)(j % 1000) * 1e-3f;
    int64_t rows[BATCH], idx[BATCH];
    int ids[BATCH * BT] = {0};
    for (int64_t c = 0; c < calls; c++) {
        int64_t b = c * n_ranks + rank;
        bt_store_rows r = {0};
        if (b < n_batches) {
            r.n = (int)(n - b * BATCH < BATCH ? n - b * BATCH : BATCH);
            for (int k = 0; k < r.n; k++) rows[k] = idx[k] = b * BATCH + k;
            r.rows = rows;
            r.index = idx;
            r.token_ids = ids;
            r.attentions = attn;
        }
        if (bt_store_write_examples(s, &r, &err)) return fail("write", &err);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double t2 = MPI_Wtime();
    if (bt_store_commit(s, &err)) return fail("commit", &err);
    double t3 = MPI_Wtime();
    if (rank == 0) {
        double bytes = (double)n * per_ex * (f16 ? 2 : 4);
        printf("bench ranks=%d dtype=%s io=%s examples=%lld attention_MB=%.1f open_s=%.3f "
               "write_s=%.3f commit_s=%.3f write_MBps=%.0f total_MBps=%.0f\n",
               n_ranks, f16 ? "f16" : "f32", collective ? "collective" : "independent",
               (long long)n, bytes / 1e6, t1 - t0, t2 - t1, t3 - t2, bytes / 1e6 / (t2 - t1),
               bytes / 1e6 / (t3 - t0));
    }
    free(attn);
    free(lens);
    return 0;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    const char *out = NULL;
    int64_t n = 37;
    int f16 = 1, regression = 0, tensors = 1, collective = 0, kill_after = -1,
        abort_after = -1, do_bench = 0, bad_rank = -1, attr = 0;
    double mb = 200;
    long config_bytes = 0; /* pad the model config to test large attributes */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--out")) out = v, i++;
        else if (!strcmp(a, "--n")) n = atoll(v), i++;
        else if (!strcmp(a, "--dtype")) f16 = !strcmp(v, "f16"), i++;
        else if (!strcmp(a, "--mb")) mb = atof(v), i++;
        else if (!strcmp(a, "--kill-after")) kill_after = atoi(v), i++;
        else if (!strcmp(a, "--abort-after")) abort_after = atoi(v), i++;
        else if (!strcmp(a, "--config-bytes")) config_bytes = atol(v), i++;
        else if (!strcmp(a, "--bad-row-on-rank")) bad_rank = atoi(v), i++;
        else if (!strcmp(a, "--regression")) regression = 1;
        else if (!strcmp(a, "--no-tensors")) tensors = 0;
        else if (!strcmp(a, "--attr")) attr = 1;
        else if (!strcmp(a, "--collective")) collective = 1;
        else if (!strcmp(a, "--bench")) do_bench = 1;
        else {
            fprintf(stderr, "store_demo: unknown argument %s\n", a);
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
    }
    if (!out) {
        fprintf(stderr, "store_demo: --out FILE is required\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    if (do_bench) {
        int rc = bench(out, mb, f16, collective);
        MPI_Finalize();
        return rc;
    }
    int rank, n_ranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);

    int *lens = malloc(sizeof(int) * (n ? n : 1));
    int64_t total_tokens = 0;
    for (int64_t i = 0; i < n; i++) total_tokens += lens[i] = length_of(i);
    bt_store_layout lay = {
        .n_layers = L, .n_heads = H, .n_labels = regression ? 1 : C, .regression = regression,
        .has_loss = 1, .has_entropy = 1, .d_model = D, .n_examples = n, .lengths = lens,
        .n_attn_layers = tensors ? 2 : 0, .attn_layers = ATTN_LAYERS,
        .n_hidden_layers = tensors ? 2 : 0, .hidden_layers = HIDDEN_LAYERS,
        .has_attr_max = attr, .save_attributions = attr, .save_rollout = attr,
        .tensor_dtype = f16 ? BT_STORE_F16 : BT_STORE_F32, .io_mode = collective};
    /* {"num_hidden_layers": 3, ..., "note": "café", "pad": "xxx..."} */
    const char *cfg0 = "{\"num_hidden_layers\": 3, \"num_attention_heads\": 4, "
                       "\"hidden_size\": 8, \"note\": \"caf\xc3\xa9\", \"pad\": \"";
    char *cfg = malloc(strlen(cfg0) + config_bytes + 3);
    strcpy(cfg, cfg0);
    memset(cfg + strlen(cfg0), 'x', config_bytes);
    strcpy(cfg + strlen(cfg0) + config_bytes, "\"}");
    bt_store_meta meta = {
        .task = regression ? "sts-b" : "sst-2", .split = "dev", .model_dir = "/models/demo",
        .model_config_json = cfg,
        .options_json = "{\"granularity\": \"example\", \"dtype\": \"f16\"}",
        .command_line = "store_demo (synthetic data)", .program_version = BT_VERSION,
        .openblas_version = "OpenBLAS (not linked by the demo)"};

    /* the plan: rows by decreasing length (ties by row), cut into batches */
    int64_t *plan = malloc(sizeof(int64_t) * (n ? n : 1));
    for (int64_t i = 0; i < n; i++) plan[i] = i;
    for (int64_t i = 1; i < n; i++)
        for (int64_t j = i; j > 0 && lens[plan[j]] > lens[plan[j - 1]]; j--) {
            int64_t t = plan[j];
            plan[j] = plan[j - 1];
            plan[j - 1] = t;
        }

    bt_store *s;
    bt_error err;
    if (bt_store_open(out, MPI_COMM_WORLD, &lay, &meta, &s, &err)) return fail("open", &err);
    if (rank == 0) printf("tmp %s\nestimate %llu\n", bt_store_tmp_path(s),
                          (unsigned long long)bt_store_estimate_bytes(&lay, &meta));
    fflush(stdout);

    int64_t n_batches = (n + BATCH - 1) / BATCH, calls = (n_batches + n_ranks - 1) / n_ranks;
    int64_t rows[BATCH], index[BATCH];
    int labels[BATCH], *ids = malloc(sizeof(int) * BATCH * 13);
    float targets[BATCH], logits[BATCH * C];
    double loss[BATCH], grad[BATCH * L * H], ent[BATCH * L * H];
    float *attn = malloc(sizeof(float) * BATCH * 2 * H * 13 * 13);
    float *hid = malloc(sizeof(float) * BATCH * 2 * 13 * D);
    double amax[BATCH * L * H];
    float *attrib = malloc(sizeof(float) * BATCH * L * H * 13 * 13), *roll = malloc(sizeof(float) * BATCH * 13);
    for (int64_t c = 0; c < calls; c++) {
        if (c == kill_after && rank == n_ranks - 1) raise(SIGKILL); /* a crash mid-run */
        if (c == abort_after) { /* a clean failure: every rank gives up together */
            bt_store_abort(s);
            if (rank == 0) printf("aborted\n");
            MPI_Finalize();
            return 3;
        }
        int64_t b = c * n_ranks + rank;
        bt_store_rows r = {0};
        if (b < n_batches) {
            int nb = (int)(n - b * BATCH < BATCH ? n - b * BATCH : BATCH);
            int64_t nt = 0, na = 0, nh = 0, nm = 0, nr = 0;
            for (int k = 0; k < nb; k++) {
                int64_t i = plan[b * BATCH + k];
                int T = lens[i];
                rows[k] = i;
                index[k] = 1000 + i;
                labels[k] = (int)(i % C);
                targets[k] = 0.25f * (float)i;
                for (int cc = 0; cc < (regression ? 1 : C); cc++)
                    logits[k * (regression ? 1 : C) + cc] = (float)(i * 3 + cc) * 0.125f;
                loss[k] = 1.0 / (double)(i + 1);
                for (int l = 0; l < L; l++)
                    for (int h = 0; h < H; h++) {
                        grad[(k * L + l) * H + h] =
                            ((double)(i - 2 * l) + h * 0.5) / (double)(1 + l + h);
                        ent[(k * L + l) * H + h] = (double)(i + 1) * 0.5 + l * 0.25 + h;
                        amax[(k * L + l) * H + h] = (double)(i + 1) * 0.125 - l + h * 0.0625;
                    }
                for (int t = 0; t < T; t++) ids[nt++] = (int)((i * 31 + t * 7) % 30522);
                for (int j = 0; j < 2 * H * T * T; j++) attn[na++] = synth((uint32_t)i, j, 1);
                for (int j = 0; j < 2 * T * D; j++) hid[nh++] = synth((uint32_t)i, j, 2);
                for (int j = 0; j < L * H * T * T; j++) attrib[nm++] = synth((uint32_t)i, j, 3);
                for (int j = 0; j < T; j++) roll[nr++] = synth((uint32_t)i, j, 4);
            }
            r = (bt_store_rows){.n = nb, .rows = rows, .index = index, .token_ids = ids,
                                .labels = labels, .targets = targets, .logits = logits,
                                .loss = loss, .gate_grad = grad, .entropy = ent,
                                .attentions = attn, .hidden = hid, .attr_max = attr ? amax : NULL,
                                .attributions = attr ? attrib : NULL, .rollout = attr ? roll : NULL};
        }
        if (c == 0 && rank == bad_rank && r.n) rows[r.n - 1] = n + 5;
        int rc = bt_store_write_examples(s, &r, &err), any = rc;
        if (bad_rank >= 0) { /* the agreement step a real caller makes (bt_dist_agree) */
            MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
            if (rc) fprintf(stderr, "store_demo: rank %d: %s\n", rank, err.msg);
            if (any) {
                bt_store_abort(s);
                MPI_Finalize();
                return 4;
            }
        }
        if (rc) return fail("write", &err);
    }

    double imp_raw[L * H], ent_raw[L * H];
    float imp_norm[L * H], ent_norm[L * H];
    int ranks[L * H];
    for (int k = 0; k < L * H; k++) {
        imp_raw[k] = k + 0.5;
        imp_norm[k] = (float)k / (float)(L * H - 1);
        ranks[k] = L * H - 1 - k;
        ent_raw[k] = 2.0 * k + 0.25;
        ent_norm[k] = (float)(ent_raw[k] / (double)total_tokens);
    }
    const char *mnames[] = {"acc", "mcc"};
    double mvals[] = {0.75, -0.125};
    bt_store_summary sum = {imp_raw, imp_norm, ranks, ent_raw, ent_norm, total_tokens, n,
                            2, mnames, mvals};
    if (rank != 0) memset(&sum, 0, sizeof sum); /* only rank 0's values count */
    if (bt_store_write_summary(s, &sum, &err)) return fail("summary", &err);
    float mask[L * H];
    for (int k = 0; k < L * H; k++) mask[k] = k % 5 == 1 ? 0.0f : 1.0f;
    int64_t mshape[2] = {L, H};
    if (bt_store_write_array(s, "/masking/head_mask", BT_NPY_F32, 2, mshape, mask, &err))
        return fail("extra array", &err);
    if (bt_store_commit(s, &err)) return fail("commit", &err);
    free(attn);
    free(hid);
    free(attrib);
    free(roll);
    free(ids);
    free(plan);
    free(lens);
    free(cfg);
    MPI_Finalize();
    return 0;
}
