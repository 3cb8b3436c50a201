/* code: the syntax of source code for CAT-probing (Chen et al. 2022; docs/spec.md "Code
 * structure: CAT-probing", docs/cat.md). Tree-sitter's concrete syntax tree of a snippet, its
 * code leaves, the U-AST (or plain AST) graph and the distances between code leaves; the owner
 * leaf of a sub-token; the leaf attention of a token attention map and the CAT-score of one
 * example. Knows no model, no file format and no MPI: the sweep feeds it bytes and maps. */
#ifndef BERTOLOGY_CODE_H
#define BERTOLOGY_CODE_H

#include <stddef.h>
#include <stdint.h>

#include "bertology/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The languages whose grammars are built in (third_party/tree-sitter-*), in this order. */
#define BT_CODE_N_LANGS 4
const char *bt_code_lang_name(int lang); /* "python", "java", "go", "javascript"; NULL past the end */
/* The index of a language name (exact, lower case), or -1. */
int bt_code_lang_find(const char *name);

typedef enum {
    BT_CODE_UAST = 0, /* parent-child edges, consecutive code leaves, same-text identifier chains */
    BT_CODE_PLAIN = 1 /* parent-child edges only */
} bt_code_graph_kind;

/* Bounds on one snippet, so that hostile input costs bounded time and memory
 * (docs/hostile_inputs.md). The distances are computed for the scored leaves only (at most the
 * tokens of an example), so their memory is bounded by the sequence length, not by the code. */
/* 64 KiB of source: tree-sitter 0.20.7 (Debian's) frees memory twice when it recovers from
 * errors over more than about 65,000 leaves (70,000 unmatched "()" in Java or JavaScript abort
 * inside ts_parser_parse; tests/unit/test_code.c "hostile"), so no snippet may hold that many.
 * CodeSearchNet functions are far shorter, and only their first max_seq_length tokens are
 * scored. */
#define BT_CODE_MAX_BYTES ((size_t)65535)
#define BT_CODE_MAX_NODES (1 << 20) /* tree nodes (tree-sitter's, named or not) */

/* One parsed snippet. Leaves are the code leaves (childless nodes, not comments, not empty) in
 * source order; their byte ranges do not overlap and ascend. The graph is on all tree nodes
 * (node 0 is the root), as adjacency lists: the neighbours of node v are
 * adj[adj_off[v] .. adj_off[v+1]-1]. */
typedef struct {
    int32_t n_nodes;
    int32_t n_leaves;
    uint32_t *leaf_start, *leaf_end; /* [n_leaves] byte range [start, end) in the code */
    const char **leaf_type;          /* [n_leaves] the grammar's node type (static strings) */
    int32_t *leaf_node;              /* [n_leaves] its node index */
    int32_t *adj_off;                /* [n_nodes + 1] */
    int32_t *adj;                    /* [adj_off[n_nodes]] */
    int has_error;                   /* the tree holds ERROR or MISSING nodes (kept, as the authors') */
} bt_code_tree;

/* Parses code[0..len) in language lang (bt_code_lang_find) and builds the graph of kind. The
 * message of a failure names what is wrong (too long, too many nodes); the caller adds the file
 * and line. t is zeroed first and owns its arrays afterwards (bt_code_tree_free), also on
 * failure. */
int bt_code_parse(int lang, const char *code, size_t len, bt_code_graph_kind kind, bt_code_tree *t,
                  bt_error *err);
void bt_code_tree_free(bt_code_tree *t);

/* dist[i*n + j] = the number of edges on a shortest path between code leaves leaves[i] and
 * leaves[j] (one breadth-first search per listed leaf over the whole graph: O(n (V + E))).
 * work: [2 * n_nodes] int32 scratch (the distances from one leaf, the queue). */
void bt_code_distances(const bt_code_tree *t, int n, const int32_t *leaves, int32_t *dist, int32_t *work);

/* The code leaf that owns a sub-token whose text is code[start..end): the leaf whose byte range
 * holds the first byte of the range that is not white space (' ', '\t', '\n', '\r', '\v', '\f').
 * -1 for an empty range, white space only, or a byte in no code leaf (a comment, a gap). */
int32_t bt_code_owner_leaf(const bt_code_tree *t, const char *code, size_t len, int64_t start, int64_t end);

/* Leaf attention of one token map. tok[T]: the scored-leaf slot (0..n-1) of each token, or -1;
 * count[n]: the tokens of each slot (>= 1). att[T*T] row-major (query, key). out[n*n] = the mean
 * of att over the (token of i, token of j) pairs. */
void bt_code_leaf_attention(int T, const float *att, const int32_t *tok, int n, const int32_t *count, double *out);

/* CAT-score of one example with n >= 2 scored leaves (docs/spec.md): theta_A = the 0.75 quantile
 * of the n*n leaf attentions, theta_D = the 0.25 quantile of the n*n distances (numpy's default
 * linear interpolation); M_A = att > theta_A, M_D = dist < theta_D; |M_A and M_D| / |M_A or M_D|.
 * Returns NAN when the union is empty (the example is skipped and counted by the caller).
 * work: [n*n] doubles. */
double bt_code_cat_score(int n, const double *att, const int32_t *dist, double theta_d, double *work);
/* theta_D of an example, once for all its heads. work: [n*n] doubles. */
double bt_code_dist_threshold(int n, const int32_t *dist, double *work);
/* The q-quantile of v[0..m) with numpy's linear interpolation; v is reordered. m >= 1. */
double bt_code_quantile(double *v, size_t m, double q);

#ifdef __cplusplus
}
#endif
#endif
