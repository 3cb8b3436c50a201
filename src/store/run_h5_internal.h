/* Shared by the run_h5_*.c files: the store object and the table of datasets. */
#ifndef BT_RUN_H5_INTERNAL_H
#define BT_RUN_H5_INTERNAL_H

#include <hdf5.h>

#include "bertology/store.h"

/* Every dataset the layout may hold. Order = creation order = the order of collective writes
 * inside one bt_store_write_examples call. */
enum {
    DS_INDEX, DS_LENGTH, DS_TOKEN_OFFSET, DS_TOKEN_IDS, DS_LABEL, DS_LOGITS, DS_LOSS,
    DS_GATE_GRAD, DS_ENTROPY, DS_ATTN, DS_ATTN_OFFSET, DS_HID, DS_HID_OFFSET,
    DS_IMP_RAW, DS_IMP_NORM, DS_IMP_RANK, DS_ENT_RAW, DS_ENT_NORM, DS_COUNT
};

/* How a dataset's rows map to elements. */
enum {
    K_ROW,   /* [n, ...]: k elements per example */
    K_TOK,   /* flat [sum T]: T per example */
    K_ATTN,  /* flat: Lsel*H*T*T per example */
    K_HID,   /* flat: Lhid*T*D per example */
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
} bt_ds_desc;

/* The datasets of a layout, with dims; returns the number present. Used by open and estimate. */
int bt_run_h5_describe(const bt_store_layout *lay, bt_ds_desc desc[DS_COUNT]);
/* Offsets (elements) of each row's block in the flat datasets: off[n+1]; NULL if absent. */
void bt_run_h5_offsets(const bt_store_layout *lay, int64_t *tok, int64_t *attn, int64_t *hid);
/* Layout sanity (same verdict on every rank); message names the field at fault. */
int bt_run_h5_check_layout(const bt_store_layout *lay, bt_error *err);
/* Bytes of the datasets' elements (the file adds metadata). */
uint64_t bt_run_h5_raw_bytes(const bt_store_layout *lay);
/* Bytes of one element of a type in the file for this layout. */
int bt_run_h5_type_size(const bt_store_layout *lay, bt_h5_type t);

#define BT_ROOT_FORMAT "bertology-run"

#endif
