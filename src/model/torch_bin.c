/* pytorch_model.bin in torch's zip format (torch >= 1.6): <prefix>/data.pkl, the storages as
 * <prefix>/data/<key>, optionally <prefix>/byteorder. Read with libzip; the pickle goes through
 * the restricted unpickler (torch_pickle.c), the storages into one heap block. The legacy format
 * of older torch is read too (load_legacy), through the same unpickler.
 *
 * Hostile archives: torch writes every entry uncompressed, so storages must be stored
 * (a compressed storage is refused), and the storage bytes read may not add up to more than the
 * file's size (entries overlapping to inflate a small file are refused before any allocation).
 * data.pkl may be deflated but is capped at BT_TP_MAX_PICKLE. Every declared size is checked
 * against what the pickle says and against what reading actually yields. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "bertology/common.h"
#include "model/torch_pickle.h"

static int zip_fail(const char *path, const char *what, zip_error_t *ze, bt_error *err) {
    return bt_error_set(err, BT_EINPUT, "%s: %s: %s", path, what, zip_error_strerror(ze));
}

/* Reads exactly n bytes of entry idx into dst; anything more or less is an error. */
static int read_entry(zip_t *z, zip_uint64_t idx, const char *path, const char *name, unsigned char *dst,
                      zip_uint64_t n, bt_error *err) {
    zip_file_t *zf = zip_fopen_index(z, idx, 0);
    if (!zf) return zip_fail(path, name, zip_get_error(z), err);
    zip_uint64_t got = 0;
    int rc = BT_OK;
    while (got < n) {
        zip_int64_t k = zip_fread(zf, dst + got, n - got);
        if (k < 0) {
            rc = zip_fail(path, name, zip_file_get_error(zf), err);
            break;
        }
        if (k == 0) {
            rc = bt_error_set(err, BT_EINPUT, "%s: %s: ends after %llu of its %llu bytes (truncated)", path, name,
                              (unsigned long long)got, (unsigned long long)n);
            break;
        }
        got += (zip_uint64_t)k;
    }
    if (!rc) {
        unsigned char extra;
        zip_int64_t k = zip_fread(zf, &extra, 1);
        if (k < 0)
            rc = zip_fail(path, name, zip_file_get_error(zf), err);
        else if (k > 0)
            rc = bt_error_set(err, BT_EINPUT, "%s: %s: holds more than its declared %llu bytes", path, name,
                              (unsigned long long)n);
    }
    zip_fclose(zf);
    return rc;
}

static int cmp_tensor(const void *a, const void *b) {
    return strcmp(((const bt_st_tensor *)a)->name, ((const bt_st_tensor *)b)->name);
}

/* The archive's one <prefix>/data.pkl; its index, with the prefix length (slash included). */
/* The tensors of a parsed state dict into f, each pointing into its storage's bytes (base[s]:
 * where storage s starts), sorted by name; a name twice is refused. Both formats end here. */
static int fill_tensors(bt_st_file *f, const bt_torch_pickle *tp, const unsigned char *const *base,
                        const char *path, bt_error *err) {
    int rc = BT_OK;
    size_t name_bytes = 0;
    for (int i = 0; i < tp->n_tensors; i++) name_bytes += strlen(tp->t[i].name) + 1;
    f->t = bt_calloc((size_t)tp->n_tensors + 1, sizeof *f->t, "the tensor entries", err);
    f->names = f->t ? bt_malloc(name_bytes + 1, 1, "the tensor names", err) : NULL;
    if (!f->t || !f->names) return BT_EINTERNAL;
    char *np = f->names;
    for (int i = 0; i < tp->n_tensors; i++) {
        const bt_tp_tensor *t = &tp->t[i];
        bt_st_tensor *o = &f->t[i];
        const size_t nl = strlen(t->name) + 1, esz = (size_t)bt_st_dtype_bits(t->dtype) / 8;
        memcpy(np, t->name, nl);
        o->name = np;
        np += nl;
        o->dtype = t->dtype;
        o->ndim = t->ndim;
        memcpy(o->shape, t->shape, sizeof o->shape);
        o->numel = t->numel;
        o->data = base[t->storage] + (size_t)t->offset * esz;
        o->nbytes = (size_t)t->numel * esz;
        f->n++;
    }
    qsort(f->t, (size_t)f->n, sizeof *f->t, cmp_tensor);
    for (int i = 1; i < f->n && !rc; i++)
        if (!strcmp(f->t[i - 1].name, f->t[i].name))
            rc = bt_error_set(err, BT_EINPUT, "%s: tensor %s appears twice in the state dict", path, f->t[i].name);
    return rc;
}

static int find_pickle(zip_t *z, const char *path, zip_uint64_t *idx, size_t *plen, bt_error *err) {
    const zip_int64_t n = zip_get_num_entries(z, 0);
    int found = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(z, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (!name) continue;
        const char *slash = strchr(name, '/');
        if (slash && slash > name && !strcmp(slash + 1, "data.pkl")) {
            if (found++)
                return bt_error_set(err, BT_EINPUT, "%s: the archive holds more than one data.pkl", path);
            *idx = (zip_uint64_t)i;
            *plen = (size_t)(slash + 1 - name);
        }
    }
    if (!found)
        return bt_error_set(err, BT_EINPUT, "%s: zip archive without <name>/data.pkl: not a torch.save file", path);
    return BT_OK;
}

static int check_byteorder(zip_t *z, const char *path, const char *prefix, size_t plen, bt_error *err) {
    char name[300];
    snprintf(name, sizeof name, "%.*sbyteorder", (int)plen, prefix);
    zip_int64_t i = zip_name_locate(z, name, ZIP_FL_ENC_RAW);
    if (i < 0) return BT_OK; /* older torch: always little-endian */
    zip_stat_t st;
    if (zip_stat_index(z, (zip_uint64_t)i, 0, &st) || st.size > 16)
        return bt_error_set(err, BT_EINPUT, "%s: %s is not 'little' or 'big'", path, name);
    unsigned char b[17] = {0};
    int rc = read_entry(z, (zip_uint64_t)i, path, name, b, st.size, err);
    if (rc) return rc;
    if (st.size != 6 || memcmp(b, "little", 6))
        return bt_error_set(err, BT_EINPUT, "%s: %s says '%.*s'; only little-endian weights are read", path, name,
                            (int)st.size, (const char *)b);
    return BT_OK;
}

static int load(zip_t *z, const char *path, uint64_t file_size, bt_st_file *f, bt_error *err) {
    zip_uint64_t pidx = 0;
    size_t plen = 0;
    int rc = find_pickle(z, path, &pidx, &plen, err);
    if (rc) return rc;
    char prefix[256];
    const char *pname = zip_get_name(z, pidx, ZIP_FL_ENC_RAW);
    if (plen >= sizeof prefix) return bt_error_set(err, BT_EINPUT, "%s: archive name too long", path);
    memcpy(prefix, pname, plen);
    prefix[plen] = '\0';
    if ((rc = check_byteorder(z, path, prefix, plen, err))) return rc;

    zip_stat_t st;
    if (zip_stat_index(z, pidx, 0, &st)) return zip_fail(path, "data.pkl", zip_get_error(z), err);
    if (!(st.valid & ZIP_STAT_SIZE) || st.size > BT_TP_MAX_PICKLE)
        return bt_error_set(err, BT_EINPUT, "%s: data.pkl declares %llu bytes (limit %zu): not a state dict", path,
                            (unsigned long long)st.size, BT_TP_MAX_PICKLE);
    unsigned char *pkl = bt_malloc(st.size, 1, "data.pkl", err);
    if (!pkl) return BT_EINTERNAL;
    char pkl_path[1200];
    snprintf(pkl_path, sizeof pkl_path, "%s: %sdata.pkl", path, prefix);
    bt_torch_pickle tp;
    memset(&tp, 0, sizeof tp);
    rc = read_entry(z, pidx, path, "data.pkl", pkl, st.size, err);
    if (!rc) rc = bt_tp_parse(pkl, st.size, pkl_path, &tp, err);
    free(pkl);
    if (rc) return rc;

    /* every storage: stored, of the size the pickle gives; all together within the file */
    zip_uint64_t *sidx = bt_calloc((size_t)tp.n_storages + 1, sizeof *sidx, "the storages", NULL);
    size_t *soff = bt_calloc((size_t)tp.n_storages + 1, sizeof *soff, "the storages", NULL);
    size_t total = 0;          /* the heap block: storages at 64-byte aligned offsets */
    uint64_t read_bytes = 0;   /* what the archive must hold */
    if (!sidx || !soff) rc = bt_error_set(err, BT_EINTERNAL, "%s: out of memory", path);
    for (int s = 0; s < tp.n_storages && !rc; s++) {
        char name[400];
        snprintf(name, sizeof name, "%sdata/%s", prefix, tp.s[s].key);
        zip_int64_t i = zip_name_locate(z, name, ZIP_FL_ENC_RAW);
        if (i < 0) {
            rc = bt_error_set(err, BT_EINPUT, "%s: storage %s, named in data.pkl, is not in the archive", path, name);
            break;
        }
        if (zip_stat_index(z, (zip_uint64_t)i, 0, &st)) {
            rc = zip_fail(path, name, zip_get_error(z), err);
            break;
        }
        const uint64_t want = (uint64_t)tp.s[s].numel * (uint64_t)(bt_st_dtype_bits(tp.s[s].dtype) / 8);
        if (st.comp_method != ZIP_CM_STORE) {
            rc = bt_error_set(err, BT_EINPUT, "%s: %s is compressed (zip method %d); torch stores storages "
                              "uncompressed", path, name, (int)st.comp_method);
        } else if (st.size != want) {
            rc = bt_error_set(err, BT_EINPUT, "%s: %s holds %llu bytes; data.pkl says %lld %s elements (%llu bytes)",
                              path, name, (unsigned long long)st.size, (long long)tp.s[s].numel,
                              bt_st_dtype_name(tp.s[s].dtype), (unsigned long long)want);
        } else if (want > file_size || read_bytes + want > file_size) {
            rc = bt_error_set(err, BT_EINPUT, "%s: the storages add up to more bytes than the %llu-byte file holds "
                              "(overlapping zip entries)", path, (unsigned long long)file_size);
        }
        if (rc) break;
        sidx[s] = (zip_uint64_t)i;
        soff[s] = total;
        read_bytes += want;
        total += (want + 63) / 64 * 64;
    }
    unsigned char *block = NULL;
    if (!rc && !(block = bt_malloc(total, 1, "the weights", err))) rc = BT_EINTERNAL;
    for (int s = 0; s < tp.n_storages && !rc; s++) {
        char name[400];
        snprintf(name, sizeof name, "%sdata/%s", prefix, tp.s[s].key);
        const uint64_t n = (uint64_t)tp.s[s].numel * (uint64_t)(bt_st_dtype_bits(tp.s[s].dtype) / 8);
        rc = read_entry(z, sidx[s], path, name, block + soff[s], n, err);
    }

    /* where each storage starts in the block: the form fill_tensors takes */
    const unsigned char **base = rc ? NULL : bt_calloc((size_t)tp.n_storages + 1, sizeof *base, "the storages", err);
    if (!rc && !base) rc = BT_EINTERNAL;
    for (int s = 0; s < tp.n_storages && !rc; s++) base[s] = block + soff[s];
    if (!rc) rc = fill_tensors(f, &tp, base, path, err);
    free(base);
    f->owned = block;
    free(sidx);
    free(soff);
    bt_tp_free(&tp);
    return rc;
}

/* The legacy format (torch < 1.6, _use_new_zipfile_serialization=False): pickles of the magic
 * number, the protocol version 1001 and sys_info, the state dict (persistent ids with a sixth
 * field), the sorted list of storage keys; then per key an int64 element count and the raw
 * bytes. The file is mapped and the tensors point into the mapping. */
static int load_legacy(const char *path, int fd, uint64_t size, bt_st_file *f, bt_error *err) {
    static const unsigned char head[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a,
                                         0xa8, 0x50, 0x19, 0x2e, 0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e};
    if (size < sizeof head) return bt_error_set(err, BT_EINPUT, "%s: truncated legacy torch file", path);
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) return bt_error_set(err, BT_EINPUT, "%s: cannot map: %s", path, strerror(errno));
    f->map = map;
    f->map_len = (size_t)size;
    const unsigned char *p = map;
    if (memcmp(p, head, sizeof head))
        return bt_error_set(err, BT_EINPUT, "%s: legacy torch file without the magic number and protocol 1001 "
                            "(torch < 1.6 writes them)", path);
    size_t pos = sizeof head, used = 0;
    bt_torch_pickle tp;
    memset(&tp, 0, sizeof tp);
    char where[1200];
    snprintf(where, sizeof where, "%s: legacy header", path);
    int rc = bt_tp_parse_part(p + pos, size - pos, where, BT_TP_SYS_INFO, &used, &tp, err);
    if (rc) return rc;
    pos += used;
    snprintf(where, sizeof where, "%s: legacy state dict at byte %zu", path, pos);
    if ((rc = bt_tp_parse_part(p + pos, size - pos, where, BT_TP_LEGACY, &used, &tp, err))) return rc;
    pos += used;
    snprintf(where, sizeof where, "%s: legacy key list at byte %zu", path, pos);
    if ((rc = bt_tp_parse_part(p + pos, size - pos, where, BT_TP_KEY_LIST, &used, &tp, err))) return rc;
    pos += used;
    const unsigned char **sdata = bt_calloc((size_t)tp.n_storages + 1, sizeof *sdata, "the storages", err);
    if (!sdata) rc = BT_EINTERNAL;
    for (int k = 0; k < tp.n_storages && !rc; k++) {
        const bt_tp_storage *st = &tp.s[tp.order[k]];
        const uint64_t esz = (uint64_t)bt_st_dtype_bits(st->dtype) / 8, want = (uint64_t)st->numel * esz;
        uint64_t numel = 0;
        if (size - pos < 8) {
            rc = bt_error_set(err, BT_EINPUT, "%s: truncated before storage %s", path, st->key);
            break;
        }
        for (int b = 7; b >= 0; b--) numel = numel << 8 | p[pos + (size_t)b];
        if (numel != (uint64_t)st->numel) {
            rc = bt_error_set(err, BT_EINPUT, "%s: storage %s at byte %zu holds %llu elements; the state dict says %lld",
                              path, st->key, pos, (unsigned long long)numel, (long long)st->numel);
            break;
        }
        if (size - pos - 8 < want) {
            rc = bt_error_set(err, BT_EINPUT, "%s: storage %s at byte %zu needs %llu bytes, the file ends first "
                              "(truncated)", path, st->key, pos, (unsigned long long)want);
            break;
        }
        sdata[tp.order[k]] = p + pos + 8;
        pos += 8 + (size_t)want;
    }
    if (!rc && pos != size)
        rc = bt_error_set(err, BT_EINPUT, "%s: %llu bytes after the last storage", path,
                          (unsigned long long)(size - pos));
    if (!rc) rc = fill_tensors(f, &tp, sdata, path, err);
    free(sdata);
    bt_tp_free(&tp);
    return rc;
}

int bt_torchbin_open(const char *path, bt_st_file *f, bt_error *err) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    FILE *fp = fopen(path, "rb");
    if (!fp) return bt_error_set(err, BT_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    unsigned char head[4] = {0};
    size_t got = fread(head, 1, 4, fp);
    struct stat sb;
    int is_reg = fstat(fileno(fp), &sb) == 0 && S_ISREG(sb.st_mode);
    fclose(fp);
    if (!is_reg) return bt_error_set(err, BT_EINPUT, "%s: not a regular file", path);
    if (got == 4 && head[0] == 0x80 && head[1] == 0x02 && head[2] == 0x8a) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return bt_error_set(err, BT_EINPUT, "%s: cannot open: %s", path, strerror(errno));
        int rc = load_legacy(path, fd, (uint64_t)sb.st_size, f, err);
        close(fd);
        if (rc) bt_st_close(f);
        return rc;
    }
    if (got < 4 || memcmp(head, "PK\x03\x04", 4))
        return bt_error_set(err, BT_EINPUT, "%s: neither torch.save's zip format nor its legacy format", path);
    int zerr = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (!z) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        int rc = bt_error_set(err, BT_EINPUT, "%s: unreadable zip archive (truncated or damaged?): %s", path,
                              zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return rc;
    }
    int rc = load(z, path, (uint64_t)sb.st_size, f, err);
    zip_discard(z);
    if (rc) bt_st_close(f);
    return rc;
}
