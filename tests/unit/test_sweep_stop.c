/* The sweep driver's side of a stop and a resume (issue 20), with a checkpoint held in memory:
 * a stop request abandons the batch in flight (also the last one: the pass must not finish
 * without it), what was saved resumes to the bits of an uninterrupted pass, and n_resumed
 * counts the batches restored. */
#include <check.h>
#include <mpi.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/sweep.h"
#include "testutil.h"

static unsigned rng = 4242u;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) * (1.0 / 8388608.0)) - 1.0f;
}

enum { L = 2, D = 16, H = 4, F = 32, V = 40, C = 2, N_EX = 14 };
static bt_model model;
static bt_dataset data;
static int lens[N_EX], labels[N_EX], ids[N_EX * 9], types[N_EX * 9];
static int64_t offs[N_EX];

static void make_inputs(void) {
    bt_config *c = &model.cfg;
    memset(c, 0, sizeof *c);
    c->arch = BT_ARCH_BERT, c->n_layers = L, c->d_model = D, c->n_heads = H, c->d_head = D / H, c->d_ff = F;
    c->vocab_size = V, c->max_pos = 16, c->type_vocab = 2, c->n_labels = C, c->head = BT_HEAD_CLASSIFY;
    c->has_pooler = 1, c->act = BT_ACT_GELU, c->ln_eps = 1e-12f;
    bt_config_unpruned(c);
    model.n_params = bt_params_count(c);
    model.block = aligned_alloc(64, (model.n_params * sizeof(float) + 63) / 64 * 64);
    for (size_t i = 0; i < model.n_params; i++) model.block[i] = 0.4f * frand();
    bt_params_map(c, model.block, &model.params);
    int64_t n = 0;
    for (int i = 0; i < N_EX; i++) {
        lens[i] = 3 + (i * 5) % 7, labels[i] = i % C, offs[i] = n;
        for (int t = 0; t < lens[i]; t++, n++) ids[n] = (int)((frand() + 1.0f) * 0.5f * (V - 1)), types[n] = 0;
    }
    data = (bt_dataset){.n = N_EX, .len = lens, .off = offs, .n_tokens = n, .max_len = 9, .ids = ids,
                        .types = types, .labels = labels};
}

/* The checkpoint: saved states in memory; sync makes them durable; find gives the durable ones
 * and, asked for its stop_at-th batch, sets the stop flag (a signal arriving while that batch is
 * about to run: the engine sees it at its first layer). */
typedef struct {
    int batch[64];
    size_t n[64];
    unsigned char *state[64];
    int n_saved, n_durable, finds, stop_at, syncs;
    volatile sig_atomic_t stop;
} memory_ckpt;

static int mc_save(void *ctx, int pass, int batch, const void *state, size_t n, bt_error *err) {
    memory_ckpt *m = ctx;
    ck_assert_int_eq(pass, 0);
    ck_assert_int_lt(m->n_saved, 64);
    m->batch[m->n_saved] = batch, m->n[m->n_saved] = n;
    m->state[m->n_saved] = malloc(n);
    memcpy(m->state[m->n_saved++], state, n);
    (void)err;
    return BT_OK;
}

static const void *mc_find(void *ctx, int pass, int batch, size_t *n) {
    memory_ckpt *m = ctx;
    if (++m->finds == m->stop_at) m->stop = SIGTERM;
    for (int i = 0; i < m->n_durable && pass == 0; i++)
        if (m->batch[i] == batch) {
            *n = m->n[i];
            return m->state[i];
        }
    return NULL;
}

static int mc_sync(void *ctx, bt_error *err) {
    memory_ckpt *m = ctx;
    m->n_durable = m->n_saved;
    m->syncs++;
    (void)err;
    return BT_OK;
}

static void mc_free(memory_ckpt *m) {
    for (int i = 0; i < m->n_saved; i++) free(m->state[i]);
}

static int pass(memory_ckpt *m, bt_sweep_result *r, bt_error *err) {
    bt_sweep_options o = bt_sweep_options_default();
    o.plan.batch_tokens = 16; /* 6 batches */
    bt_sweep_checkpoint ck = {.save = mc_save, .find = mc_find, .sync = mc_sync, .ctx = m, .every_s = 1e9,
                              .stop = m ? &m->stop : NULL};
    o.checkpoint = m ? &ck : NULL;
    return bt_sweep_pass(MPI_COMM_WORLD, &model, &data, &o, NULL, NULL, r, err);
}

static void same_result(const bt_sweep_result *a, const bt_sweep_result *b) {
    ck_assert_mem_eq(a->importance_raw, b->importance_raw, sizeof(double) * L * H);
    ck_assert_mem_eq(a->entropy_raw, b->entropy_raw, sizeof(double) * L * H);
    ck_assert_mem_eq(a->importance, b->importance, sizeof(float) * L * H);
    ck_assert(a->loss_sum == b->loss_sum && a->n_tokens == b->n_tokens && a->n_examples == b->n_examples);
    ck_assert_mem_eq(&a->score, &b->score, sizeof a->score); /* NaN without metrics: the bits */
}

/* stop_at: the find call (1 = the first batch this rank runs) at which the stop arrives */
static void stop_then_resume(int stop_at) {
    bt_sweep_result ref, r;
    bt_error err = {0};
    ck_assert_int_eq(pass(NULL, &ref, &err), BT_OK);
    ck_assert_int_eq(ref.n_resumed, 0);
    const int nb = ref.n_batches;
    ck_assert_int_ge(nb, 4);
    if (stop_at > nb) stop_at = nb;
    memory_ckpt m = {.stop_at = stop_at};
    ck_assert_int_eq(pass(&m, &r, &err), BT_EINTERRUPTED);
    ck_assert_int_eq(m.n_saved, stop_at - 1); /* the abandoned batch is not saved */
    ck_assert_int_eq(m.n_durable, m.n_saved); /* and every batch done is durable */
    for (int i = 0; i < m.n_saved; i++)
        for (int j = 0; j < i; j++) ck_assert_int_ne(m.batch[i], m.batch[j]);
    m.stop = 0, m.stop_at = 0, m.finds = 0;
    ck_assert_int_eq(pass(&m, &r, &err), BT_OK);
    ck_assert_int_eq(r.n_batches, nb);
    ck_assert_int_eq(r.n_resumed, stop_at - 1);
    same_result(&ref, &r);
    bt_sweep_result_free(&r);
    /* everything durable now (the pass syncs at its end): a run that computes nothing */
    ck_assert_int_eq(m.n_durable, nb);
    ck_assert_int_eq(pass(&m, &r, &err), BT_OK);
    ck_assert_int_eq(r.n_resumed, nb);
    same_result(&ref, &r);
    bt_sweep_result_free(&r);
    bt_sweep_result_free(&ref);
    mc_free(&m);
}

START_TEST(stop_in_a_middle_batch_resumes_to_the_same_bits) { stop_then_resume(3); }
END_TEST

START_TEST(stop_in_the_last_batch_does_not_finish_without_it) { stop_then_resume(1000); }
END_TEST

START_TEST(stop_before_the_first_batch_saves_nothing) { stop_then_resume(1); }
END_TEST

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    make_inputs();
    Suite *s = suite_create("sweep_stop");
    TCase *tc = tcase_create("stop");
    tcase_add_test(tc, stop_in_a_middle_batch_resumes_to_the_same_bits);
    tcase_add_test(tc, stop_in_the_last_batch_does_not_finish_without_it);
    tcase_add_test(tc, stop_before_the_first_batch_saves_nothing);
    suite_add_tcase(s, tc);
    /* MPI is initialised once in this process: Check must not fork the tests away from it */
    const int rc = tu_run_suite_in_process(s);
    free(model.block);
    MPI_Finalize();
    return rc;
}
