/* Checkpoint and resume of a run (docs/resume.md). In OUT/checkpoint/:
 *   state.json           what is durable: the options and inputs of the run, the name of its
 *                        run.h5 tmp file, and how many bytes of each journal count; replaced
 *                        atomically (write, fsync, rename) at every sync
 *   journal-g<G>-r<R>    rank R's append-only records of start G (0 = the first run): one per
 *                        batch done, the sweep's opaque state of (pass, batch) with a checksum
 * A batch counts as done only once a sync has written a state.json whose byte counts cover its
 * record, after the records were fsync'ed and run.h5 was flushed: whatever happens after that,
 * its rows and its partial sums are on disk. A resumed run (any number of ranks) reads every
 * journal, skips the batches it finds and reduces their saved partial sums in batch order, so
 * its results are the bits of an uninterrupted run. */
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bertology/common.h"
#include "bertology/dist.h"
#include "run_internal.h"

#define RESUME_FORMAT "bertology-checkpoint"
#define RESUME_VERSION 4 /* 2: "kernels"; 3: a treebank's words in data_hash; 4: code in it */
#define REC_MAGIC 0x4b435442u /* "BTCK" */

typedef struct {
    uint32_t magic, pass, batch, reserved;
    uint64_t n, sum; /* payload bytes, its FNV-1a hash */
} rec_hdr;

typedef struct {
    int pass, batch;
    size_t off, n; /* payload in data */
} rec_entry;

struct bt_run_resume {
    bt_run *x;
    char dir[4096];
    char id[40];       /* written into run.h5 (checkpoint_id): the file and the state belong together */
    char tmp[256];     /* run.h5's tmp file, relative to --out */
    int continuing;    /* an earlier run's state was found and is continued */
    int generation;
    int fd;            /* this rank's journal */
    int64_t written;
    int n_old;         /* journals of earlier starts, with their durable bytes */
    char (*old_name)[64];
    int64_t *old_bytes;
    unsigned char *data; /* every record of the earlier journals, one buffer */
    rec_entry *idx;      /* sorted by (pass, batch) */
    size_t n_idx;
    char data_hash[20], model_hash[20];
    cJSON *options;      /* this run's options JSON */
    int saves, signal_after, signal_no; /* BT_TEST_SIGNAL_AFTER (docs/resume.md) */
    int signal_at_commit;               /* ... =commit:SIG */
    double slow_s;                      /* BT_TEST_BATCH_SECONDS: a pause after every batch */
    bt_sweep_checkpoint hooks;
};

/* ---- hashes: is it the same data, the same model? ------------------------------------------ */

static uint64_t fnv1a(const void *p, size_t n, uint64_t h) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}
#define FNV_BASIS 0xcbf29ce484222325ull

/* The weights are hundreds of MB: a word at a time (a multiply-xorshift mix), not byte-wise. */
static uint64_t hash_words(const uint32_t *w, size_t n) {
    uint64_t h = FNV_BASIS ^ n;
    for (size_t i = 0; i < n; i++) {
        h ^= w[i];
        h *= 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    return h;
}

static void data_and_model_hashes(const bt_run *x, char *data, char *model) {
    const bt_dataset *d = &x->data;
    uint64_t h = fnv1a(&d->n, sizeof d->n, FNV_BASIS);
    h = fnv1a(d->len, sizeof(int) * (size_t)d->n, h);
    h = fnv1a(d->ids, sizeof(int) * (size_t)d->n_tokens, h);
    if (d->types) h = fnv1a(d->types, sizeof(int) * (size_t)d->n_tokens, h);
    if (d->labels) h = fnv1a(d->labels, sizeof(int) * (size_t)d->n, h);
    if (d->targets) h = fnv1a(d->targets, sizeof(float) * (size_t)d->n, h);
    if (x->head_mask) h = fnv1a(x->head_mask, sizeof(float) * x->model.cfg.n_layers * x->model.cfg.n_heads, h);
    if (x->scores) h = fnv1a(x->scores, sizeof(float) * x->model.cfg.n_layers * x->model.cfg.n_heads, h);
    if (x->is_ud) { /* a treebank's labels: each word's pieces, head and relation */
        const bt_conllu_pieces *pc = &x->ud_pieces;
        const size_t n_words = (size_t)pc->word_off[d->n];
        h = fnv1a(pc->word_off, sizeof(int64_t) * ((size_t)d->n + 1), h);
        h = fnv1a(pc->first, sizeof(int) * n_words, h);
        h = fnv1a(pc->count, sizeof(int) * n_words, h);
        h = fnv1a(pc->head, sizeof(int) * n_words, h);
        h = fnv1a(pc->rel, sizeof(int) * n_words, h);
        for (int r = 0; r < x->ud.rel_names.n; r++)
            h = fnv1a(x->ud.rel_names.name[r], strlen(x->ud.rel_names.name[r]) + 1, h);
    }
    if (x->is_code) { /* the code beyond the truncated tokens shapes the trees, and the languages */
        for (size_t i = 0; i < x->code.n; i++) {
            h = fnv1a(x->code.code[i], x->code.code_len[i], h);
            h = fnv1a(&x->code_lang[i], sizeof(int), h);
        }
    }
    snprintf(data, 20, "%016" PRIx64, h);
    snprintf(model, 20, "%016" PRIx64, hash_words((const uint32_t *)(const void *)x->model.block, x->model.n_params));
}

/* ---- files ---------------------------------------------------------------------------------- */

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* Removes the files of dir and dir itself (the checkpoint has no subdirectories). */
static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4400];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

/* ---- state.json ----------------------------------------------------------------------------- */

/* Options that change nothing a run computes: a resumed run may differ in them. */
static int may_differ(const char *key) {
    static const char *const keys[] = {"quiet", "verbose", "checkpoint_every", "restart", "max_output_gb"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(key, keys[i])) return 1;
    return 0;
}

/* BT_EINPUT naming the first option that differs between the saved run and this one. */
static int compare_options(const struct bt_run_resume *c, const cJSON *saved, bt_error *err) {
    const cJSON *now = c->options;
    const cJSON *cmd0 = cJSON_GetObjectItemCaseSensitive(saved, "command"), *cmd1 = cJSON_GetObjectItemCaseSensitive(now, "command");
    if (!cJSON_Compare(cmd0, cmd1, 1))
        return bt_error_set(err, BT_EINPUT, "%s holds an interrupted `%s` run, not `%s`: run that command to resume "
                            "it, or add `restart` to discard it", c->dir, cJSON_IsString(cmd0) ? cmd0->valuestring : "?",
                            cJSON_IsString(cmd1) ? cmd1->valuestring : "?");
    /* every key of either side, in this run's order first */
    for (int side = 0; side < 2; side++)
        for (const cJSON *a = (side ? saved : now)->child; a; a = a->next) {
            if (may_differ(a->string)) continue;
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(side ? now : saved, a->string);
            if (b && cJSON_Compare(a, b, 1)) continue;
            char *was = cJSON_PrintUnformatted(side ? a : b), *is = cJSON_PrintUnformatted(side ? b : a);
            bt_error_set(err, BT_EINPUT, "%s holds an interrupted run with other options: `%s` was %s, is %s now; run "
                         "the same command to resume it, or add `restart` to discard it", c->dir, a->string,
                         was ? was : "not given", is ? is : "not given");
            free(was), free(is);
            return BT_EINPUT;
        }
    return BT_OK;
}

/* Rank 0: state.json for the journals' durable byte counts (this start's: bytes[n_ranks]). */
static int write_state(const struct bt_run_resume *c, const int64_t *bytes, bt_error *err) {
    const bt_run *x = c->x;
    cJSON *j = cJSON_CreateObject(), *js = cJSON_CreateArray();
    int ok = j && js;
    ok = ok && cJSON_AddStringToObject(j, "format", RESUME_FORMAT) && cJSON_AddNumberToObject(j, "version", RESUME_VERSION) &&
         cJSON_AddStringToObject(j, "id", c->id) && cJSON_AddStringToObject(j, "tmp", c->tmp) &&
         cJSON_AddStringToObject(j, "data_hash", c->data_hash) && cJSON_AddStringToObject(j, "model_hash", c->model_hash) &&
         cJSON_AddStringToObject(j, "kernels", bt_engine_kernels()) &&
         cJSON_AddNumberToObject(j, "n_examples", x->data.n) && cJSON_AddNumberToObject(j, "generation", c->generation);
    cJSON *opts = ok ? cJSON_Duplicate(c->options, 1) : NULL;
    ok = ok && opts && cJSON_AddItemToObject(j, "options", opts);
    if (!ok) cJSON_Delete(opts);
    for (int i = 0; ok && i < c->n_old + x->n_ranks; i++) {
        char name[64];
        if (i < c->n_old) snprintf(name, sizeof name, "%s", c->old_name[i]);
        else snprintf(name, sizeof name, "journal-g%d-r%d", c->generation, i - c->n_old);
        cJSON *e = cJSON_CreateObject();
        ok = e && cJSON_AddStringToObject(e, "file", name) &&
             cJSON_AddNumberToObject(e, "bytes", (double)(i < c->n_old ? c->old_bytes[i] : bytes[i - c->n_old]));
        if (ok) cJSON_AddItemToArray(js, e);
        else cJSON_Delete(e);
    }
    if (ok) cJSON_AddItemToObject(j, "journals", js);
    else cJSON_Delete(js);
    char *text = ok ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!text) return bt_error_set(err, BT_EINTERNAL, "%s/state.json: out of memory", c->dir);
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/state.json", c->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const size_t len = strlen(text);
    int bad = fd < 0;
    for (size_t done = 0; !bad && done < len;) {
        const ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) bad = 1;
        else done += (size_t)w;
    }
    if (!bad && fsync(fd)) bad = 1;
    const int e = errno;
    if (fd >= 0 && close(fd) && !bad) bad = 1;
    free(text);
    if (bad || rename(tmp, path) || fsync_dir(c->dir)) {
        unlink(tmp);
        return bt_error_set(err, BT_EINTERNAL, "%s: cannot write: %s", tmp, strerror(bad ? e : errno));
    }
    return BT_OK;
}

/* ---- journals ------------------------------------------------------------------------------- */

static int by_pass_batch(const void *pa, const void *pb) {
    const rec_entry *a = pa, *b = pb;
    if (a->pass != b->pass) return a->pass < b->pass ? -1 : 1;
    return (a->batch > b->batch) - (a->batch < b->batch);
}

/* Every record of the journals the state lists, up to their durable byte counts. Local. */
static int load_journals(struct bt_run_resume *c, bt_error *err) {
    size_t total = 0, n_rec = 0, cap = 0;
    for (int i = 0; i < c->n_old; i++) total += (size_t)c->old_bytes[i];
    c->data = bt_malloc(total, 1, "the journals", err);
    if (!c->data) return BT_EINTERNAL;
    size_t pos = 0;
    for (int i = 0; i < c->n_old; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", c->dir, c->old_name[i]);
        const size_t want = (size_t)c->old_bytes[i];
        FILE *f = want ? fopen(path, "rb") : NULL;
        const size_t got = f ? fread(c->data + pos, 1, want, f) : 0;
        if (f) fclose(f);
        if (got != want)
            return bt_error_set(err, BT_EINPUT, "%s: %zu bytes, state.json says %zu are durable: the checkpoint is "
                                "damaged (`restart` starts over)", path, got, want);
        for (size_t at = 0; at < want;) {
            rec_hdr h;
            if (want - at < sizeof h) return bt_error_set(err, BT_EINPUT, "%s: record cut at byte %zu (`restart` starts over)", path, at);
            memcpy(&h, c->data + pos + at, sizeof h);
            if (h.magic != REC_MAGIC || h.n > want - at - sizeof h ||
                fnv1a(c->data + pos + at + sizeof h, (size_t)h.n, FNV_BASIS) != h.sum)
                return bt_error_set(err, BT_EINPUT, "%s: damaged record at byte %zu (`restart` starts over)", path, at);
            if (n_rec == cap && bt_grow((void **)&c->idx, &cap, n_rec + 1, sizeof *c->idx, "the checkpoint index", err))
                return BT_EINTERNAL;
            c->idx[n_rec++] = (rec_entry){(int)h.pass, (int)h.batch, pos + at + sizeof h, (size_t)h.n};
            at += sizeof h + (size_t)h.n;
        }
        pos += want;
    }
    c->n_idx = n_rec;
    if (n_rec) qsort(c->idx, n_rec, sizeof *c->idx, by_pass_batch);
    return BT_OK;
}

static const void *resume_find(void *ctx, int pass, int batch, size_t *n) {
    const struct bt_run_resume *c = ctx;
    const rec_entry key = {pass, batch, 0, 0};
    const rec_entry *e = c->n_idx ? bsearch(&key, c->idx, c->n_idx, sizeof key, by_pass_batch) : NULL;
    if (!e) return NULL;
    *n = e->n;
    return c->data + e->off;
}

static int write_all(int fd, const void *p, size_t n) {
    const char *b = p;
    while (n > 0) {
        const ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int resume_save(void *ctx, int pass, int batch, const void *state, size_t n, bt_error *err) {
    struct bt_run_resume *c = ctx;
    const rec_hdr h = {REC_MAGIC, (uint32_t)pass, (uint32_t)batch, 0, n, fnv1a(state, n, FNV_BASIS)};
    if (write_all(c->fd, &h, sizeof h) || write_all(c->fd, state, n)) {
        const int e = errno;
        /* a partial record after the durable part is harmless: the next sync fails before it counts */
        return bt_error_set(err, BT_EINTERNAL, "%s/journal-g%d-r%d: write failed: %s", c->dir, c->generation,
                            c->x->rank, strerror(e));
    }
    c->written += (int64_t)(sizeof h + n);
    /* fault injection for the tests: a signal to this process after its N-th batch (to the
     * process, as a launcher sends it: the thread that takes stop signals gets it) */
    if (c->signal_after > 0 && ++c->saves == c->signal_after) kill(getpid(), c->signal_no);
    if (c->slow_s > 0) { /* so that a test's signal from outside (Slurm) lands mid-pass */
        struct timespec ts = {(time_t)c->slow_s, (long)((c->slow_s - (double)(time_t)c->slow_s) * 1e9)};
        nanosleep(&ts, NULL);
    }
    return BT_OK;
}

static int resume_sync(void *ctx, bt_error *err) {
    struct bt_run_resume *c = ctx;
    bt_run *x = c->x;
    bt_error local = {0};
    int lrc = fsync(c->fd) ? bt_error_set(&local, BT_EINTERNAL, "%s/journal-g%d-r%d: fsync failed: %s", c->dir,
                                          c->generation, x->rank, strerror(errno))
                           : BT_OK;
    int rc = bt_dist_agree(x->comm, lrc, &local, err);
    if (!rc) rc = bt_dist_agree(x->comm, bt_store_flush(bt_run_store(x), &local), &local, err);
    if (rc) return rc;
    int64_t *bytes = x->rank == 0 ? bt_malloc((size_t)x->n_ranks, sizeof(int64_t), "the journals' sizes", &local) : NULL;
    lrc = x->rank == 0 && !bytes ? BT_EINTERNAL : BT_OK;
    rc = bt_dist_agree(x->comm, lrc, &local, err);
    if (!rc) MPI_Gather(&c->written, 1, MPI_INT64_T, bytes, 1, MPI_INT64_T, 0, x->comm);
    if (!rc && x->rank == 0) lrc = write_state(c, bytes, &local);
    free(bytes);
    return rc ? rc : bt_dist_agree(x->comm, lrc, &local, err);
}

/* ---- the run's side ------------------------------------------------------------------------- */

void bt_run_resume_free(bt_run *x) {
    struct bt_run_resume *c = x->resume;
    if (!c) return;
    if (c->fd >= 0) close(c->fd);
    free(c->old_name), free(c->old_bytes), free(c->data), free(c->idx);
    cJSON_Delete(c->options);
    free(c);
    x->resume = NULL;
}

/* Reads the saved state (rank 0's file, parsed on every rank): 1 = resume it, 0 = start afresh.
 * Local after the broadcast; every rank reaches the same verdict from the same text. */
static int read_state(struct bt_run_resume *c, const char *text, bt_error *err) {
    const bt_run *x = c->x;
    cJSON *s = cJSON_Parse(text);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(s, "format"), *ver = cJSON_GetObjectItemCaseSensitive(s, "version"),
                *id = cJSON_GetObjectItemCaseSensitive(s, "id"), *tmp = cJSON_GetObjectItemCaseSensitive(s, "tmp"),
                *opts = cJSON_GetObjectItemCaseSensitive(s, "options"), *gen = cJSON_GetObjectItemCaseSensitive(s, "generation"),
                *dh = cJSON_GetObjectItemCaseSensitive(s, "data_hash"), *mh = cJSON_GetObjectItemCaseSensitive(s, "model_hash"),
                *js = cJSON_GetObjectItemCaseSensitive(s, "journals"), *kn = cJSON_GetObjectItemCaseSensitive(s, "kernels");
    int rc = BT_OK;
    if (!s || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, RESUME_FORMAT) || !cJSON_IsNumber(ver) ||
        !cJSON_IsString(id) || strlen(id->valuestring) >= sizeof c->id || !cJSON_IsString(tmp) ||
        strlen(tmp->valuestring) >= sizeof c->tmp || strchr(tmp->valuestring, '/') || !cJSON_IsObject(opts) ||
        !cJSON_IsNumber(gen) || !cJSON_IsString(dh) || !cJSON_IsString(mh) || !cJSON_IsArray(js) || !cJSON_IsString(kn))
        rc = bt_error_set(err, BT_EINPUT, "%s/state.json: not a bertology checkpoint of this version (`restart` "
                          "starts over)", c->dir);
    else if (ver->valueint != RESUME_VERSION)
        rc = bt_error_set(err, BT_EINPUT, "%s/state.json: checkpoint version %d, this bertology writes %d (`restart` "
                          "starts over)", c->dir, ver->valueint, RESUME_VERSION);
    if (!rc) rc = compare_options(c, opts, err);
    if (!rc && strcmp(dh->valuestring, c->data_hash))
        rc = bt_error_set(err, BT_EINPUT, "%s: the interrupted run read other data (the examples, labels or head "
                          "mask differ: `data` %s changed?); `restart` starts over", c->dir, x->o->data ? x->o->data : x->o->text);
    /* other kernels sum in another order: the resumed batches would not have the first run's bits */
    if (!rc && strcmp(kn->valuestring, bt_engine_kernels()))
        rc = bt_error_set(err, BT_EINPUT, "%s: the interrupted run computed with GEMM kernels %s, this one would use %s "
                          "(another CPU or OPENBLAS_CORETYPE/ONEDNN_MAX_CPU_ISA?): resume where those kernels run, or "
                          "`restart` (docs/engine.md \"What is bitwise\")", c->dir, kn->valuestring, bt_engine_kernels());
    if (!rc && strcmp(mh->valuestring, c->model_hash))
        rc = bt_error_set(err, BT_EINPUT, "%s: the interrupted run had other weights (`model` %s changed); `restart` "
                          "starts over", c->dir, x->o->model);
    const int n_js = rc ? 0 : cJSON_GetArraySize(js);
    if (!rc) {
        snprintf(c->id, sizeof c->id, "%s", id->valuestring);
        snprintf(c->tmp, sizeof c->tmp, "%s", tmp->valuestring);
        c->generation = gen->valueint + 1;
        c->old_name = bt_calloc((size_t)n_js + 1, sizeof *c->old_name, "the journals", err);
        c->old_bytes = c->old_name ? bt_calloc((size_t)n_js + 1, sizeof *c->old_bytes, "the journals", err) : NULL;
        if (!c->old_name || !c->old_bytes) rc = BT_EINTERNAL;
    }
    for (int i = 0; !rc && i < n_js; i++) {
        const cJSON *e = cJSON_GetArrayItem(js, i), *f = cJSON_GetObjectItemCaseSensitive(e, "file"),
                    *b = cJSON_GetObjectItemCaseSensitive(e, "bytes");
        if (!cJSON_IsString(f) || strlen(f->valuestring) >= 64 || strchr(f->valuestring, '/') || !cJSON_IsNumber(b) ||
            b->valuedouble < 0)
            rc = bt_error_set(err, BT_EINPUT, "%s/state.json: journal %d is malformed (`restart` starts over)", c->dir, i);
        else {
            snprintf(c->old_name[i], 64, "%s", f->valuestring);
            c->old_bytes[i] = (int64_t)b->valuedouble;
            c->n_old++;
        }
    }
    cJSON_Delete(s);
    return rc;
}

/* Rank 0: the text of OUT/checkpoint/state.json, "" if there is none, NULL if unreadable. */
static char *state_text(const char *dir, int restart) {
    char path[4200];
    snprintf(path, sizeof path, "%s/state.json", dir);
    if (restart || access(path, F_OK)) return bt_strdup("", "state.json", NULL);
    char *text = NULL;
    size_t len;
    return bt_read_file(path, (size_t)1 << 26, &text, &len, NULL) ? NULL : text;
}

void bt_run_resume_before_commit(bt_run *x, bt_store *st) {
    int at = x->resume && x->resume->signal_at_commit, any = 0;
    MPI_Allreduce(&at, &any, 1, MPI_INT, MPI_MAX, x->comm);
    if (!any) return;
    /* the file as a kill between the commit's close and its rename leaves it: summary written */
    bt_error ignored = {0};
    bt_store_flush(st, &ignored);
    if (at) kill(getpid(), x->resume->signal_no);
}

int bt_run_resume_prepare(bt_run *x, bt_error *err) {
    const bt_run_options *o = x->o;
    bt_error local = {0};
    struct bt_run_resume *c = x->resume = bt_calloc(1, sizeof *c, "the checkpoint", &local);
    int lrc = c ? BT_OK : BT_EINTERNAL;
    char *opts = c ? bt_run_options_json(o) : NULL;
    if (c) {
        c->x = x;
        c->fd = -1;
        snprintf(c->dir, sizeof c->dir, "%s/checkpoint", o->out);
        c->options = opts ? cJSON_Parse(opts) : NULL;
        if (!c->options) lrc = bt_error_set(&local, BT_EINTERNAL, "out of memory for the options");
        data_and_model_hashes(x, c->data_hash, c->model_hash);
        const char *slow = getenv("BT_TEST_BATCH_SECONDS");
        c->slow_s = slow ? atof(slow) : 0.0;
        /* "N:TERM|USR1|INT|KILL" or "commit:SIG", rank 0 only */
        const char *inject = getenv("BT_TEST_SIGNAL_AFTER");
        if (inject && x->rank == 0) {
            char sig[8] = "";
            c->signal_at_commit = sscanf(inject, "commit:%7s", sig) == 1;
            if (c->signal_at_commit || sscanf(inject, "%d:%7s", &c->signal_after, sig) == 2)
                c->signal_no = !strcmp(sig, "KILL") ? SIGKILL : !strcmp(sig, "USR1") ? SIGUSR1 : !strcmp(sig, "INT") ? SIGINT : SIGTERM;
            else c->signal_after = 0;
        }
    }
    free(opts);
    int rc = bt_dist_agree(x->comm, lrc, &local, err);
    if (rc) return rc;
    /* rank 0 reads the state; every rank parses the same text */
    char *text = x->rank == 0 ? state_text(c->dir, o->restart) : NULL;
    long long len = x->rank == 0 ? (text ? (long long)strlen(text) : -1) : 0;
    MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, x->comm);
    if (len < 0) return bt_error_set(err, BT_EINPUT, "%s/state.json: cannot read it (`restart` starts over)", c->dir);
    if (x->rank != 0) text = bt_malloc((size_t)len + 1, 1, "state.json", &local);
    lrc = text ? BT_OK : BT_EINTERNAL;
    rc = bt_dist_agree(x->comm, lrc, &local, err);
    if (!rc) {
        MPI_Bcast(text, (int)len + 1, MPI_CHAR, 0, x->comm);
        if (len > 0) {
            rc = read_state(c, text, err); /* the same verdict on every rank */
            c->continuing = !rc;
        }
    }
    free(text);
    if (rc) return rc;
    if (c->continuing) {
        /* its run.h5 may be gone (removed after a full disk): then nothing can be resumed */
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", o->out, c->tmp);
        int gone = x->rank == 0 && access(path, F_OK) != 0;
        MPI_Bcast(&gone, 1, MPI_INT, 0, x->comm);
        if (gone) {
            c->continuing = 0;
            snprintf(x->notice, sizeof x->notice, "%.300s: the interrupted run's %.150s is gone: starting over", c->dir, c->tmp);
        }
    }
    if (c->continuing) return bt_dist_agree(x->comm, load_journals(c, &local), &local, err);
    /* afresh: the old checkpoint and its file go; a new id ties the new file to the new state */
    if (x->rank == 0) {
        char old_tmp[4400] = "";
        if (c->tmp[0]) snprintf(old_tmp, sizeof old_tmp, "%s/%s", o->out, c->tmp);
        remove_dir(c->dir);
        if (old_tmp[0]) unlink(old_tmp);
        uint64_t seed = fnv1a(c->data_hash, strlen(c->data_hash), FNV_BASIS) ^ (uint64_t)time(NULL) ^
                        ((uint64_t)getpid() << 32);
        snprintf(c->id, sizeof c->id, "%016" PRIx64, fnv1a(&seed, sizeof seed, FNV_BASIS));
    }
    MPI_Bcast(c->id, sizeof c->id, MPI_CHAR, 0, x->comm);
    c->n_old = 0;
    c->generation = 0;
    c->tmp[0] = '\0';
    return BT_OK;
}

int bt_run_resume_start(bt_run *x, const char *tmp_path, bt_error *err) {
    struct bt_run_resume *c = x->resume;
    const char *slash = strrchr(tmp_path, '/');
    snprintf(c->tmp, sizeof c->tmp, "%s", slash ? slash + 1 : tmp_path);
    char path[4200];
    bt_error local = {0};
    /* created only now: a run refused before run.h5 exists leaves nothing behind */
    int lrc = x->rank == 0 && !c->continuing && mkdir(c->dir, 0755) && errno != EEXIST
                  ? bt_error_set(&local, BT_EINPUT, "%s: cannot create: %s", c->dir, strerror(errno))
                  : BT_OK;
    int rc = bt_dist_agree(x->comm, lrc, &local, err);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/journal-g%d-r%d", c->dir, c->generation, x->rank);
    c->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    lrc = c->fd < 0 ? bt_error_set(&local, BT_EINPUT, "%s: cannot create: %s", path, strerror(errno)) : BT_OK;
    rc = bt_dist_agree(x->comm, lrc, &local, err);
    c->hooks = (bt_sweep_checkpoint){.save = resume_save, .find = resume_find, .sync = resume_sync, .ctx = c,
                                     .every_s = x->o->checkpoint_every, .stop = x->o->stop};
    /* No sync yet: a kill before the first one has nothing durable to lose, and the next run
     * starts afresh (or from the earlier state.json, which does not list this start's journals).
     * Syncing here would flush run.h5's metadata at the moment a full disk is most likely. */
    return rc;
}

const bt_sweep_checkpoint *bt_run_resume_hooks(const bt_run *x) {
    return x->resume && x->resume->fd >= 0 ? &x->resume->hooks : NULL;
}

int bt_run_resume_continuing(const bt_run *x) { return x->resume && x->resume->continuing; }
const char *bt_run_resume_id(const bt_run *x) { return x->resume ? x->resume->id : NULL; }
const char *bt_run_resume_tmp(const bt_run *x) { return x->resume ? x->resume->tmp : NULL; }
size_t bt_run_resume_saved_batches(const bt_run *x) { return x->resume ? x->resume->n_idx : 0; }

void bt_run_resume_done(bt_run *x) {
    /* rank 0, after the commit: the checkpoint and every tmp file of earlier runs go */
    if (x->rank != 0) return;
    if (x->resume && x->resume->fd >= 0) {
        close(x->resume->fd);
        x->resume->fd = -1;
    }
    char dir[4200]; /* also a run without a checkpoint (--checkpoint-every 0) ends an older one */
    snprintf(dir, sizeof dir, "%s/checkpoint", x->o->out);
    remove_dir(dir);
    DIR *d = opendir(x->o->out);
    if (!d) return;
    struct dirent *e;
    char path[4400];
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, "run.h5.tmp-", 11)) {
            snprintf(path, sizeof path, "%s/%s", x->o->out, e->d_name);
            unlink(path);
        }
    closedir(d);
}
