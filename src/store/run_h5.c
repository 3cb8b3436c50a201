/* run.h5: creation, collective writes, commit. Layout in docs/run_h5.md.
 *
 * Every dataset is contiguous, allocated at creation and never filled: its size is known up
 * front (the lengths of all examples are), each example's block in it is contiguous, and a fill
 * pass would write the whole file twice. Memory types equal file types (f16 is converted here),
 * so no HDF5 type conversion can break collective I/O. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "bertology/common.h"
#include "run_h5_internal.h"

typedef struct {
    int64_t row, k; /* file row, position in the call */
} bt_row_order;

struct bt_store {
    MPI_Comm comm;
    int rank, n_ranks;
    bt_store_layout lay;        /* copy; its pointers are not kept */
    int *lengths;               /* [n] */
    int *attn_layers, *hidden_layers;
    int64_t *off[DS_COUNT];     /* [n+1] element offsets, for the flat datasets only */
    bt_ds_desc desc[DS_COUNT];
    hid_t file, ds[DS_COUNT], f16, dxpl_coll, dxpl_rows, dxpl_tensor;
    H5E_auto2_t old_efunc;
    void *old_edata;
    /* per-call work arrays, grown to the largest call then kept */
    bt_row_order *order;        /* the call's examples sorted by row */
    int64_t *src_off;
    size_t order_cap, src_off_cap;
    void *scratch;
    size_t scratch_cap;
    char tmp_path[4096], final_path[4096];
    int io_failed;              /* an HDF5 call on the file failed here: see bt_store_abort */
};

static int g_poisoned; /* bt_store_poisoned */

/* Free space below which a close is not attempted: the metadata HDF5 flushes at close is a few
 * KB to a few hundred KB (the attributes and object headers were written at open). */
#define CLOSE_MARGIN_BYTES (1u << 20)

int bt_store_poisoned(void) { return g_poisoned; }

/* ---------------------------------------------------------------------------------------- */
/* HDF5 helpers */

static herr_t first_error(unsigned n, const H5E_error2_t *e, void *data) {
    if (n == 0) snprintf(data, 384, "%s (in %s)", e->desc ? e->desc : "?", e->func_name);
    return 0;
}

static int fsync_path(const char *path);

static int write_errno(int e) {
    return e == EIO || e == ENOSPC || e == EDQUOT || e == EROFS || e == EFBIG || e == ESTALE;
}

/* Message for a failed HDF5 call: the innermost entry of HDF5's error stack says why. */
static int h5_fail(bt_store *s, bt_error *err, const char *what, const char *obj) {
    int sys = errno; /* the failed system call's, when MPI-IO's error left nothing else */
    char why[384] = "no HDF5 error recorded";
    s->io_failed = 1;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, first_error, why);
    H5Eclear2(H5E_DEFAULT);
    /* MPI-IO's write errors (ENOSPC, EIO) do not reach HDF5's stack, or only as an MPI error
     * class ("MPI_ERR_OTHER: known error not in list" from MPI_File_sync). The system call's
     * errno is usually still there; only a write's errors are trusted (a stale errno of a
     * lookup would mislead). When it was overwritten, the file system is asked: a disk that
     * failed a write fails an fsync too (tests/cluster/test_eio.py). */
    const int none = !strcmp(why, "no HDF5 error recorded");
    if (none || strstr(why, "MPI")) {
        if (!write_errno(sys) && fsync_path(s->tmp_path)) sys = errno;
        if (write_errno(sys) && none) snprintf(why, sizeof why, "%s", strerror(sys));
        else if (write_errno(sys)) {
            char mpi[384];
            snprintf(mpi, sizeof mpi, "%s", why);
            snprintf(why, sizeof why, "%s: %.200s", strerror(sys), mpi);
        }
    }
    /* on a (nearly) full file system say so, with the free space */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", s->tmp_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    struct statvfs st;
    if (statvfs(slash ? dir : ".", &st) == 0 && (uint64_t)st.f_bavail * st.f_frsize < (1u << 20))
        snprintf(why, sizeof why, "No space left on device (%llu bytes free)",
                 (unsigned long long)st.f_bavail * st.f_frsize);
    return bt_error_set(err, BT_EINTERNAL, "%s: %s %s failed: %s", s->tmp_path, what, obj, why);
}

static hid_t mem_type(const bt_store *s, bt_h5_type t) {
    switch (t) {
    case T_I32: return H5T_NATIVE_INT32;
    case T_I64: return H5T_NATIVE_INT64;
    case T_F32: return H5T_NATIVE_FLOAT;
    case T_F64: return H5T_NATIVE_DOUBLE;
    case T_TENSOR: return s->lay.tensor_dtype == BT_STORE_F16 ? s->f16 : H5T_NATIVE_FLOAT;
    }
    return -1;
}

static hid_t file_type(const bt_store *s, bt_h5_type t) {
    switch (t) {
    case T_I32: return H5T_STD_I32LE;
    case T_I64: return H5T_STD_I64LE;
    case T_F32: return H5T_IEEE_F32LE;
    case T_F64: return H5T_IEEE_F64LE;
    case T_TENSOR: return s->lay.tensor_dtype == BT_STORE_F16 ? s->f16 : H5T_IEEE_F32LE;
    }
    return -1;
}

/* A UTF-8 variable-length string attribute, as h5py writes str (reads back as str). */
static int attr_str(hid_t loc, const char *name, const char *value) {
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR), a = -1;
    int ok = t >= 0 && sp >= 0 && H5Tset_size(t, H5T_VARIABLE) >= 0 &&
             H5Tset_cset(t, H5T_CSET_UTF8) >= 0;
    if (ok) {
        a = H5Aexists(loc, name) > 0 ? H5Aopen(loc, name, H5P_DEFAULT)
                                     : H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
        const char *v = value ? value : "";
        ok = a >= 0 && H5Awrite(a, t, &v) >= 0;
    }
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    return ok ? 0 : -1;
}

/* A numeric attribute: scalar when n == 1 and !as_array, else a 1-D array of n. */
static int attr_num(hid_t loc, const char *name, hid_t ftype, hid_t mtype, const void *v,
                    hsize_t n, int as_array) {
    hid_t sp = as_array ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR), a = -1;
    int ok = sp >= 0;
    if (ok) {
        a = H5Aexists(loc, name) > 0 ? H5Aopen(loc, name, H5P_DEFAULT)
                                     : H5Acreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
        ok = a >= 0 && H5Awrite(a, mtype, v) >= 0;
    }
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    return ok ? 0 : -1;
}

static int attr_i64(hid_t loc, const char *name, int64_t v) {
    return attr_num(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v, 1, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* MPI helpers: attributes must be written with identical values on every rank */

/* Rank 0's string s on every rank (malloc'd; NULL if rank 0 passed NULL or memory ran out).
 * Sent in fixed chunks so that a rank short of memory still makes the same MPI calls. */
static char *bcast_str(MPI_Comm comm, int rank, const char *s) {
    enum { CHUNK = 1 << 16 };
    if (comm == MPI_COMM_NULL) return s ? bt_strdup(s, "a string", NULL) : NULL; /* the size estimate's dry run */
    long long n = rank == 0 ? (s ? (long long)strlen(s) : -1) : 0;
    MPI_Bcast(&n, 1, MPI_LONG_LONG, 0, comm);
    if (n < 0) return NULL;
    char *out = bt_malloc((size_t)n + 1, 1, "a string", NULL), junk[CHUNK];
    if (rank == 0 && out) memcpy(out, s, (size_t)n);
    for (long long o = 0; o < n; o += CHUNK) {
        int len = n - o < CHUNK ? (int)(n - o) : CHUNK;
        char *dst = out ? out + o : junk;
        if (rank == 0 && !out) memcpy(junk, s + o, (size_t)len);
        MPI_Bcast(dst, len, MPI_CHAR, 0, comm);
    }
    if (out) out[n] = '\0';
    return out;
}

static int set_status(const char *path, const char *status);

/* ---------------------------------------------------------------------------------------- */
/* open */

static void close_ids(bt_store *s) {
    for (int i = 0; i < DS_COUNT; i++)
        if (s->ds[i] >= 0) {
            H5Dclose(s->ds[i]);
            s->ds[i] = -1;
        }
    if (s->f16 >= 0) H5Tclose(s->f16);
    if (s->dxpl_coll >= 0) H5Pclose(s->dxpl_coll);
    if (s->dxpl_rows >= 0) H5Pclose(s->dxpl_rows);
    if (s->dxpl_tensor >= 0) H5Pclose(s->dxpl_tensor);
    s->f16 = s->dxpl_coll = s->dxpl_rows = s->dxpl_tensor = -1;
}

static void store_free(bt_store *s) {
    if (!s) return;
    H5Eset_auto2(H5E_DEFAULT, s->old_efunc, s->old_edata);
    if (s->comm != MPI_COMM_NULL) MPI_Comm_free(&s->comm);
    for (int i = 0; i < DS_COUNT; i++) free(s->off[i]);
    free(s->lengths);
    free(s->attn_layers);
    free(s->hidden_layers);
    free(s->order);
    free(s->src_off);
    free(s->scratch);
    free(s);
}

/* Root attributes: who wrote the file, from what, with what. */
static int write_root_attrs(bt_store *s, const bt_store_meta *meta) {
    const bt_store_meta m0 = {0};
    if (!meta) meta = &m0;
    char created[64] = "", mpi[600] = "";
    if (s->rank == 0) {
        time_t now = time(NULL);
        struct tm tm;
        strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
        int ver, sub, len;
        char lib[MPI_MAX_LIBRARY_VERSION_STRING];
        MPI_Get_version(&ver, &sub);
        MPI_Get_library_version(lib, &len);
        lib[strcspn(lib, "\n")] = '\0';
        snprintf(mpi, sizeof mpi, "MPI %d.%d; %s", ver, sub, lib);
    }
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    char h5ver[32];
    snprintf(h5ver, sizeof h5ver, "%u.%u.%u", maj, min, rel);
    /* names and types: bt_run_h5_root_attrs (the schema), values here */
    const char *str[RA_COUNT] = {
        [RA_FORMAT] = BT_ROOT_FORMAT, [RA_STATUS] = "running", [RA_TASK] = meta->task,
        [RA_SPLIT] = meta->split, [RA_MODEL_DIR] = meta->model_dir,
        [RA_MODEL_CONFIG] = meta->model_config_json, [RA_OPTIONS] = meta->options_json,
        [RA_COMMAND_LINE] = meta->command_line, [RA_VERSION] = meta->program_version,
        [RA_OPENBLAS] = meta->openblas_version, [RA_HDF5] = h5ver, [RA_MPI] = mpi,
        [RA_CREATED] = created, [RA_CHECKPOINT_ID] = meta->checkpoint_id,
    };
    const int64_t num[RA_COUNT] = {
        [RA_FORMAT_VERSION] = BT_STORE_FORMAT_VERSION, [RA_N_RANKS] = s->n_ranks,
        [RA_N_LAYERS] = s->lay.n_layers, [RA_N_HEADS] = s->lay.n_heads,
        [RA_N_LABELS] = s->lay.n_labels, [RA_N_EXAMPLES] = s->lay.n_examples,
    };
    for (int i = 0; i < RA_COUNT; i++) {
        const bt_attr_desc *a = &bt_run_h5_root_attrs[i];
        if (a->type == A_I64) {
            if (attr_i64(s->file, a->name, num[i])) return -1;
            continue;
        }
        char *v = bcast_str(s->comm, s->rank, str[i]);
        int bad = attr_str(s->file, a->name, v);
        free(v);
        if (bad) return -1;
    }
    return 0;
}

/* IEEE binary16, built as h5py does so that h5py reads it as numpy float16. */
static hid_t make_f16(void) {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    if (t >= 0 && (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_size(t, 2) < 0 ||
                   H5Tset_ebias(t, 15) < 0)) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

static int create_datasets(bt_store *s, bt_error *err) {
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl < 0 || H5Pset_layout(dcpl, H5D_CONTIGUOUS) < 0 ||
        H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) < 0 ||
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0) {
        if (dcpl >= 0) H5Pclose(dcpl);
        return h5_fail(s, err, "setting up", "dataset properties");
    }
    int rc = BT_OK;
    for (int i = 0; i < DS_COUNT && !rc; i++) {
        bt_ds_desc *d = &s->desc[i];
        if (!d->present) continue;
        hid_t sp = H5Screate_simple(d->rank, d->dims, NULL);
        s->ds[i] = sp < 0 ? -1
                          : H5Dcreate2(s->file, d->path, file_type(s, d->type), sp, H5P_DEFAULT,
                                       dcpl, H5P_DEFAULT);
        if (sp >= 0) H5Sclose(sp);
        if (s->ds[i] < 0) rc = h5_fail(s, err, "creating dataset", d->path);
    }
    H5Pclose(dcpl);
    return rc;
}

/* Groups, and the attributes that describe the flat tensors and the summary counts
 * (bt_run_h5_groups: names and types; values here). */
static int group_attr(const bt_store *s, hid_t id, int group, int k) {
    const bt_group_desc *g = &bt_run_h5_groups[group];
    const bt_attr_desc *a = &g->attrs[k].a;
    const int attn = group == G_ATTENTIONS;
    switch (g->attrs[k].what) {
    case GA_N_TOKENS: case GA_N_EXAMPLES: return attr_i64(id, a->name, 0); /* set by write_summary */
    case GA_BLOCK_SHAPE: return attr_str(id, a->name, a->values);
    case GA_N_HEADS: return attr_i64(id, a->name, s->lay.n_heads);
    case GA_D_MODEL: return attr_i64(id, a->name, s->lay.d_model);
    case GA_LAYERS:
        return attr_num(id, a->name, H5T_STD_I32LE, H5T_NATIVE_INT32, attn ? s->attn_layers : s->hidden_layers,
                        (hsize_t)(attn ? s->lay.n_attn_layers : s->lay.n_hidden_layers), 1);
    case GA_DTYPE: return attr_str(id, a->name, s->lay.tensor_dtype == BT_STORE_F16 ? "float16" : "float32");
    }
    return -1;
}

static int create_groups(bt_store *s) {
    for (int i = 0; i < G_COUNT; i++) {
        if (!bt_run_h5_group_present(&s->lay, i)) continue;
        hid_t id = H5Gcreate2(s->file, bt_run_h5_groups[i].path, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (id < 0) return -1;
        int bad = 0;
        for (int k = 0; k < bt_run_h5_groups[i].n_attrs && !bad; k++) bad = group_attr(s, id, i, k);
        H5Gclose(id);
        if (bad) return -1;
    }
    return 0;
}

/* Rank 0 writes a whole small dataset; the others take part with an empty selection. */
static int write_from_root(bt_store *s, hid_t ds, hid_t mtype, const void *buf) {
    hid_t fs = H5Dget_space(ds);
    if (fs < 0) return -1;
    if (H5Sget_simple_extent_npoints(fs) == 0) { /* nothing to write (same on every rank) */
        H5Sclose(fs);
        return 0;
    }
    hid_t ms = H5Scopy(fs);
    if (s->rank != 0) {
        H5Sselect_none(fs);
        H5Sselect_none(ms);
    }
    static const char dummy[8];
    herr_t r = H5Dwrite(ds, mtype, ms, fs, s->dxpl_coll, s->rank == 0 ? buf : dummy);
    H5Sclose(ms);
    H5Sclose(fs);
    return r < 0 ? -1 : 0;
}

/* rc of a collective step, made every rank's: a step whose write failed on one rank only (rank 0
 * writes what write_from_root writes; a full file system fails it alone) must not let the others
 * go on into the next collective call while it leaves. */
static int agreed(bt_store *s, int rc, bt_error *err) {
    int any = rc;
    MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, s->comm);
    if (any && !rc) {
        s->io_failed = 1;
        return bt_error_set(err, any, "%s: a write failed on another rank", s->tmp_path);
    }
    return rc;
}

/* The store's state with every id closed, its communicator and the temporary file's name, the
 * same on every rank: the job id under Slurm, else rank 0's pid. Frees s on failure. */
static int store_new(const char *final_path, MPI_Comm comm, bt_store **out, bt_error *err) {
    bt_store *s = *out = bt_calloc(1, sizeof *s, "run.h5", NULL);
    /* every rank must fail together, or the others wait forever in the collectives that follow */
    int ok = s != NULL, all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm);
    if (!all_ok) {
        free(s);
        *out = NULL;
        return bt_error_set(err, BT_EINTERNAL, "%s: out of memory%s", final_path, ok ? " on another rank" : "");
    }
    s->comm = MPI_COMM_NULL;
    s->file = s->f16 = s->dxpl_coll = s->dxpl_rows = s->dxpl_tensor = -1;
    for (int i = 0; i < DS_COUNT; i++) s->ds[i] = -1;
    /* the library never prints: HDF5's automatic error report is off while a store is open */
    H5Eget_auto2(H5E_DEFAULT, &s->old_efunc, &s->old_edata);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    MPI_Comm_dup(comm, &s->comm);
    MPI_Comm_rank(s->comm, &s->rank);
    MPI_Comm_size(s->comm, &s->n_ranks);
    snprintf(s->final_path, sizeof s->final_path, "%s", final_path);
    char tmp[4200] = "";
    if (s->rank == 0) {
        const char *job = getenv("SLURM_JOB_ID");
        if (job && *job && strlen(job) < 32 && !strchr(job, '/'))
            snprintf(tmp, sizeof tmp, "%s.tmp-%s", final_path, job);
        else
            snprintf(tmp, sizeof tmp, "%s.tmp-%ld", final_path, (long)getpid());
    }
    MPI_Bcast(tmp, sizeof tmp, MPI_CHAR, 0, s->comm);
    if (strlen(tmp) >= sizeof s->tmp_path) {
        store_free(s);
        *out = NULL;
        return bt_error_set(err, BT_EINPUT, "%s: output path too long", final_path);
    }
    memcpy(s->tmp_path, tmp, strlen(tmp) + 1);
    return BT_OK;
}

/* The store's own copy of the layout's arrays, and the per-example offsets they give. */
static int copy_layout(bt_store *s, const bt_store_layout *layout, bt_error *err) {
    s->lay = *layout;
    s->lay.lengths = s->lay.attn_layers = s->lay.hidden_layers = NULL;
    bt_run_h5_describe(layout, s->desc);
    int64_t n = layout->n_examples;
    s->lengths = bt_malloc((size_t)n, sizeof(int), "the layout", NULL);
    /* the flat datasets' offsets; the rollout's are the tokens' (kept twice: each off[] is freed) */
    static const int flat[] = {DS_TOKEN_IDS, DS_ATTN, DS_HID, DS_ATTRIB, DS_ROLLOUT};
    int ok = s->lengths != NULL;
    for (size_t k = 0; k < sizeof flat / sizeof flat[0]; k++) {
        s->off[flat[k]] = bt_malloc((size_t)n + 1, sizeof(int64_t), "the layout", NULL);
        ok = ok && s->off[flat[k]];
    }
    s->attn_layers = bt_malloc((size_t)layout->n_attn_layers + 1, sizeof(int), "the layout", NULL);
    s->hidden_layers = bt_malloc((size_t)layout->n_hidden_layers + 1, sizeof(int), "the layout", NULL);
    ok = ok && s->attn_layers && s->hidden_layers;
    int all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, s->comm);
    if (!all_ok)
        return bt_error_set(err, BT_EINTERNAL, "%s: out of memory for %lld examples%s",
                            s->final_path, (long long)n, ok ? " on another rank" : "");
    if (n) memcpy(s->lengths, layout->lengths, sizeof(int) * (size_t)n);
    bt_run_h5_offsets(layout, s->off[DS_TOKEN_IDS], s->off[DS_ATTN], s->off[DS_HID], s->off[DS_ATTRIB]);
    memcpy(s->off[DS_ROLLOUT], s->off[DS_TOKEN_IDS], sizeof(int64_t) * ((size_t)n + 1));
    if (layout->n_attn_layers)
        memcpy(s->attn_layers, layout->attn_layers, sizeof(int) * layout->n_attn_layers);
    if (layout->n_hidden_layers)
        memcpy(s->hidden_layers, layout->hidden_layers, sizeof(int) * layout->n_hidden_layers);
    return BT_OK;
}

/* The temporary file (collective create, or open of an interrupted run's file to resume it), the
 * f16 type and the transfer properties. */
static int create_file(bt_store *s, const bt_store_layout *layout, int reopen, bt_error *err) {
    int rc = BT_OK;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* v18 object headers: attributes above 64 KB (a long model config) go to dense storage;
     * still readable by HDF5 1.8. Metadata I/O collective: no per-rank small reads/writes. */
    if (fapl < 0 || H5Pset_fapl_mpio(fapl, s->comm, MPI_INFO_NULL) < 0 ||
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) < 0 ||
        H5Pset_all_coll_metadata_ops(fapl, 1) < 0 || H5Pset_coll_metadata_write(fapl, 1) < 0) {
        rc = h5_fail(s, err, "setting up", "MPI-IO file access");
    } else {
        s->file = reopen ? H5Fopen(s->tmp_path, H5F_ACC_RDWR, fapl)
                         : H5Fcreate(s->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        if (s->file < 0) rc = h5_fail(s, err, reopen ? "reopening" : "creating", "the file");
    }
    if (fapl >= 0) H5Pclose(fapl);
    if (rc) return rc;
    s->f16 = make_f16();
    s->dxpl_coll = H5Pcreate(H5P_DATASET_XFER);
    s->dxpl_rows = H5Pcreate(H5P_DATASET_XFER);
    s->dxpl_tensor = H5Pcreate(H5P_DATASET_XFER);
    int coll = layout->io_mode == BT_STORE_IO_COLLECTIVE;
    H5FD_mpio_xfer_t rows = coll ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT;
    /* The tensors' per-example blocks are large and contiguous: each rank writes its own
     * with individual MPI-IO under the collective call (two-phase buffering would only
     * copy them through an aggregator: 30% slower, docs/run_h5.md). The small per-example
     * rows interleave across ranks, which is what two-phase collective I/O is for. */
    if (s->f16 < 0 || s->dxpl_coll < 0 || s->dxpl_rows < 0 || s->dxpl_tensor < 0 ||
        H5Pset_dxpl_mpio(s->dxpl_coll, H5FD_MPIO_COLLECTIVE) < 0 ||
        H5Pset_dxpl_mpio(s->dxpl_rows, rows) < 0 ||
        H5Pset_dxpl_mpio(s->dxpl_tensor, rows) < 0 ||
        (coll &&
         H5Pset_dxpl_mpio_collective_opt(s->dxpl_tensor, H5FD_MPIO_INDIVIDUAL_IO) < 0))
        return h5_fail(s, err, "setting up", "types and transfer properties");
    return BT_OK;
}

static int close_is_unsafe(bt_store *s, char *why, size_t n);
static void drop_unclosable(bt_store *s);

/* The end of an open or reopen (every rank with the same verdict: agreed): the store, or on
 * failure nothing (ids closed, s freed; a file that a failed write left unclosable removed
 * unclosed, as in store_end). */
static int opened(bt_store *s, int rc, bt_store **out) {
    if (!rc) {
        *out = s;
        return BT_OK;
    }
    char why[128];
    if (close_is_unsafe(s, why, sizeof why)) { /* collective: on every rank, open file or not */
        drop_unclosable(s);
        return rc;
    }
    close_ids(s);
    if (s->file >= 0) H5Fclose(s->file);
    H5Eclear2(H5E_DEFAULT);
    store_free(s);
    return rc;
}

int bt_store_open(const char *final_path, MPI_Comm comm, const bt_store_layout *layout,
                  const bt_store_meta *meta, bt_store **out, bt_error *err) {
    *out = NULL;
    int rc = bt_run_h5_check_layout(layout, err);
    if (rc) return rc;
    bt_store *s;
    rc = store_new(final_path, comm, &s, err);
    if (rc) return rc;
    rc = copy_layout(s, layout, err);
    if (rc) {
        store_free(s);
        return rc;
    }
    /* each step collective: its failure agreed before the next */
    rc = agreed(s, create_file(s, layout, 0, err), err);
    if (!rc) rc = agreed(s, write_root_attrs(s, meta) ? h5_fail(s, err, "writing", "root attributes") : BT_OK, err);
    if (!rc) rc = agreed(s, create_groups(s) ? h5_fail(s, err, "creating", "groups") : BT_OK, err);
    if (!rc) rc = agreed(s, create_datasets(s, err), err);
    /* what the layout alone determines: lengths and offsets */
    const struct {
        int ds;
        hid_t type;
        const void *buf;
    } fixed[] = {{DS_LENGTH, H5T_NATIVE_INT32, s->lengths}, {DS_TOKEN_OFFSET, H5T_NATIVE_INT64, s->off[DS_TOKEN_IDS]},
                 {DS_ATTN_OFFSET, H5T_NATIVE_INT64, s->off[DS_ATTN]}, {DS_HID_OFFSET, H5T_NATIVE_INT64, s->off[DS_HID]},
                 {DS_ATTRIB_OFFSET, H5T_NATIVE_INT64, s->off[DS_ATTRIB]}};
    for (size_t i = 0; !rc && i < sizeof fixed / sizeof fixed[0]; i++)
        if (s->ds[fixed[i].ds] >= 0)
            rc = agreed(s, write_from_root(s, s->ds[fixed[i].ds], fixed[i].type, fixed[i].buf)
                               ? h5_fail(s, err, "writing", "lengths and offsets") : BT_OK, err);
    return opened(s, rc, out);
}

const char *bt_store_tmp_path(const bt_store *s) { return s->tmp_path; }

/* A string attribute of the root ("" if missing). Every rank reads it: metadata reads are
 * collective in this file (H5Pset_all_coll_metadata_ops). */
static void read_root_str(bt_store *s, const char *name, char *buf, size_t n) {
    buf[0] = '\0';
    if (H5Aexists(s->file, name) > 0) {
        hid_t a = H5Aopen(s->file, name, H5P_DEFAULT), t = a >= 0 ? H5Aget_type(a) : -1;
        char *v = NULL;
        if (t >= 0 && H5Tis_variable_str(t) > 0 && H5Aread(a, t, &v) >= 0 && v) {
            snprintf(buf, n, "%s", v);
            H5free_memory(v);
        }
        if (t >= 0) H5Tclose(t);
        if (a >= 0) H5Aclose(a);
    }
    H5Eclear2(H5E_DEFAULT);
}

/* Opens the datasets of the layout in a reopened file, each with the dims the layout gives. */
static int open_datasets(bt_store *s, bt_error *err) {
    for (int i = 0; i < DS_COUNT; i++) {
        const bt_ds_desc *d = &s->desc[i];
        if (!d->present) continue;
        s->ds[i] = H5Dopen2(s->file, d->path, H5P_DEFAULT);
        if (s->ds[i] < 0) return h5_fail(s, err, "opening dataset", d->path);
        hid_t sp = H5Dget_space(s->ds[i]);
        hsize_t dims[3] = {0, 0, 0};
        const int r = sp >= 0 ? H5Sget_simple_extent_dims(sp, dims, NULL) : -1;
        if (sp >= 0) H5Sclose(sp);
        int same = r == d->rank;
        for (int k = 0; same && k < r; k++) same = dims[k] == d->dims[k];
        if (!same)
            return bt_error_set(err, BT_EINPUT, "%s: %s has other dimensions than this run needs: the file belongs to "
                                "another run", s->tmp_path, d->path);
    }
    return BT_OK;
}

int bt_store_reopen(const char *tmp_path, const char *final_path, MPI_Comm comm, const bt_store_layout *layout,
                    const char *checkpoint_id, bt_store **out, bt_error *err) {
    *out = NULL;
    int rc = bt_run_h5_check_layout(layout, err);
    if (rc) return rc;
    bt_store *s;
    rc = store_new(final_path, comm, &s, err);
    if (rc) return rc;
    if (strlen(tmp_path) >= sizeof s->tmp_path) rc = bt_error_set(err, BT_EINPUT, "%s: path too long", tmp_path);
    else snprintf(s->tmp_path, sizeof s->tmp_path, "%s", tmp_path);
    if (!rc) rc = copy_layout(s, layout, err);
    if (!rc) rc = agreed(s, create_file(s, layout, 1, err), err);
    if (!rc) {
        char fmt[64], id[128];
        read_root_str(s, "format", fmt, sizeof fmt);
        read_root_str(s, "checkpoint_id", id, sizeof id);
        if (strcmp(fmt, BT_ROOT_FORMAT) || strcmp(id, checkpoint_id ? checkpoint_id : ""))
            rc = bt_error_set(err, BT_EINPUT, "%s is not the file of the checkpoint %s (its checkpoint_id is '%s')", s->tmp_path, checkpoint_id, id);
    }
    if (!rc) rc = agreed(s, open_datasets(s, err), err);
    if (!rc) rc = agreed(s, attr_str(s->file, "status", "running") ? h5_fail(s, err, "writing", "the status") : BT_OK, err);
    return opened(s, rc, out);
}


int bt_store_flush(bt_store *s, bt_error *err) {
    /* The flush writes HDF5's metadata as a close does, and fails as a close does on a full file
     * system: one rank's write fails while the others wait in HDF5 for it. Not attempted then;
     * the caller's abort ends the file. */
    char why[128];
    if (close_is_unsafe(s, why, sizeof why)) {
        s->io_failed = 1;
        return bt_error_set(err, BT_EINTERNAL, "%s: cannot flush the file: %s", s->tmp_path, why);
    }
    /* metadata (dirty only at open and at the summary: the datasets were allocated at open) and
     * MPI_File_sync of the rows written so far */
    int bad = H5Fflush(s->file, H5F_SCOPE_GLOBAL) < 0, any = 0;
    int rc = bad ? h5_fail(s, err, "flushing", "the file") : BT_OK;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, s->comm);
    if (any && !rc) rc = bt_error_set(err, BT_EINTERNAL, "%s: flushing failed on another rank", s->tmp_path);
    return rc;
}

static uint64_t meta_bytes(const bt_store_meta *m) {
    if (!m) return 0;
    const char *v[] = {m->task, m->split, m->model_dir, m->model_config_json, m->options_json,
                       m->command_line, m->program_version, m->openblas_version};
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n += v[i] ? strlen(v[i]) : 0;
    return n;
}

/* The metadata's size depends on HDF5 internals (object headers, heaps, the global heap
 * collections that hold the strings, free space left in aggregator blocks), so HDF5 measures
 * it: the same groups, attributes and datasets, with zero-sized datasets, are written to a
 * scratch file in $TMPDIR (a few KB); it is closed, reopened to set the status as commit does,
 * and its size plus the datasets' raw bytes is the estimate. */
uint64_t bt_store_estimate_bytes(const bt_store_layout *layout, const bt_store_meta *meta) {
    if (bt_run_h5_check_layout(layout, NULL)) return 0;
    uint64_t raw = bt_run_h5_raw_bytes(layout);
    bt_store s = {.comm = MPI_COMM_NULL, .rank = 0, .n_ranks = 1, .lay = *layout,
                  .attn_layers = (int *)layout->attn_layers,
                  .hidden_layers = (int *)layout->hidden_layers};
    static int serial;
    const char *dir = getenv("TMPDIR");
    snprintf(s.tmp_path, sizeof s.tmp_path, "%s/bt_store_estimate.%ld.%d.h5",
             dir && *dir ? dir : "/tmp", (long)getpid(), serial++);
    bt_run_h5_describe(layout, s.desc);
    for (int i = 0; i < DS_COUNT; i++) {
        s.desc[i].dims[0] = 0; /* same headers, no data */
        s.ds[i] = -1;
    }
    H5E_auto2_t efunc;
    void *edata;
    H5Eget_auto2(H5E_DEFAULT, &efunc, &edata);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
    s.file = H5Fcreate(s.tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    s.f16 = make_f16();
    int bad = s.file < 0 || s.f16 < 0 || write_root_attrs(&s, meta) || create_groups(&s) ||
              create_datasets(&s, NULL);
    for (int i = 0; i < DS_COUNT; i++)
        if (s.ds[i] >= 0) H5Dclose(s.ds[i]);
    if (s.f16 >= 0) H5Tclose(s.f16);
    if (s.file >= 0 && H5Fclose(s.file) < 0) bad = 1;
    H5Pclose(fapl);
    struct stat st;
    if (bad || set_status(s.tmp_path, "complete") || stat(s.tmp_path, &st)) bad = 1;
    unlink(s.tmp_path);
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, efunc, edata);
    /* without HDF5's answer (no writable $TMPDIR), a generous allowance for the metadata */
    return raw + (bad ? 65536 + 2 * meta_bytes(meta) : (uint64_t)st.st_size);
}

/* ---------------------------------------------------------------------------------------- */
/* per-example rows */

/* Elements of dataset id that example row r owns. */
static int64_t row_elems(const bt_store *s, int id, int64_t r) {
    const bt_ds_desc *d = &s->desc[id];
    if (d->kind == K_ROW) return d->per_row;
    return s->off[id][r + 1] - s->off[id][r];
}

static int grow(void **p, size_t *cap, size_t need) {
    return bt_grow(p, cap, need, 1, "a batch's rows", NULL) ? -1 : 0;
}

static int by_row(const void *a, const void *b) {
    int64_t x = ((const bt_row_order *)a)->row, y = ((const bt_row_order *)b)->row;
    return (x > y) - (x < y);
}

/* Validates a call and sorts its examples by row into s->order; local, no communication. */
static int prepare_rows(bt_store *s, const bt_store_rows *r, bt_error *err) {
    if (r->n < 0) return bt_error_set(err, BT_EINTERNAL, "%s: write of %d rows", s->tmp_path,
                                      r->n);
    if (r->n == 0) return BT_OK;
    if (!r->rows) return bt_error_set(err, BT_EINTERNAL, "%s: rows is NULL", s->tmp_path);
    if (grow((void **)&s->order, &s->order_cap, sizeof(bt_row_order) * r->n) ||
        grow((void **)&s->src_off, &s->src_off_cap, sizeof(int64_t) * r->n))
        return bt_error_set(err, BT_EINTERNAL, "%s: out of memory", s->tmp_path);
    for (int i = 0; i < r->n; i++) {
        if (r->rows[i] < 0 || r->rows[i] >= s->lay.n_examples)
            return bt_error_set(err, BT_EINTERNAL, "%s: rows[%d] = %lld outside 0..%lld",
                                s->tmp_path, i, (long long)r->rows[i],
                                (long long)s->lay.n_examples - 1);
        s->order[i] = (bt_row_order){r->rows[i], i};
    }
    qsort(s->order, (size_t)r->n, sizeof *s->order, by_row);
    for (int i = 1; i < r->n; i++)
        if (s->order[i].row == s->order[i - 1].row)
            return bt_error_set(err, BT_EINTERNAL, "%s: row %lld written twice in one call",
                                s->tmp_path, (long long)s->order[i].row);
    return BT_OK;
}

static const void *rows_field(const bt_store *s, const bt_store_rows *r, int id) {
    switch (id) {
    case DS_INDEX: return r->index;
    case DS_TOKEN_IDS: return r->token_ids;
    case DS_LABEL: return s->lay.regression ? (const void *)r->targets : (const void *)r->labels;
    case DS_LOGITS: return r->logits;
    case DS_LOSS: return r->loss;
    case DS_GATE_GRAD: return r->gate_grad;
    case DS_ENTROPY: return r->entropy;
    case DS_ATTN: return r->attentions;
    case DS_HID: return r->hidden;
    case DS_ATTR_MAX: return r->attr_max;
    case DS_ATTRIB: return r->attributions;
    case DS_ROLLOUT: return r->rollout;
    }
    return NULL; /* written at open or by the summary */
}

/* The file selection of the call's rows in dataset id: one hyperslab per run of consecutive
 * rows (consecutive rows are adjacent blocks in every dataset). */
static hid_t select_rows(const bt_store *s, int id, int n) {
    hid_t fs = H5Dget_space(s->ds[id]);
    if (fs < 0) return -1;
    H5Sselect_none(fs);
    const bt_ds_desc *d = &s->desc[id];
    for (int i = 0; i < n;) {
        int64_t r0 = s->order[i].row;
        int j = i + 1;
        while (j < n && s->order[j].row == r0 + (j - i)) j++;
        int64_t len = j - i;
        hsize_t start[3] = {0, 0, 0}, count[3] = {0, 0, 0};
        if (d->kind == K_ROW) {
            start[0] = (hsize_t)r0;
            count[0] = (hsize_t)len;
            for (int k = 1; k < d->rank; k++) count[k] = d->dims[k];
        } else {
            start[0] = (hsize_t)s->off[id][r0];
            count[0] = (hsize_t)(s->off[id][r0 + len] - s->off[id][r0]);
        }
        if (count[0] && H5Sselect_hyperslab(fs, H5S_SELECT_OR, start, NULL, count, NULL) < 0) {
            H5Sclose(fs);
            return -1;
        }
        i = j;
    }
    return fs;
}

/* Writes one dataset's part of a call. n == 0 or src == NULL: an empty collective part. */
static int write_rows_ds(bt_store *s, int id, const bt_store_rows *r, int n, const void *src,
                         bt_error *err) {
    const bt_ds_desc *d = &s->desc[id];
    if (d->dims[0] == 0) return BT_OK; /* an empty dataset: every rank skips it */
    int isz = bt_run_h5_type_size(&s->lay, d->type);
    int f16 = d->type == T_TENSOR && s->lay.tensor_dtype == BT_STORE_F16;
    if (!src) n = 0;
    int64_t total = 0, sorted = 1;
    for (int i = 0; i < n; i++) {
        s->src_off[i] = total; /* in call order */
        total += row_elems(s, id, r->rows[i]);
        if (i && r->rows[i] < r->rows[i - 1]) sorted = 0;
    }
    const void *buf = src;
    int oom = 0;
    if (n && (f16 || !sorted)) { /* gather in row order (and convert) into scratch */
        if (grow(&s->scratch, &s->scratch_cap, (size_t)total * isz + 1)) {
            oom = bt_error_set(err, BT_EINTERNAL, "%s: %s: out of memory for %lld bytes",
                               s->tmp_path, d->path, (long long)total * isz);
            n = 0; /* still take part in the collective */
        } else {
            char *dst = s->scratch;
            const int src_isz = f16 ? 4 : isz;
            for (int i = 0; i < n; i++) {
                int64_t k = s->order[i].k, m = row_elems(s, id, s->order[i].row);
                const char *from = (const char *)src + s->src_off[k] * src_isz;
                if (f16) bt_store_f32_to_f16((const float *)(const void *)from,
                                             (uint16_t *)(void *)dst, m);
                else memcpy(dst, from, (size_t)m * isz);
                dst += m * isz;
            }
            buf = s->scratch;
        }
    }
    hid_t fs = select_rows(s, id, n);
    hsize_t count = n ? (hsize_t)total : 1;
    hid_t ms = H5Screate_simple(1, &count, NULL);
    if (ms >= 0 && !n) H5Sselect_none(ms);
    static const char dummy[8];
    herr_t w = fs < 0 || ms < 0 ? -1
                                : H5Dwrite(s->ds[id], mem_type(s, d->type), ms, fs,
                                           d->type == T_TENSOR ? s->dxpl_tensor : s->dxpl_rows,
                                           n ? buf : dummy);
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    return w < 0 ? h5_fail(s, err, "writing", d->path) : oom;
}

int bt_store_write_examples(bt_store *s, const bt_store_rows *r, bt_error *err) {
    static const bt_store_rows none = {0};
    /* an invalid call still takes part (with nothing) so that no other rank hangs */
    int rc = prepare_rows(s, r ? r : &none, err);
    if (rc || !r) r = &none;
    for (int id = 0; id < DS_COUNT; id++) {
        if (!s->desc[id].present || s->desc[id].kind == K_SMALL) continue;
        if (id == DS_LENGTH || id == DS_TOKEN_OFFSET || id == DS_ATTN_OFFSET ||
            id == DS_HID_OFFSET || id == DS_ATTRIB_OFFSET)
            continue;
        const void *src = rows_field(s, r, id);
        if (s->lay.io_mode != BT_STORE_IO_COLLECTIVE && (!src || !r->n)) continue;
        int e = write_rows_ds(s, id, r, r->n, src, rc ? NULL : err);
        if (!rc) rc = e;
    }
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* summary, extra arrays */

int bt_store_write_summary(bt_store *s, const bt_store_summary *sum, bt_error *err) {
    static const bt_store_summary none = {0};
    if (!sum) sum = &none;
    /* rank 0 decides what is written; everyone needs the same list to make the same calls */
    enum { MAX_METRICS = 256 };
    int nm = sum->n_metrics;
    if (nm < 0 || nm > MAX_METRICS || (nm && (!sum->metric_names || !sum->metric_values))) nm = 0;
    long long hdr[5] = {0, sum->n_tokens, sum->n_examples, nm, nm != sum->n_metrics};
    const void *src[5] = {sum->importance_raw, sum->importance_norm, sum->importance_rank,
                          sum->entropy_raw, sum->entropy_norm};
    const int ids[5] = {DS_IMP_RAW, DS_IMP_NORM, DS_IMP_RANK, DS_ENT_RAW, DS_ENT_NORM};
    for (int i = 0; i < 5; i++)
        if (src[i]) hdr[0] |= 1 << i;
    MPI_Bcast(hdr, 5, MPI_LONG_LONG, 0, s->comm);
    int rc = hdr[4] ? bt_error_set(err, BT_EINTERNAL, "%s: summary: %d metrics without names "
                                   "or values (at most %d)", s->tmp_path, sum->n_metrics,
                                   MAX_METRICS)
                    : BT_OK;
    for (int i = 0; i < 5; i++) {
        if (!(hdr[0] >> i & 1)) continue;
        const bt_ds_desc *d = &s->desc[ids[i]];
        if (write_from_root(s, s->ds[ids[i]], mem_type(s, d->type), src[i]) && !rc)
            rc = h5_fail(s, err, "writing", d->path);
    }
    const int counted[2] = {G_IMPORTANCE, G_ENTROPY};
    for (int i = 0; i < 2; i++) {
        const bt_group_desc *gd = &bt_run_h5_groups[counted[i]];
        hid_t g = H5Gopen2(s->file, gd->path, H5P_DEFAULT);
        for (int k = 0; k < gd->n_attrs; k++) {
            const int64_t v = gd->attrs[k].what == GA_N_TOKENS ? hdr[1] : hdr[2]; /* GA_N_EXAMPLES */
            if ((g < 0 || attr_i64(g, gd->attrs[k].a.name, v)) && !rc)
                rc = h5_fail(s, err, "writing counts of", gd->path);
        }
        if (g >= 0) H5Gclose(g);
    }
    nm = (int)hdr[3];
    double vals[MAX_METRICS];
    if (s->rank == 0 && nm > 0) memcpy(vals, sum->metric_values, sizeof(double) * nm);
    if (nm > 0) MPI_Bcast(vals, nm, MPI_DOUBLE, 0, s->comm);
    hid_t g = H5Gopen2(s->file, bt_run_h5_groups[G_METRICS].path, H5P_DEFAULT);
    for (int i = 0; i < nm; i++) {
        char *name = bcast_str(s->comm, s->rank, s->rank == 0 ? sum->metric_names[i] : NULL);
        if ((g < 0 || !name || !*name ||
             attr_num(g, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &vals[i], 1, 0)) && !rc)
            rc = name && *name ? h5_fail(s, err, "writing metric", name)
                               : bt_error_set(err, BT_EINTERNAL, "%s: metric %d has no name",
                                              s->tmp_path, i);
        free(name);
    }
    if (g >= 0) H5Gclose(g);
    return rc;
}

int bt_store_write_array(bt_store *s, const char *path, bt_npy_dtype dtype, int ndim,
                         const int64_t *shape, const void *data, bt_error *err) {
    long long hdr[2 + BT_NPY_MAX_DIMS] = {dtype, ndim};
    if (s->rank == 0)
        for (int i = 0; i < ndim && i < BT_NPY_MAX_DIMS; i++) hdr[2 + i] = shape[i];
    MPI_Bcast(hdr, 2 + BT_NPY_MAX_DIMS, MPI_LONG_LONG, 0, s->comm);
    char *p = bcast_str(s->comm, s->rank, path);
    static const bt_h5_type map[] = {T_F32, T_F64, T_I32, T_I64};
    int rc = BT_OK;
    if (!p || p[0] != '/' || hdr[0] < 0 || hdr[0] > 3 || hdr[1] < 0 || hdr[1] > BT_NPY_MAX_DIMS)
        rc = bt_error_set(err, BT_EINTERNAL, "%s: extra array '%s': bad path, dtype or rank",
                          s->tmp_path, p ? p : "(null)");
    hsize_t dims[BT_NPY_MAX_DIMS];
    for (int i = 0; !rc && i < hdr[1]; i++) {
        if (hdr[2 + i] < 0) rc = bt_error_set(err, BT_EINTERNAL, "%s: %s: negative dimension",
                                              s->tmp_path, p);
        dims[i] = (hsize_t)hdr[2 + i];
    }
    if (!rc) {
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_create_intermediate_group(lcpl, 1);
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
        hid_t sp = hdr[1] ? H5Screate_simple((int)hdr[1], dims, NULL) : H5Screate(H5S_SCALAR);
        /* a resumed run's file may hold it already: its first run was killed after the close
         * that wrote its summary, before the rename (its shape may differ: written anew) */
        const htri_t there = H5Lexists(s->file, p, H5P_DEFAULT);
        if (there < 0 || (there > 0 && H5Ldelete(s->file, p, H5P_DEFAULT) < 0)) H5Eclear2(H5E_DEFAULT);
        hid_t ds = H5Dcreate2(s->file, p, file_type(s, map[hdr[0]]), sp, lcpl, dcpl, H5P_DEFAULT);
        if (ds < 0 || write_from_root(s, ds, mem_type(s, map[hdr[0]]), data))
            rc = h5_fail(s, err, "writing extra array", p);
        if (ds >= 0) H5Dclose(ds);
        H5Sclose(sp);
        H5Pclose(dcpl);
        H5Pclose(lcpl);
    }
    free(p);
    return rc;
}

int bt_store_write_strings(bt_store *s, const char *path, const char *attr, int n, const char *const *strs,
                           bt_error *err) {
    long long nn = s->rank == 0 ? n : 0;
    MPI_Bcast(&nn, 1, MPI_LONG_LONG, 0, s->comm);
    char *p = bcast_str(s->comm, s->rank, path), *a = bcast_str(s->comm, s->rank, attr);
    char **v = bt_calloc((size_t)(nn > 0 ? nn : 1), sizeof *v, "strings", NULL);
    int ok = p && a && v && p[0] == '/' && nn >= 0;
    for (long long i = 0; i < nn; i++) {
        v[i] = bcast_str(s->comm, s->rank, s->rank == 0 ? strs[i] : NULL);
        ok = ok && v[i];
    }
    hid_t obj = -1, t = -1, sp = -1, at = -1;
    if (ok) {
        /* the object: an existing dataset or group, else a new group */
        if (H5Lexists(s->file, p, H5P_DEFAULT) > 0) obj = H5Oopen(s->file, p, H5P_DEFAULT);
        else {
            hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
            H5Pset_create_intermediate_group(lcpl, 1);
            obj = H5Gcreate2(s->file, p, lcpl, H5P_DEFAULT, H5P_DEFAULT);
            H5Pclose(lcpl);
        }
        hsize_t dim = (hsize_t)nn;
        t = H5Tcopy(H5T_C_S1);
        sp = H5Screate_simple(1, &dim, NULL);
        ok = obj >= 0 && t >= 0 && sp >= 0 && H5Tset_size(t, H5T_VARIABLE) >= 0 &&
             H5Tset_cset(t, H5T_CSET_UTF8) >= 0;
        /* replaced if there (a resumed run's file, as for bt_store_write_array) */
        if (ok && H5Aexists(obj, a) > 0) ok = H5Adelete(obj, a) >= 0;
        if (ok) at = H5Acreate2(obj, a, t, sp, H5P_DEFAULT, H5P_DEFAULT);
        ok = ok && at >= 0 && H5Awrite(at, t, v) >= 0;
    }
    const int rc = ok ? BT_OK : h5_fail(s, err, "writing string attribute of", p ? p : "(null)");
    if (at >= 0) H5Aclose(at);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (obj >= 0) H5Oclose(obj);
    for (long long i = 0; i < nn; i++) free(v[i]);
    free(v), free(p), free(a);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* commit / abort */

/* Rank 0 alone, after the collective close: rewrite the status attribute. */
/* 0, or 1: failed, or 2: the close failed (the file stays open inside HDF5: see
 * drop_if_close_failed). */
static int set_status(const char *path, const char *status) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    int bad = f < 0 || attr_str(f, "status", status);
    if (f >= 0 && H5Fclose(f) < 0) return 2;
    return bad;
}

static int fsync_path(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* Whether H5Fclose may run (collective): not after a failed write on any rank, and not when the
 * file system is so full that the metadata HDF5 flushes at close might not fit (the flush cannot
 * fail safely: see bt_store_abort). Fills why on every rank when it may not. */
static int close_is_unsafe(bt_store *s, char *why, size_t n) {
    int v[2] = {s->io_failed, 0};
    uint64_t avail = UINT64_MAX;
    if (s->rank == 0) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", s->tmp_path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        struct statvfs st;
        if (statvfs(slash ? dir : ".", &st) == 0) avail = (uint64_t)st.f_bavail * st.f_frsize;
        v[1] = avail < CLOSE_MARGIN_BYTES;
    }
    int any[2];
    MPI_Allreduce(v, any, 2, MPI_INT, MPI_MAX, s->comm);
    MPI_Bcast(&avail, 1, MPI_UINT64_T, 0, s->comm);
    if (any[0]) snprintf(why, n, "a write failed");
    else if (any[1]) snprintf(why, n, "No space left on device (%llu bytes free)", (unsigned long long)avail);
    return any[0] || any[1];
}

/* Ends a file that cannot be closed: rank 0 removes it, nobody closes it (bt_store_poisoned). */
static void drop_unclosable(bt_store *s) {
    if (s->rank == 0) unlink(s->tmp_path);
    g_poisoned = 1;
    MPI_Barrier(s->comm);
    store_free(s);
}

/* A close that failed (EIO from the flush or the close() underneath, tests/cluster/test_eio.py)
 * leaves the file open inside HDF5, which closes it again inside MPI_Finalize and crashes: the
 * file is worthless, rank 0 removes it and the process ends without finalising. lost: this
 * rank's close (or rank 0's reopen to set the status) failed; collective. */
static int drop_if_close_failed(bt_store *s, int lost) {
    int any = 0;
    MPI_Allreduce(&lost, &any, 1, MPI_INT, MPI_MAX, s->comm);
    if (any) {
        if (s->rank == 0) unlink(s->tmp_path);
        g_poisoned = 1;
    }
    return any;
}

int bt_store_commit(bt_store *s, bt_error *err) {
    bt_error e = {BT_OK, ""}; /* rank 0's outcome, sent to every rank */
    char why[128];
    if (close_is_unsafe(s, why, sizeof why)) {
        bt_error_set(err, BT_EINTERNAL, "%s: cannot close the file: %s", s->tmp_path, why);
        drop_unclosable(s);
        return BT_EINTERNAL;
    }
    close_ids(s);
    int rc = H5Fclose(s->file) < 0 ? h5_fail(s, &e, "closing", "the file") : BT_OK;
    s->file = -1;
    int any, marked = 0;
    MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MAX, s->comm);
    if (s->rank == 0) {
        if (any && !rc) {
            bt_error_set(&e, any, "%s: closing failed on another rank", s->tmp_path);
        } else if (any) {
            /* e holds rank 0's own close failure */
        } else if ((marked = set_status(s->tmp_path, "complete")) != 0) {
            h5_fail(s, &e, "marking complete", "the file");
        } else if (fsync_path(s->tmp_path) || rename(s->tmp_path, s->final_path)) {
            bt_error_set(&e, BT_EINTERNAL, "%s: cannot sync and rename to %s: %s", s->tmp_path,
                         s->final_path, strerror(errno));
            unlink(s->tmp_path); /* marked complete but not durable: it must not look complete */
        } else {
            /* make the rename itself durable */
            char dir[4096];
            memcpy(dir, s->final_path, sizeof dir);
            char *slash = strrchr(dir, '/');
            if (slash) *slash = '\0';
            fsync_path(slash ? (*dir ? dir : "/") : ".");
        }
    }
    MPI_Bcast(&e, sizeof e, MPI_BYTE, 0, s->comm);
    drop_if_close_failed(s, marked == 2 || rc);
    store_free(s);
    if (e.code) return bt_error_set(err, e.code, "%s", e.msg);
    return BT_OK;
}

static void store_end(bt_store *s, const char *status);

void bt_store_abort(bt_store *s) { store_end(s, "aborted"); }
void bt_store_suspend(bt_store *s) { store_end(s, "interrupted"); }

static void store_end(bt_store *s, const char *status) {
    if (!s) return;
    /* After a failed write (a full file system, above all) the close would fail too: it flushes
     * HDF5's metadata, rank 0 writes it while the others wait at a barrier, and a rank 0 that
     * cannot write leaves them waiting forever (or HDF5 crashes closing it again at exit). The
     * file is worthless then: rank 0 removes it, nobody closes it, and the process is told to
     * end without HDF5's and MPI's finalisation (bt_store_poisoned). The same when the file
     * system is full for another reason (a .npy written by the caller, another program). */
    char why[128];
    if (close_is_unsafe(s, why, sizeof why)) {
        drop_unclosable(s);
        return;
    }
    close_ids(s);
    int bad = H5Fclose(s->file) < 0;
    H5Eclear2(H5E_DEFAULT);
    if (!drop_if_close_failed(s, bad))
        drop_if_close_failed(s, s->rank == 0 && set_status(s->tmp_path, status) == 2);
    H5Eclear2(H5E_DEFAULT);
    MPI_Barrier(s->comm);
    store_free(s);
}
