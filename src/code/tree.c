/* A snippet's concrete syntax tree as a graph: nodes numbered in pre-order, code leaves in
 * source order, and the U-AST's extra edges (docs/spec.md "Code structure: CAT-probing").
 *
 * The tree is walked with a cursor, not by recursion: hostile code nests as deep as it is long,
 * and the walk must not grow the C stack with it. */
#include <stdlib.h>
#include <string.h>

#include "bertology/code.h"
#include "bertology/common.h"
#include "code/code_internal.h"

typedef struct {
    int32_t *a; /* pairs (u, v) */
    size_t n, cap;
} edge_list;

static int edge_add(edge_list *e, int32_t u, int32_t v, bt_error *err) {
    if (bt_grow((void **)&e->a, &e->cap, 2 * (e->n + 1), sizeof(int32_t), "syntax tree edges", err)) return -1;
    e->a[2 * e->n] = u;
    e->a[2 * e->n + 1] = v;
    e->n++;
    return 0;
}

typedef struct {
    size_t cap_leaves, cap_stack;
    int32_t *stack; /* node index of each depth of the cursor's path */
} walk;

static int leaf_add(bt_code_tree *t, walk *w, TSNode node, int32_t idx, bt_error *err) {
    const uint32_t s = ts_node_start_byte(node), e = ts_node_end_byte(node);
    const char *type = ts_node_type(node);
    if (e <= s || strstr(type, "comment")) return 0;
    const size_t need = (size_t)t->n_leaves + 1;
    if (need > w->cap_leaves) {
        size_t cap = w->cap_leaves, c2 = cap, c3 = cap, c4 = cap;
        if (bt_grow((void **)&t->leaf_start, &cap, need, sizeof(uint32_t), "code leaves", err) ||
            bt_grow((void **)&t->leaf_end, &c2, need, sizeof(uint32_t), "code leaves", err) ||
            bt_grow((void **)&t->leaf_type, &c3, need, sizeof(char *), "code leaves", err) ||
            bt_grow((void **)&t->leaf_node, &c4, need, sizeof(int32_t), "code leaves", err))
            return -1;
        w->cap_leaves = cap; /* every array grew from the same capacity by the same rule */
    }
    t->leaf_start[t->n_leaves] = s;
    t->leaf_end[t->n_leaves] = e;
    t->leaf_type[t->n_leaves] = type;
    t->leaf_node[t->n_leaves] = idx;
    t->n_leaves++;
    return 0;
}

/* Pre-order walk: every node gets the next index and an edge to its parent. */
static int walk_tree(TSTree *tree, bt_code_tree *t, edge_list *edges, bt_error *err) {
    walk w = {0};
    TSTreeCursor cur = ts_tree_cursor_new(ts_tree_root_node(tree));
    int rc = 0;
    size_t depth = 0;
    if (bt_grow((void **)&w.stack, &w.cap_stack, 1, sizeof(int32_t), "syntax tree walk", err)) {
        rc = -1;
        goto done;
    }
    w.stack[0] = 0;
    t->n_nodes = 1;
    for (;;) {
        const int32_t here = w.stack[depth];
        if (ts_tree_cursor_goto_first_child(&cur)) {
            depth++;
        } else {
            if (leaf_add(t, &w, ts_tree_cursor_current_node(&cur), here, err)) {
                rc = -1;
                goto done;
            }
            while (!ts_tree_cursor_goto_next_sibling(&cur)) {
                if (depth == 0 || !ts_tree_cursor_goto_parent(&cur)) goto done;
                depth--;
            }
        }
        /* the cursor is on a new node, child of w.stack[depth - 1] */
        if (t->n_nodes >= BT_CODE_MAX_NODES) {
            rc = bt_error_set(err, BT_EINPUT, "syntax tree of more than %d nodes", BT_CODE_MAX_NODES);
            goto done;
        }
        if (bt_grow((void **)&w.stack, &w.cap_stack, depth + 1, sizeof(int32_t), "syntax tree walk", err) ||
            edge_add(edges, w.stack[depth - 1], t->n_nodes, err)) {
            rc = -1;
            goto done;
        }
        w.stack[depth] = t->n_nodes++;
    }
done:
    ts_tree_cursor_delete(&cur);
    free(w.stack);
    return rc ? (err && err->code ? err->code : BT_EINTERNAL) : 0;
}

typedef struct {
    const char *text;
    uint32_t len;
    int32_t leaf;
} ident;

static int ident_cmp(const void *pa, const void *pb) {
    const ident *a = pa, *b = pb;
    const uint32_t m = a->len < b->len ? a->len : b->len;
    const int c = memcmp(a->text, b->text, m);
    if (c) return c;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return (a->leaf > b->leaf) - (a->leaf < b->leaf);
}

/* U-AST: consecutive code leaves, and each identifier leaf to the next one of the same text. */
static int uast_edges(const bt_code_tree *t, const char *code, edge_list *edges, bt_error *err) {
    for (int32_t i = 0; i + 1 < t->n_leaves; i++)
        if (edge_add(edges, t->leaf_node[i], t->leaf_node[i + 1], err)) return -1;
    ident *id = bt_malloc((size_t)t->n_leaves, sizeof *id, "identifier leaves", err);
    if (!id) return -1;
    size_t m = 0;
    for (int32_t i = 0; i < t->n_leaves; i++)
        if (!strcmp(t->leaf_type[i], "identifier"))
            id[m++] = (ident){code + t->leaf_start[i], t->leaf_end[i] - t->leaf_start[i], i};
    qsort(id, m, sizeof *id, ident_cmp);
    int rc = 0;
    for (size_t k = 0; k + 1 < m && !rc; k++)
        if (id[k].len == id[k + 1].len && !memcmp(id[k].text, id[k + 1].text, id[k].len))
            rc = edge_add(edges, t->leaf_node[id[k].leaf], t->leaf_node[id[k + 1].leaf], err);
    free(id);
    return rc;
}

/* Adjacency lists from the edge pairs (counting sort by endpoint). */
static int build_adjacency(bt_code_tree *t, const edge_list *edges, bt_error *err) {
    t->adj_off = bt_calloc((size_t)t->n_nodes + 1, sizeof(int32_t), "syntax graph", err);
    t->adj = bt_malloc(2 * edges->n, sizeof(int32_t), "syntax graph", err);
    if (!t->adj_off || !t->adj) return -1;
    for (size_t k = 0; k < 2 * edges->n; k++) t->adj_off[edges->a[k] + 1]++;
    for (int32_t v = 0; v < t->n_nodes; v++) t->adj_off[v + 1] += t->adj_off[v];
    int32_t *fill = bt_malloc((size_t)t->n_nodes, sizeof(int32_t), "syntax graph", err);
    if (!fill) return -1;
    memcpy(fill, t->adj_off, (size_t)t->n_nodes * sizeof(int32_t));
    for (size_t k = 0; k < edges->n; k++) {
        const int32_t u = edges->a[2 * k], v = edges->a[2 * k + 1];
        t->adj[fill[u]++] = v;
        t->adj[fill[v]++] = u;
    }
    free(fill);
    return 0;
}

int bt_code_parse(int lang, const char *code, size_t len, bt_code_graph_kind kind, bt_code_tree *t,
                  bt_error *err) {
    memset(t, 0, sizeof *t);
    const TSLanguage *language = bt_code_ts_language(lang);
    if (!language) return bt_error_set(err, BT_EINPUT, "no grammar for language %d", lang);
    if (len > BT_CODE_MAX_BYTES)
        return bt_error_set(err, BT_EINPUT, "code of %zu bytes, more than the limit of %zu", len,
                            BT_CODE_MAX_BYTES);
    TSParser *parser = ts_parser_new();
    if (!parser) return bt_error_set(err, BT_EINTERNAL, "out of memory for a tree-sitter parser");
    if (!ts_parser_set_language(parser, language)) {
        ts_parser_delete(parser);
        return bt_error_set(err, BT_EINTERNAL, "tree-sitter %u cannot load the %s grammar of ABI %u",
                            TREE_SITTER_LANGUAGE_VERSION, bt_code_lang_name(lang), ts_language_version(language));
    }
    TSTree *tree = ts_parser_parse_string(parser, NULL, code, (uint32_t)len);
    ts_parser_delete(parser);
    if (!tree) return bt_error_set(err, BT_EINTERNAL, "tree-sitter returned no tree");
    t->has_error = ts_node_has_error(ts_tree_root_node(tree));
    edge_list edges = {0};
    int rc = walk_tree(tree, t, &edges, err);
    ts_tree_delete(tree);
    if (!rc && kind == BT_CODE_UAST) rc = uast_edges(t, code, &edges, err);
    if (!rc) rc = build_adjacency(t, &edges, err);
    free(edges.a);
    if (rc) {
        const int code_ = err && err->code ? err->code : BT_EINTERNAL;
        bt_code_tree_free(t);
        return code_;
    }
    return 0;
}

void bt_code_tree_free(bt_code_tree *t) {
    free(t->leaf_start);
    free(t->leaf_end);
    free(t->leaf_type);
    free(t->leaf_node);
    free(t->adj_off);
    free(t->adj);
    memset(t, 0, sizeof *t);
}
