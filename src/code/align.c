/* Which code leaf a sub-token belongs to: by byte offsets into the code, never by matching
 * text (the authors match strings, which fails on repeated tokens; docs/cat.md). */
#include "bertology/code.h"

static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int32_t bt_code_owner_leaf(const bt_code_tree *t, const char *code, size_t len, int64_t start, int64_t end) {
    if (start < 0 || end > (int64_t)len || start >= end) return -1;
    int64_t b = start;
    while (b < end && is_space((unsigned char)code[b])) b++;
    if (b == end) return -1;
    /* the last leaf starting at or before b (leaves ascend and do not overlap) */
    int32_t lo = 0, hi = t->n_leaves - 1, found = -1;
    while (lo <= hi) {
        const int32_t mid = lo + (hi - lo) / 2;
        if ((int64_t)t->leaf_start[mid] <= b) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found >= 0 && b < (int64_t)t->leaf_end[found] ? found : -1;
}
