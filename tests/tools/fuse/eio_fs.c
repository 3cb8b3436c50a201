// eio_fs: a FUSE file system that passes everything through to a backing directory until it
// is told to fail, then answers EIO, as a disk that went bad under a running job would
// (tests/cluster/test_eio.py, docs/run_h5.md "Write failures").
//
//   eio_fs BACKING MOUNTPOINT [FUSE options]   (stays in the foreground)
//
// The failure starts when BACKING/.eio appears (the test creates it directly in BACKING, not
// through the mount, at the moment it chooses). From then on:
//   - .eio holding "fsync": only fsync and fsyncdir fail (a write-back failure seen by fsync);
//   - .eio holding "sync": fsync, fsyncdir and flush (every close) fail: the writes went into
//     a cache and the disk failed to take them later;
//   - otherwise every call that changes something fails (write, create, mkdir, rename, unlink,
//     truncate, fsync, flush, ...); reads and lookups keep working.
// A second word in .eio limits the failure to the paths containing it ("sync run.h5.tmp": only
// the closes and fsyncs of run.h5's tmp file fail). Once started the failure never stops (the
// test unmounts with fusermount3 -u).
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum { HEALTHY = 0, FAIL_FSYNC = 1, FAIL_SYNC = 2, FAIL_ALL = 3 };

static int back_fd = -1;                 // the backing directory
static atomic_int state = HEALTHY;
static char only[256];                   // the failure's paths contain this ("" = every path)

// Where the failure stands; sticky once started.
static int mode(void) {
    int s = atomic_load(&state);
    if (s != HEALTHY) return s;
    int fd = openat(back_fd, ".eio", O_RDONLY);
    if (fd >= 0) {
        char buf[300] = {0}, kind[16] = "";
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) sscanf(buf, "%15s %255s", kind, only);  // written before state is published
        s = !strcmp(kind, "fsync") ? FAIL_FSYNC : !strcmp(kind, "sync") ? FAIL_SYNC : FAIL_ALL;
    }
    if (s != HEALTHY) atomic_store(&state, s);
    return s;
}

static int hit(const char *path) { return !only[0] || (path && strstr(path, only)); }

// The first EIO given: its time (seconds since the epoch) goes to BACKING/.eio-first, so that
// the test measures how long the program takes to end after it met the error.
static atomic_int told;
static int eio(void) {
    if (!atomic_exchange(&told, 1)) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        int fd = openat(back_fd, ".eio-first.tmp", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dprintf(fd, "%lld.%09ld\n", (long long)t.tv_sec, t.tv_nsec);
            close(fd);
            renameat(back_fd, ".eio-first.tmp", back_fd, ".eio-first");
        }
    }
    return -EIO;
}

#define CHANGES() do { if (mode() == FAIL_ALL && hit(path)) return eio(); } while (0)  // a change
#define FLUSHES() do { if (mode() >= FAIL_SYNC && hit(path)) return eio(); } while (0) // close
#define SYNCS() do { if (mode() != HEALTHY && hit(path)) return eio(); } while (0)     // fsync

// FUSE paths are absolute within the mount; the backing calls take them relative to back_fd.
static const char *rel(const char *path) { return path[1] ? path + 1 : "."; }
static int err(int r) { return r < 0 ? -errno : r; }

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
    (void)conn;
    // the test changes BACKING behind the kernel's back: cache nothing about names or sizes
    cfg->entry_timeout = cfg->attr_timeout = cfg->negative_timeout = 0;
    cfg->hard_remove = 1;  // unlink an open file for real (no .fuse_hidden* files left)
    cfg->use_ino = 1;
    return NULL;
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
    if (fi) return err(fstat((int)fi->fh, st));
    return err(fstatat(back_fd, rel(path), st, AT_SYMLINK_NOFOLLOW));
}

static int fs_access(const char *path, int mask) {
    return err(faccessat(back_fd, rel(path), mask, AT_SYMLINK_NOFOLLOW));
}

static int fs_readlink(const char *path, char *buf, size_t size) {
    ssize_t n = readlinkat(back_fd, rel(path), buf, size - 1);
    if (n < 0) return -errno;
    buf[n] = 0;
    return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
    (void)off; (void)fi; (void)flags;
    int fd = openat(back_fd, rel(path), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -errno;
    DIR *d = fdopendir(fd);
    if (!d) { close(fd); return -errno; }
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st = {.st_ino = e->d_ino, .st_mode = (mode_t)DTTOIF(e->d_type)};
        if (fill(buf, e->d_name, &st, 0, 0)) break;
    }
    closedir(d);
    return 0;
}

static int fs_mkdir(const char *path, mode_t m) { CHANGES(); return err(mkdirat(back_fd, rel(path), m)); }
static int fs_unlink(const char *path) { CHANGES(); return err(unlinkat(back_fd, rel(path), 0)); }
static int fs_rmdir(const char *path) { CHANGES(); return err(unlinkat(back_fd, rel(path), AT_REMOVEDIR)); }
static int fs_symlink(const char *to, const char *path) { CHANGES(); return err(symlinkat(to, back_fd, rel(path))); }
static int fs_link(const char *from, const char *to) {
    const char *path = from;
    CHANGES();
    return err(linkat(back_fd, rel(from), back_fd, rel(to), 0));
}

static int fs_rename(const char *from, const char *to, unsigned int flags) {
    const char *path = from;
    CHANGES();
    return err(renameat2(back_fd, rel(from), back_fd, rel(to), flags));
}

static int fs_chmod(const char *path, mode_t m, struct fuse_file_info *fi) {
    CHANGES();
    if (fi) return err(fchmod((int)fi->fh, m));
    return err(fchmodat(back_fd, rel(path), m, 0));
}

static int fs_chown(const char *path, uid_t u, gid_t g, struct fuse_file_info *fi) {
    CHANGES();
    if (fi) return err(fchown((int)fi->fh, u, g));
    return err(fchownat(back_fd, rel(path), u, g, AT_SYMLINK_NOFOLLOW));
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
    CHANGES();
    if (fi) return err(ftruncate((int)fi->fh, size));
    int fd = openat(back_fd, rel(path), O_WRONLY);
    if (fd < 0) return -errno;
    int r = err(ftruncate(fd, size));
    close(fd);
    return r;
}

static int fs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) {
    CHANGES();
    if (fi) return err(futimens((int)fi->fh, tv));
    return err(utimensat(back_fd, rel(path), tv, AT_SYMLINK_NOFOLLOW));
}

static int fs_create(const char *path, mode_t m, struct fuse_file_info *fi) {
    CHANGES();
    int fd = openat(back_fd, rel(path), fi->flags | O_CREAT, m);
    if (fd < 0) return -errno;
    fi->fh = (uint64_t)fd;
    return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi) {
    if (fi->flags & O_TRUNC) CHANGES();
    int fd = openat(back_fd, rel(path), fi->flags);
    if (fd < 0) return -errno;
    fi->fh = (uint64_t)fd;
    return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
    (void)path;
    ssize_t n = pread((int)fi->fh, buf, size, off);
    return n < 0 ? -errno : (int)n;
}

static int fs_write(const char *path, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi) {
    CHANGES();
    ssize_t n = pwrite((int)fi->fh, buf, size, off);
    return n < 0 ? -errno : (int)n;
}

static int fs_statfs(const char *path, struct statvfs *st) {
    (void)path;
    return err(fstatvfs(back_fd, st));
}

static int fs_flush(const char *path, struct fuse_file_info *fi) {
    (void)fi;
    FLUSHES();
    return 0;
}

static int fs_release(const char *path, struct fuse_file_info *fi) {
    (void)path;
    close((int)fi->fh);
    return 0;
}

static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
    SYNCS();
    return err(datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh));
}

static int fs_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi) {
    (void)datasync; (void)fi;
    SYNCS();
    int fd = openat(back_fd, rel(path), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -errno;
    int r = err(fsync(fd));
    close(fd);
    return r;
}

static int fs_fallocate(const char *path, int m, off_t off, off_t len, struct fuse_file_info *fi) {
    CHANGES();
    return err(fallocate((int)fi->fh, m, off, len));
}

static const struct fuse_operations ops = {
    .init = fs_init,         .getattr = fs_getattr,   .access = fs_access,
    .readlink = fs_readlink, .readdir = fs_readdir,   .mkdir = fs_mkdir,
    .unlink = fs_unlink,     .rmdir = fs_rmdir,       .symlink = fs_symlink,
    .link = fs_link,         .rename = fs_rename,     .chmod = fs_chmod,
    .chown = fs_chown,       .truncate = fs_truncate, .utimens = fs_utimens,
    .create = fs_create,     .open = fs_open,         .read = fs_read,
    .write = fs_write,       .statfs = fs_statfs,     .flush = fs_flush,
    .release = fs_release,   .fsync = fs_fsync,       .fsyncdir = fs_fsyncdir,
    .fallocate = fs_fallocate,
};

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s BACKING MOUNTPOINT [FUSE options]\n", argv[0]);
        return 2;
    }
    back_fd = open(argv[1], O_RDONLY | O_DIRECTORY);
    if (back_fd < 0) {
        fprintf(stderr, "eio_fs: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    // fuse_main sees: argv0 MOUNTPOINT -f [FUSE options]
    char **fargv = calloc((size_t)argc + 1, sizeof *fargv);
    if (!fargv) return 1;
    int n = 0;
    fargv[n++] = argv[0];
    fargv[n++] = argv[2];
    fargv[n++] = "-f";
    for (int i = 3; i < argc; i++) fargv[n++] = argv[i];
    int r = fuse_main(n, fargv, &ops, NULL);
    free(fargv);
    return r;
}
