#include "cli_msg.h"

#include "bertology/run.h"

void cli_print(FILE *f, const char *prefix, const char *msg) {
    char m[BT_ERROR_MSG_MAX];
    snprintf(m, sizeof m, "%s", msg);
    bt_run_flag_names(m, sizeof m);
    fprintf(f, "%s: %s\n", prefix, m);
}
