/* Shared by the run_h5_*.c files: the store object and the table of datasets. */
#ifndef BT_RUN_H5_INTERNAL_H
#define BT_RUN_H5_INTERNAL_H

#include <hdf5.h>

#include "bertology/store.h"

/* Every dataset the layout may hold. Order = creation order = the order of collective writes
 * inside one bt_store_write_examples call. */
enum {
    DS_INDEX, DS_LENGTH, DS_TOKEN_OFFSET, DS_TOKEN_IDS, DS_LABEL, DS_LOGITS, DS_LOSS,
    DS_GATE_GRAD, DS_ENTROPY, DS_ATTR_MAX, DS_ATTN, DS_ATTN_OFFSET, DS_HID, DS_HID_OFFSET,
    DS_ATTRIB, DS_ATTRIB_OFFSET, DS_ROLLOUT,
    DS_IMP_RAW, DS_IMP_NORM, DS_IMP_RANK, DS_ENT_RAW, DS_ENT_NORM, DS_COUNT
};

/* How a dataset's rows map to elements. */
enum {
    K_ROW,   /* [n, ...]: k elements per example */
    K_TOK,   /* flat [sum T]: T per example */
    K_ATTN,  /* flat: Lsel*H*T*T per example */
    K_HID,   /* flat: Lhid*T*D per example */
    K_ATTRIB, /* flat: L*H*T*T per example (the attribution maps) */
    K_ROLL,  /* flat: T per example, at the token offsets (the rollout) */
    K_SMALL  /* written once from rank 0 */
};

typedef enum { T_I32, T_I64, T_F32, T_F64, T_TENSOR } bt_h5_type;

typedef struct {
    const char *path;
    int kind;
    int present;     /* in this layout */
    int rank;        /* dataset rank */
    hsize_t dims[3];
    int64_t per_row; /* K_ROW: elements per example */
    bt_h5_type type;
    const char *shape; /* dims in the symbols of docs/run_h5.md, for the schema: "n,L,H", "sum(T)" */
    const char *when;  /* when present: "always", or the layout field that switches it on */
} bt_ds_desc;

/* Attribute types, as the schema names them. */
typedef enum { A_STR, A_I64, A_I32_LIST } bt_attr_type;

typedef struct {
    const char *name;
    bt_attr_type type;
    const char *values; /* A_STR: the values it may take, '|'-separated (NULL: any) */
} bt_attr_desc;

/* Root attributes, in the order write_root_attrs writes them. */
enum {
    RA_FORMAT, RA_FORMAT_VERSION, RA_STATUS, RA_TASK, RA_SPLIT, RA_MODEL_DIR, RA_MODEL_CONFIG,
    RA_OPTIONS, RA_COMMAND_LINE, RA_VERSION, RA_OPENBLAS, RA_HDF5, RA_MPI, RA_CREATED,
    RA_CHECKPOINT_ID, RA_N_RANKS, RA_N_LAYERS, RA_N_HEADS, RA_N_LABELS, RA_N_EXAMPLES, RA_COUNT
};
extern const bt_attr_desc bt_run_h5_root_attrs[RA_COUNT];

/* Groups made at open, with the attributes create_groups writes (what each holds: GA_*). */
enum { G_EXAMPLES, G_IMPORTANCE, G_ENTROPY, G_METRICS, G_ATTENTIONS, G_HIDDEN, G_ATTRIBUTION, G_ROLLOUT, G_COUNT };
enum { GA_N_TOKENS, GA_N_EXAMPLES, GA_BLOCK_SHAPE, GA_N_HEADS, GA_D_MODEL, GA_LAYERS, GA_DTYPE };
#define BT_GROUP_MAX_ATTRS 4
typedef struct {
    const char *path;
    const char *when;       /* as bt_ds_desc.when */
    const char *any_attrs;  /* every other attribute has this type ("float64": /metrics), or NULL */
    int n_attrs;
    struct { int what; bt_attr_desc a; const char *shape; } attrs[BT_GROUP_MAX_ATTRS];
} bt_group_desc;
extern const bt_group_desc bt_run_h5_groups[G_COUNT];
/* The shape symbols: where a reader finds each one's value. */
typedef struct {
    const char *symbol, *object, *attr, *dataset;
    int length; /* the value is the length of the attribute (a list), not the attribute */
} bt_shape_symbol;
#define BT_N_SHAPE_SYMBOLS 8
extern const bt_shape_symbol bt_run_h5_symbols[BT_N_SHAPE_SYMBOLS];
/* Whether a group is made for this layout. */
int bt_run_h5_group_present(const bt_store_layout *lay, int group);

/* The datasets of a layout, with dims; returns the number present. Used by open and estimate. */
int bt_run_h5_describe(const bt_store_layout *lay, bt_ds_desc desc[DS_COUNT]);
/* Offsets (elements) of each row's block in the flat datasets: off[n+1]; NULL if absent. The
 * rollout has T per example, so its offsets are tok's. */
void bt_run_h5_offsets(const bt_store_layout *lay, int64_t *tok, int64_t *attn, int64_t *hid, int64_t *attrib);
/* Layout sanity (same verdict on every rank); message names the field at fault. */
int bt_run_h5_check_layout(const bt_store_layout *lay, bt_error *err);
/* Bytes of the datasets' elements (the file adds metadata). */
uint64_t bt_run_h5_raw_bytes(const bt_store_layout *lay);
/* Bytes of one element of a type in the file for this layout. */
int bt_run_h5_type_size(const bt_store_layout *lay, bt_h5_type t);

#define BT_ROOT_FORMAT "bertology-run"

#endif
