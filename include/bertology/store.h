/* store: the run's HDF5 file (run.h5), written by every MPI rank together with parallel HDF5
 * (MPI-IO driver). docs/run_h5.md documents the layout for readers.
 *
 * Life of a file, every call collective over the communicator unless it says otherwise:
 *   bt_store_open          creates "<final>.tmp-<id>" and every dataset (sizes are known up
 *                          front from the example lengths, so every rank computes every offset)
 *   bt_store_write_examples  each rank writes the rows of the examples it computed (not
 *                          collective in the default BT_STORE_IO_INDEPENDENT mode)
 *   bt_store_write_summary   rank 0's importance / entropy / metrics
 *   bt_store_commit        closes, marks status "complete", renames tmp -> final (atomic)
 * or bt_store_abort, which leaves only the tmp file. A killed run never leaves <final>.
 *
 * Error handling: functions return a code on the calling rank; a collective HDF5 failure is
 * normally seen by every rank, but callers should still agree on the outcome (bt_dist_agree)
 * before the next collective call, and call bt_store_abort on every rank after a failure.
 */
#ifndef BERTOLOGY_STORE_H
#define BERTOLOGY_STORE_H

#include <mpi.h>
#include <stdint.h>

#include "bertology/error.h"
#include "bertology/npy.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BT_STORE_FORMAT_VERSION 1

typedef enum { BT_STORE_F32 = 0, BT_STORE_F16 = 1 } bt_store_dtype;

/* How bt_store_write_examples reaches the file (docs/run_h5.md has the measurements):
 * INDEPENDENT: each rank writes its rows when it has them; calls need not match across ranks,
 *   so ranks never wait for each other between batches (works with dynamic work sharing).
 * COLLECTIVE: every rank makes the same number of calls (n = 0 when it has nothing left);
 *   small per-example rows go through two-phase collective buffering (fewer, larger writes on
 *   a parallel file system with many ranks), tensor blocks through individual MPI-IO. */
typedef enum { BT_STORE_IO_INDEPENDENT = 0, BT_STORE_IO_COLLECTIVE = 1 } bt_store_io;

/* What the file will hold. Identical on every rank. Pointers are read during open only. */
typedef struct {
    int n_layers, n_heads;  /* L, H as configured (gates and importance are [L, H]) */
    int n_labels;           /* C: label [n] and logits [n, C]; 0 = neither (LM, encoder only) */
    int regression;         /* label is the f32 regression target (C == 1) */
    int has_loss;           /* loss [n] f64 and gate_grad [n, L, H] f64 */
    int has_entropy;        /* per-example attention entropy [n, L, H] f64 (sum over queries) */
    int d_model;            /* D, the width of saved hidden states */
    int64_t n_examples;     /* n rows in /examples */
    const int *lengths;     /* [n] real tokens of row i, >= 1 */
    int n_attn_layers;      /* Lsel: attention probabilities saved for these layers (0..L-1) */
    const int *attn_layers;
    int n_hidden_layers;    /* hidden states saved (0 = embeddings output, l = after layer l-1) */
    const int *hidden_layers;
    int has_attr_max;       /* /examples/attr_max [n, L, H] f64 (importance --method attattr) */
    int save_attributions;  /* /attribution/data: per example [L, H, T, T], tensor_dtype */
    int save_rollout;       /* /rollout/data: per example [T] f32, the rollout's relevance row */
    int tensor_dtype;       /* bt_store_dtype of /attentions/data and /hidden/data */
    int io_mode;            /* bt_store_io of bt_store_write_examples */
} bt_store_layout;

/* Root attributes (UTF-8 strings; NULL is stored as ""). Rank 0's values are written. */
typedef struct {
    const char *task, *split, *model_dir;
    const char *model_config_json; /* the model's config.json as read */
    const char *options_json;      /* every option of the run, defaults included */
    const char *command_line;
    const char *program_version;   /* bertology version */
    const char *openblas_version;  /* openblas_get_config() */
    const char *checkpoint_id;     /* the checkpoint this file belongs to (docs/resume.md) */
} bt_store_meta;

typedef struct bt_store bt_store;

/* Creates the tmp file next to final_path and every dataset. comm is duplicated. */
int bt_store_open(const char *final_path, MPI_Comm comm, const bt_store_layout *layout,
                  const bt_store_meta *meta, bt_store **out, bt_error *err);

/* The file being written: "<final>.tmp-<SLURM_JOB_ID or rank 0's pid>". */
const char *bt_store_tmp_path(const bt_store *s);

/* Reopens the tmp file of an interrupted run to go on writing it (docs/resume.md): refused
 * (BT_EINPUT) unless its checkpoint_id attribute is checkpoint_id and every dataset has the
 * dimensions this layout gives. The rows written before are kept. */
int bt_store_reopen(const char *tmp_path, const char *final_path, MPI_Comm comm, const bt_store_layout *layout,
                    const char *checkpoint_id, bt_store **out, bt_error *err);

/* Makes the rows written so far and the metadata durable (HDF5 flush, MPI_File_sync): rows
 * written before a flush survive any kill of the processes. Same code on every rank. */
int bt_store_flush(bt_store *s, bt_error *err);

/* One call's worth of per-example results from this rank. Examples may come in any order (a
 * length-sorted batch); the store sorts by row. Arrays follow the call's example order; a NULL
 * array means "not written by this call" (another call may write it). */
typedef struct {
    int n;                    /* examples in this call; 0 = take part in the collective only */
    const int64_t *rows;      /* [n] row in /examples, distinct, 0 <= row < n_examples */
    const int64_t *index;     /* [n] example index in data order */
    const int *token_ids;     /* [sum of T] concatenated */
    const int *labels;        /* [n] class ids (classification) */
    const float *targets;     /* [n] targets (regression) */
    const float *logits;      /* [n, C] */
    const double *loss;       /* [n] */
    const double *gate_grad;  /* [n, L, H] */
    const double *entropy;    /* [n, L, H] */
    const float *attentions;  /* per example [Lsel, H, T, T] concatenated (converted to f16 if so
                                 laid out, rounding to nearest even) */
    const float *hidden;      /* per example [Lsel_hidden, T, D] concatenated */
    const double *attr_max;   /* [n, L, H] */
    const float *attributions; /* per example [L, H, T, T] concatenated */
    const float *rollout;     /* per example [T] concatenated */
} bt_store_rows;

/* Any number of calls per rank (BT_STORE_IO_INDEPENDENT), or the same number on every rank
 * with n = 0 for a rank with nothing left (BT_STORE_IO_COLLECTIVE). Each dataset gets one write
 * of the union of the rows' contiguous blocks. Internal scratch grows to the largest call,
 * then stays. */
int bt_store_write_examples(bt_store *s, const bt_store_rows *rows, bt_error *err);

/* The run's results; only rank 0's values are used (other ranks may pass NULL fields). */
typedef struct {
    const double *importance_raw;  /* [L, H] sum over the set (SPEC "raw importance") */
    const float *importance_norm;  /* [L, H] after the normalisations asked for */
    const int *importance_rank;    /* [L, H] 0 = most important */
    const double *entropy_raw;     /* [L, H] sum over query tokens and examples */
    const float *entropy_norm;     /* [L, H] divided by n_tokens */
    int64_t n_tokens, n_examples;
    int n_metrics;
    const char *const *metric_names;
    const double *metric_values;
} bt_store_summary;

int bt_store_write_summary(bt_store *s, const bt_store_summary *sum, bt_error *err);

/* An extra dataset at path (e.g. "/masking/score"; groups are created), rank 0's shape and data.
 * For results the layout does not foresee; not counted by bt_store_estimate_bytes. */
int bt_store_write_array(bt_store *s, const char *path, bt_npy_dtype dtype, int ndim,
                         const int64_t *shape, const void *data, bt_error *err);

/* A list of n UTF-8 strings as attribute attr of the object at path (a dataset or group; a
 * missing path becomes a group), rank 0's values (h5py reads a list of str). Collective. */
int bt_store_write_strings(bt_store *s, const char *path, const char *attr, int n,
                           const char *const *strs, bt_error *err);

/* Closes the file on every rank, then rank 0 sets status "complete", syncs and renames the tmp
 * file to final_path. Same return code on every rank. Frees s (also on failure). */
int bt_store_commit(bt_store *s, bt_error *err);

/* Closes the file, keeps the tmp file (status "aborted") for inspection. Frees s. Collective.
 * After a failed write on any rank (a full file system, an I/O error) the file cannot be closed
 * safely: it is removed instead and left open, and bt_store_poisoned() becomes true. */
void bt_store_abort(bt_store *s);

/* As bt_store_abort, with status "interrupted": the file of a stopped run, to be reopened. */
void bt_store_suspend(bt_store *s);

/* True once bt_store_abort had to leave a file open: HDF5 would try to flush it when the
 * library shuts down (at exit or inside MPI_Finalize) and hang or crash. The program must then
 * end without finalising MPI or HDF5 (fflush, then _exit): every rank agreed on the failure
 * and reaches the same decision. */
int bt_store_poisoned(void);

/* Size in bytes of the committed file for this layout and metadata (within a few KB), so that
 * rank 0 can refuse a run above --max-output-gb before writing anything. Not collective: HDF5
 * measures the metadata on a few-KB scratch file in $TMPDIR (or /tmp). 0 for a bad layout. */
uint64_t bt_store_estimate_bytes(const bt_store_layout *layout, const bt_store_meta *meta);

/* BT_EINPUT naming both numbers when the file system holding dir has fewer than bytes free
 * for an unprivileged writer (statvfs f_bavail). Rank 0 calls it with the estimate above. */
int bt_store_check_space(const char *dir, uint64_t bytes, bt_error *err);

/* The layout of run.h5 as JSON, generated from the tables the writer uses: root attributes,
 * groups with their attributes, datasets with dtypes, symbolic shapes ("n,L,H", "sum(T)") and
 * the layout field that switches each on (docs/run_h5.md "Schema"). Not collective, no file
 * touched. *json is malloc'd (free it). */
int bt_store_schema_json(char **json, bt_error *err);

/* IEEE binary16 bits of x, rounding to nearest even (overflow -> inf, NaN stays NaN). */
uint16_t bt_store_f16_from_f32(float x);
void bt_store_f32_to_f16(const float *src, uint16_t *dst, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
