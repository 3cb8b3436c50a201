/* bertology schema: the layout of run.h5 as JSON (names, dtypes, symbolic shapes, attributes),
 * generated from the tables the writer uses. The analysis package keeps a copy
 * (analysis/bertology_analysis/run_h5_schema.json); a test fails when the two differ. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/store.h"
#include "commands.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: bertology schema [--out FILE]\n"
            "\n"
            "Prints the layout of run.h5 as JSON: root attributes, groups and their attributes,\n"
            "datasets with dtypes and shapes in the symbols of docs/run_h5.md (n examples,\n"
            "L layers, H heads, C labels, T tokens of an example, ...), and when each is there.\n"
            "  --out FILE   write it to FILE instead of stdout\n");
}

int bt_cmd_schema(int argc, char **argv) {
    static const struct option opts[] = {{"out", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = NULL;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bertology schema: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
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
