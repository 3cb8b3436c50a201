/* Free space of the output file system, checked before a run writes anything (docs/run_h5.md
 * "Size"): refusing at the start costs nothing, running out in the middle costs the pass. */
#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>

#include "bertology/store.h"

int bt_store_check_space(const char *dir, uint64_t bytes, bt_error *err) {
    struct statvfs st;
    if (statvfs(dir, &st) != 0)
        return bt_error_set(err, BT_EINPUT, "%s: cannot read the free space: %s", dir, strerror(errno));
    /* f_bavail: what an unprivileged writer may use (root's reserve is not ours to take) */
    const uint64_t avail = (uint64_t)st.f_bavail * (uint64_t)st.f_frsize;
    if (bytes > avail)
        return bt_error_set(err, BT_EINPUT,
                            "%s: run.h5 needs %.3g MB but the file system has %.3g MB free (free space "
                            "or write elsewhere; fewer stored layers, float16 tensors or fewer examples make it smaller)",
                            dir, bytes / 1e6, avail / 1e6);
    return BT_OK;
}
