/* Metric names (HF glue_compute_metrics' dictionary keys). */
#include "bertology/metrics.h"

#include <string.h>

static const char *const NAMES[BT_METRIC_COUNT] = {
    [BT_METRIC_ACC] = "acc",         [BT_METRIC_F1] = "f1",
    [BT_METRIC_ACC_AND_F1] = "acc_and_f1", [BT_METRIC_MCC] = "mcc",
    [BT_METRIC_PEARSON] = "pearson", [BT_METRIC_SPEARMANR] = "spearmanr",
    [BT_METRIC_CORR] = "corr",
};

const char *bt_metric_name(bt_metric_id id) {
    return (unsigned)id < BT_METRIC_COUNT ? NAMES[id] : NULL;
}

int bt_metric_find(const char *name, bt_metric_id *id, bt_error *err) {
    for (int i = 0; name && i < BT_METRIC_COUNT; i++) {
        if (strcmp(name, NAMES[i]) == 0) {
            *id = (bt_metric_id)i;
            return BT_OK;
        }
    }
    return bt_error_set(err, BT_EINPUT,
                        "unknown metric '%.64s' (known: acc, f1, acc_and_f1, mcc, pearson, "
                        "spearmanr, corr)",
                        name ? name : "(null)");
}

int bt_metric_is_regression(bt_metric_id id) {
    return id == BT_METRIC_PEARSON || id == BT_METRIC_SPEARMANR || id == BT_METRIC_CORR;
}
