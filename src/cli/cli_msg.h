/* How the command line prints what the library says: its option names as flags. */
#ifndef BT_CLI_MSG_H
#define BT_CLI_MSG_H

#include <stdio.h>

/* "prefix: msg\n" with every `key` of msg written as its --flag (bt_run_flag_names). */
void cli_print(FILE *f, const char *prefix, const char *msg);

#endif
