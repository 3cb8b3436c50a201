/* Error agreement at phase boundaries, and MPI start-up. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "bertology/dist.h"

int bt_dist_init(int *argc, char ***argv, bt_error *err) {
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (inited) {
        MPI_Query_thread(&provided);
    } else if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        return bt_error_set(err, BT_EINTERNAL, "MPI_Init_thread failed");
    }
    if (provided < MPI_THREAD_FUNNELED)
        return bt_error_set(err, BT_EINTERNAL,
                            "MPI library provides thread level %d, need MPI_THREAD_FUNNELED", provided);
    return BT_OK;
}

void bt_dist_finalize(void) {
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (inited && !finalized) MPI_Finalize();
}

int bt_dist_agree(MPI_Comm comm, int local_code, const bt_error *local_err, bt_error *err) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (local_code < 0) local_code = BT_EINTERNAL; /* codes are exit statuses: keep them positive */

    /* One allreduce carries both the largest code and the lowest failing rank (as the max of
     * -rank), so the common, error-free case costs a single small collective. */
    int v[2] = {local_code, local_code ? -rank : INT_MIN};
    if (MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
        return bt_error_set(err, BT_EINTERNAL, "error agreement: MPI_Allreduce failed");
    if (v[0] == 0) {
        bt_error_clear(err);
        return BT_OK;
    }
    int first = -v[1];
    int failing = local_code != 0, n_failing = 0;
    MPI_Allreduce(&failing, &n_failing, 1, MPI_INT, MPI_SUM, comm);

    char msg[BT_ERROR_MSG_MAX] = "";
    if (rank == first) {
        if (local_err && local_err->msg[0]) snprintf(msg, sizeof msg, "%s", local_err->msg);
        else snprintf(msg, sizeof msg, "error %d (no message)", local_code);
    }
    MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, first, comm);

    char where[32] = "", others[48] = "";
    if (first > 0) snprintf(where, sizeof where, "rank %d: ", first);
    /* every rank stops on an interruption: that is no failure to count */
    if (n_failing > 1 && v[0] != BT_EINTERRUPTED) snprintf(others, sizeof others, " (%d ranks failed)", n_failing);
    /* an error agreed on before (every rank returns it) is counted once, not again */
    static const char counted[] = " ranks failed)";
    const size_t lm = strlen(msg), lc = sizeof counted - 1;
    if (lm >= lc && !strcmp(msg + lm - lc, counted)) others[0] = '\0';
    /* %.900s: leave room for the prefix and suffix so the line is never cut mid-message */
    return bt_error_set(err, v[0], "%s%.900s%s", where, msg, others);
}
