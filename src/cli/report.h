/* What rank 0 prints: the Python BERTology script's tables, in its layout, and summaries. */
#ifndef BT_CLI_REPORT_H
#define BT_CLI_REPORT_H

#include <stdio.h>

#include "bertology/sweep.h"

/* "lv, h >\t1\t2..." then "layer l:\t..." rows with 5 decimals (HF's print_2d_tensor). The
 * header numbers the heads (HF numbers len(tensor), the layers: equal for bert-base). */
void report_table_f(FILE *f, const char *title, const float *v, int L, int H);
void report_table_i(FILE *f, const char *title, const int *v, int L, int H);
/* metric lines and the summary line: examples, tokens, seconds, tokens/s, ranks */
void report_summary(FILE *f, const char *what, const bt_sweep_result *r, int n_ranks);

#endif
