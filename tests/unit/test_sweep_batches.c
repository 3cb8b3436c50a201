/* The sweep's batch share: a plan whose largest batch holds more tokens than an int counts
 * (sweep_share_limits hands the engine an int) is refused with a message, on every rank alike
 * (the plan is built identically everywhere, so the check needs no communication). */
#include <check.h>
#include <limits.h>
#include <mpi.h>
#include <string.h>

#include "sweep/batches.h"
#include "testutil.h"

static int lens[3000];

static bt_dataset dataset(int n, int len) {
    for (int i = 0; i < n; i++) lens[i] = len;
    return (bt_dataset){.n = n, .len = lens};
}

START_TEST(batch_tokens_beyond_int_refused) {
    /* 3000 examples of 2^20 tokens in one batch: 3.1e9 tokens, which (int) made negative */
    bt_dataset d = dataset(3000, 1 << 20);
    bt_plan_options po = {.mode = BT_PLAN_BY_SIZE, .batch_size = 3000};
    sweep_share sh;
    bt_error err = {0};
    ck_assert_int_eq(sweep_share_build(MPI_COMM_WORLD, &d, &po, &sh, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "3145728000 tokens") != NULL, "%s", err.msg);
    sweep_share_free(&sh);
}
END_TEST

START_TEST(batch_tokens_at_int_max_accepted) {
    /* 2047 x 2^20 = 2^31 - 2^20 tokens: fits, and the engine limit is exactly that */
    bt_dataset d = dataset(2047, 1 << 20);
    bt_plan_options po = {.mode = BT_PLAN_BY_SIZE, .batch_size = 2047};
    sweep_share sh;
    bt_error err = {0};
    ck_assert_int_eq(sweep_share_build(MPI_COMM_WORLD, &d, &po, &sh, &err), BT_OK);
    bt_engine_limits lim = sweep_share_limits(&sh);
    ck_assert_int_eq(lim.max_tokens, 2047 << 20);
    ck_assert_int_eq(lim.max_seqs, 2047);
    sweep_share_free(&sh);
}
END_TEST

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    Suite *s = suite_create("sweep_batches");
    TCase *tc = tcase_create("share");
    tcase_add_test(tc, batch_tokens_beyond_int_refused);
    tcase_add_test(tc, batch_tokens_at_int_max_accepted);
    suite_add_tcase(s, tc);
    /* MPI is initialised once in this process: Check must not fork the tests away from it */
    const int rc = tu_run_suite_in_process(s);
    MPI_Finalize();
    return rc;
}
