/* wasi-testsuite areas whose assertions involve real timestamps: fd_filestat_set,
 * path_filestat (opened with APPEND|SYNC), symlink_filestat, and fd_flags_set's
 * append-mode sequence. Times are only compared with each other, so the output
 * is deterministic: "ok" lines or "FAIL ..." lines. */
#include "wts.h"

#define D "times.cleanup"
#define R(x) __WASI_RIGHTS_##x

static void check(int cond, const char *what) { printf("%s %s\n", cond ? "ok" : "FAIL", what); }

static __wasi_filestat_t pstat(__wasi_fd_t dir, __wasi_lookupflags_t fl, const char *p) {
    __wasi_filestat_t st;
    memset(&st, 0, sizeof st);
    __wasi_errno_t e = __wasi_path_filestat_get(dir, fl, p, &st);
    if (e) wts_e("path_filestat_get", e);
    return st;
}

static void fd_filestat_set(__wasi_fd_t dir) {
    __wasi_fd_t fd;
    wts_e("create", __wasi_path_open(dir, 0, "f1", __WASI_OFLAGS_CREAT,
          R(FD_READ) | R(FD_WRITE) | R(FD_FILESTAT_GET) | R(FD_FILESTAT_SET_SIZE) | R(FD_FILESTAT_SET_TIMES), 0, 0, &fd));
    __wasi_filestat_t st;
    __wasi_fd_filestat_get(fd, &st);
    check(st.size == 0, "new file is empty");
    wts_e("set size 100", __wasi_fd_filestat_set_size(fd, 100));
    __wasi_fd_filestat_get(fd, &st);
    check(st.size == 100, "size is 100");
    __wasi_timestamp_t old_atim = st.atim, new_mtim = st.mtim - 100;
    wts_e("set mtim", __wasi_fd_filestat_set_times(fd, new_mtim, new_mtim, __WASI_FSTFLAGS_MTIM));
    __wasi_fd_filestat_get(fd, &st);
    check(st.size == 100, "size unchanged by set_times");
    check(st.mtim == new_mtim, "mtim changed");
    check(st.atim == old_atim, "atim unchanged");
    wts_e("close", __wasi_fd_close(fd));
    wts_e("unlink", __wasi_path_unlink_file(dir, "f1"));
}

static void path_filestat(__wasi_fd_t dir) {
    __wasi_rights_t rights = R(FD_READ) | R(FD_WRITE) | R(PATH_FILESTAT_GET);
    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(dir, 0, "f2", __WASI_OFLAGS_CREAT, rights, 0,
                                        __WASI_FDFLAGS_APPEND | __WASI_FDFLAGS_SYNC, &fd);
    wts_e("open APPEND|SYNC", e);
    __wasi_fdflags_t asked = __WASI_FDFLAGS_APPEND | __WASI_FDFLAGS_SYNC;
    if (e == __WASI_ERRNO_NOTSUP) {
        asked = __WASI_FDFLAGS_APPEND;
        wts_e("open APPEND", __wasi_path_open(dir, 0, "f2", __WASI_OFLAGS_CREAT, rights, 0, asked, &fd));
    }
    __wasi_fdstat_t fst;
    __wasi_fd_fdstat_get(fd, &fst);
    check((fst.fs_flags & asked) == asked, "fdflags kept");
    __wasi_filestat_t st = pstat(dir, 0, "f2");
    check(st.size == 0, "size 0");
    __wasi_timestamp_t new_mtim = st.mtim - 100;
    wts_e("path set mtim", __wasi_path_filestat_set_times(dir, 0, "f2", 0, new_mtim, __WASI_FSTFLAGS_MTIM));
    check(pstat(dir, 0, "f2").mtim == new_mtim, "mtim changed");
    wts_e("MTIM|MTIM_NOW", __wasi_path_filestat_set_times(dir, 0, "f2", 0, new_mtim, __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW));
    check(pstat(dir, 0, "f2").mtim == new_mtim, "mtim untouched by invalid call");
    wts_e("ATIM|ATIM_NOW", __wasi_path_filestat_set_times(dir, 0, "f2", 0, 0, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW));
    wts_e("close", __wasi_fd_close(fd));
    /* open with each of the other sync flags */
    static const struct { const char *n; __wasi_fdflags_t f; } fl[] = {
        {"DSYNC", __WASI_FDFLAGS_DSYNC}, {"RSYNC", __WASI_FDFLAGS_RSYNC}, {"NONBLOCK", __WASI_FDFLAGS_NONBLOCK}};
    for (int i = 0; i < 3; i++) {
        char label[40];
        snprintf(label, sizeof label, "open %s", fl[i].n);
        if (wts_e(label, __wasi_path_open(dir, 0, "f2", 0, R(FD_READ) | R(FD_WRITE), 0, fl[i].f, &fd)) == 0) {
            __wasi_fd_fdstat_get(fd, &fst);
            printf("  flags=%d\n", fst.fs_flags);
            __wasi_fd_close(fd);
        }
    }
    /* and fd_fdstat_set_flags with each flag */
    if (__wasi_path_open(dir, 0, "f2", 0, R(FD_READ) | R(FD_WRITE) | R(FD_FDSTAT_SET_FLAGS), 0, 0, &fd) == 0) {
        static const struct { const char *n; __wasi_fdflags_t f; } all[] = {
            {"APPEND", __WASI_FDFLAGS_APPEND}, {"DSYNC", __WASI_FDFLAGS_DSYNC}, {"NONBLOCK", __WASI_FDFLAGS_NONBLOCK},
            {"RSYNC", __WASI_FDFLAGS_RSYNC}, {"SYNC", __WASI_FDFLAGS_SYNC}};
        /* (unknown flag bits trap in wasmtime, like invalid enum values: not called) */
        for (int i = 0; i < 5; i++) {
            char label[48];
            snprintf(label, sizeof label, "set_flags %s", all[i].n);
            wts_e(label, __wasi_fd_fdstat_set_flags(fd, all[i].f));
            __wasi_fd_fdstat_get(fd, &fst);
            printf("  flags=%d\n", fst.fs_flags);
        }
        __wasi_fd_close(fd);
    }
    wts_e("open missing with SYNC", __wasi_path_open(dir, 0, "missing", 0, R(FD_READ), 0, __WASI_FDFLAGS_SYNC, &fd));
    wts_e("create with DSYNC", __wasi_path_open(dir, 0, "new", __WASI_OFLAGS_CREAT, R(FD_WRITE), 0, __WASI_FDFLAGS_DSYNC, &fd));
    wts_stat("new after DSYNC create", dir, 0, "new");
    wts_e("open SYNC on a directory", __wasi_path_open(dir, 0, ".", __WASI_OFLAGS_DIRECTORY, R(FD_READ), 0, __WASI_FDFLAGS_SYNC, &fd));
    wts_e("unlink", __wasi_path_unlink_file(dir, "f2"));
}

static void symlink_filestat(__wasi_fd_t dir) {
    __wasi_fd_t fd;
    wts_e("create", __wasi_path_open(dir, 0, "file", __WASI_OFLAGS_CREAT, R(FD_READ) | R(FD_WRITE) | R(PATH_FILESTAT_GET), 0, 0, &fd));
    __wasi_filestat_t file_stat = pstat(dir, 0, "file");
    wts_e("symlink", __wasi_path_symlink("file", dir, "symlink"));
    __wasi_filestat_t sym_stat = pstat(dir, 0, "symlink");
    __wasi_timestamp_t sym_new = sym_stat.mtim - 200;
    wts_e("set link mtim", __wasi_path_filestat_set_times(dir, 0, "symlink", 0, sym_new, __WASI_FSTFLAGS_MTIM));
    check(pstat(dir, 0, "symlink").mtim == sym_new, "symlink mtim changed");
    check(pstat(dir, 0, "file").mtim == file_stat.mtim, "pointee mtim unchanged");
    check(pstat(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "symlink").mtim == file_stat.mtim, "followed stat is the pointee's");
    wts_e("set mtim through link", __wasi_path_filestat_set_times(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "symlink", 0, sym_stat.mtim, __WASI_FSTFLAGS_MTIM));
    check(pstat(dir, 0, "file").mtim == sym_stat.mtim, "pointee mtim changed through link");
    wts_e("close", __wasi_fd_close(fd));
    wts_e("unlink symlink", __wasi_path_unlink_file(dir, "symlink"));
    wts_e("unlink file", __wasi_path_unlink_file(dir, "file"));
}

static void fd_flags_set(__wasi_fd_t dir) {
    static uint8_t data[100], buf[100];
    __wasi_fd_t fd;
    __wasi_filesize_t pos;
    __wasi_size_t n;
    wts_e("open append", __wasi_path_open(dir, 0, "f3", __WASI_OFLAGS_CREAT,
          R(FD_READ) | R(FD_WRITE) | R(FD_SEEK) | R(FD_TELL) | R(FD_FDSTAT_SET_FLAGS), 0, __WASI_FDFLAGS_APPEND, &fd));
    __wasi_ciovec_t c = {data, 100};
    __wasi_iovec_t r = {buf, 100};
    memset(data, 0, 100);
    check(__wasi_fd_write(fd, &c, 1, &n) == 0 && n == 100, "write 100");
    __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos);
    check(__wasi_fd_read(fd, &r, 1, &n) == 0 && n == 100 && memcmp(data, buf, 100) == 0, "read back");
    memset(data, 1, 100);
    __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos);
    check(__wasi_fd_write(fd, &c, 1, &n) == 0 && n == 100, "append after seek 0");
    __wasi_fd_seek(fd, 100, __WASI_WHENCE_SET, &pos);
    check(__wasi_fd_read(fd, &r, 1, &n) == 0 && n == 100 && memcmp(data, buf, 100) == 0, "appended at the end");
    wts_e("clear flags", __wasi_fd_fdstat_set_flags(fd, 0));
    __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos);
    memset(data, 2, 100);
    check(__wasi_fd_write(fd, &c, 1, &n) == 0 && n == 100, "overwrite");
    __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos);
    check(__wasi_fd_read(fd, &r, 1, &n) == 0 && n == 100 && memcmp(data, buf, 100) == 0, "overwritten at 0");
    wts_e("close", __wasi_fd_close(fd));
    check(pstat(dir, 0, "f3").size == 200, "size 200");
    wts_e("unlink", __wasi_path_unlink_file(dir, "f3"));
}

int main(int argc, char **argv) {
    __wasi_fd_t root = wts_root(argc, argv);
    __wasi_fd_t dir = wts_scratch(root, D);
    fd_filestat_set(dir);
    path_filestat(dir);
    symlink_filestat(dir);
    fd_flags_set(root); /* the suite runs this one in the root directory itself */
    wts_done(root, dir, D);
    return 0;
}
