/* Small helpers shared by the Check suites. */
#ifndef BT_TESTUTIL_H
#define BT_TESTUTIL_H

#include <stddef.h>

/* Directories from the environment ctest sets (fall back to paths relative to the cwd). */
const char *tu_source_dir(void);
const char *tu_data_dir(void);
/* A fresh temporary directory (removed by the OS's tmp cleaning; tests keep them small). */
const char *tu_tmpdir(void);
/* Writes len bytes to dir/name; returns the full path in a static rotating buffer. */
const char *tu_write_file(const char *dir, const char *name, const void *data, size_t len);
/* Runs the standard Check runner on a suite; returns the process exit code. */
struct Suite;
int tu_run_suite(struct Suite *s);
/* The same without forking each test away (for suites whose process initialised MPI once). */
int tu_run_suite_in_process(struct Suite *s);

#endif
