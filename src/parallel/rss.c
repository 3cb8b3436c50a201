/* Peak memory of this process, for --verbose output. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "bertology/dist.h"

int64_t bt_dist_peak_rss(void) {
    /* VmHWM is the kernel's exact high-water mark; ru_maxrss (kB on Linux) is the fallback for
     * systems without /proc. */
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        long long kb = -1;
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "VmHWM:", 6) && sscanf(line + 6, "%lld", &kb) == 1) break;
        fclose(f);
        if (kb >= 0) return (int64_t)kb * 1024;
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) return (int64_t)ru.ru_maxrss * 1024;
    return 0;
}
