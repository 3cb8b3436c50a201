/* bertology schema: the layout of run.h5 as JSON (names, dtypes, symbolic shapes, attributes),
 * generated from the tables the writer uses. The analysis package keeps a copy
 * (analysis/bertology_analysis/run_h5_schema.json); a test fails when the two differ. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/store.h"
#include "commands.h"
#include "run_opts.h"

int bt_cmd_schema(int argc, char **argv) {
    bt_run_options o;
    int rc = run_opts_parse(&o, BT_CMD_SCHEMA, "schema", argc, argv, 0);
    if (rc) return rc < 0 ? 0 : rc;
    const char *out = o.out;
    char *json = NULL;
    bt_error err;
    if (bt_store_schema_json(&json, &err)) {
        fprintf(stderr, "bertology schema: %s\n", err.msg);
        return 1;
    }
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) {
        fprintf(stderr, "bertology schema: %s: %s\n", out, strerror(errno));
        free(json);
        return 2;
    }
    int bad = fputs(json, f) < 0 || fputc('\n', f) < 0;
    bad |= out ? fclose(f) != 0 : fflush(f) != 0;
    free(json);
    if (bad) {
        fprintf(stderr, "bertology schema: writing %s failed: %s\n", out ? out : "stdout", strerror(errno));
        return 1;
    }
    return 0;
}
