/* Shortest-path distances between code leaves: one breadth-first search per scored leaf. Only
 * the scored leaves (those that own a sub-token of the truncated input) are sources, so the
 * work is O(n (V + E)) and the memory n^2 with n at most the sequence length, however long the
 * snippet. */
#include <string.h>

#include "bertology/code.h"

void bt_code_distances(const bt_code_tree *t, int n, const int32_t *leaves, int32_t *dist, int32_t *work) {
    int32_t *d = work, *queue = work + t->n_nodes;
    for (int i = 0; i < n; i++) {
        /* -1: not reached yet (the graph is connected through the tree, so every node is) */
        memset(d, 0xff, (size_t)t->n_nodes * sizeof *d);
        const int32_t src = t->leaf_node[leaves[i]];
        int32_t head = 0, tail = 0;
        d[src] = 0;
        queue[tail++] = src;
        while (head < tail) {
            const int32_t u = queue[head++];
            for (int32_t k = t->adj_off[u]; k < t->adj_off[u + 1]; k++) {
                const int32_t v = t->adj[k];
                if (d[v] < 0) {
                    d[v] = d[u] + 1;
                    queue[tail++] = v;
                }
            }
        }
        for (int j = 0; j < n; j++) dist[(size_t)i * n + j] = d[t->leaf_node[leaves[j]]];
    }
}
