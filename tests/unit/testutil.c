#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tu_source_dir(void) {
    const char *s = getenv("BT_SOURCE_DIR");
    return s ? s : ".";
}

const char *tu_data_dir(void) {
    const char *s = getenv("BT_TEST_DATA");
    return s ? s : "tests/data";
}

const char *tu_tmpdir(void) {
    static char buf[8][256];
    static int k;
    char *d = buf[k++ % 8];
    snprintf(d, 256, "/tmp/bt_test_XXXXXX");
    if (!mkdtemp(d)) {
        perror("mkdtemp");
        abort();
    }
    return d;
}

const char *tu_write_file(const char *dir, const char *name, const void *data, size_t len) {
    static char buf[8][1024];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 1024, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        perror(p);
        abort();
    }
    fclose(f);
    return p;
}

static int run_suite(Suite *s, int forked) {
    SRunner *sr = srunner_create(s);
    if (!forked) srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

int tu_run_suite(Suite *s) { return run_suite(s, 1); }

int tu_run_suite_in_process(Suite *s) { return run_suite(s, 0); }
