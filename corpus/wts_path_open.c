/* wasi-testsuite area: path_open (dirfd not a dir, missing, create existing,
 * O_DIRECTORY, trailing slashes, preopen paths, read/write rights, nonblock). */
#include "wts.h"

#define D "path_open.cleanup"

int main(int argc, char **argv) {
    __wasi_fd_t root = wts_root(argc, argv);
    __wasi_fd_t dir = wts_scratch(root, D);
    __wasi_fd_t fd;
    wts_make_file(dir, "file", "hello");
    wts_e("mkdir subdir", __wasi_path_create_directory(dir, "subdir"));

    /* dirfd that is not a directory */
    int64_t f = wts_open("open file ro", dir, "file", 0, __WASI_RIGHTS_FD_READ, 0);
    if (f >= 0) {
        wts_e("open via file dirfd", __wasi_path_open((__wasi_fd_t)f, 0, "foo", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd));
        wts_e("open . via file dirfd", __wasi_path_open((__wasi_fd_t)f, 0, ".", 0, 0, 0, 0, &fd));
        wts_e("mkdir via file dirfd", __wasi_path_create_directory((__wasi_fd_t)f, "x"));
        __wasi_fd_t ff = (__wasi_fd_t)f;
        __wasi_filestat_t fs;
        __wasi_size_t used;
        uint8_t lb[8];
        wts_e("rmdir via file dirfd", __wasi_path_remove_directory(ff, "x"));
        wts_e("unlink via file dirfd", __wasi_path_unlink_file(ff, "x"));
        wts_e("stat via file dirfd", __wasi_path_filestat_get(ff, 0, "x", &fs));
        wts_e("stat . via file dirfd", __wasi_path_filestat_get(ff, 0, ".", &fs));
        wts_e("set times via file dirfd", __wasi_path_filestat_set_times(ff, 0, "x", 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
        wts_e("symlink via file dirfd", __wasi_path_symlink("t", ff, "x"));
        wts_e("readlink via file dirfd", __wasi_path_readlink(ff, "x", lb, sizeof lb, &used));
        wts_e("rename from file dirfd", __wasi_path_rename(ff, "x", dir, "y"));
        wts_e("rename to file dirfd", __wasi_path_rename(dir, "file", ff, "y"));
        wts_e("link from file dirfd", __wasi_path_link(ff, 0, "x", dir, "y"));
        wts_e("link to file dirfd", __wasi_path_link(dir, 0, "file", ff, "y"));
        wts_e("readdir file", __wasi_fd_readdir(ff, lb, sizeof lb, 0, &used));
        wts_write("write to read-only fd", (__wasi_fd_t)f, "x", 1);
        wts_read("read ro", (__wasi_fd_t)f, 16);
        __wasi_fdstat_t st;
        wts_e("fdstat ro", __wasi_fd_fdstat_get((__wasi_fd_t)f, &st));
        printf("ro: type=%d flags=%d\n", st.fs_filetype, st.fs_flags);
        __wasi_fd_close((__wasi_fd_t)f);
    }
    /* missing */
    wts_e("open missing", __wasi_path_open(dir, 0, "missing", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd));
    wts_e("open missing/x", __wasi_path_open(dir, 0, "missing/x", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, 0, &fd));
    wts_e("open missing O_DIRECTORY", __wasi_path_open(dir, 0, "missing", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd));
    /* create existing */
    wts_e("creat excl existing", __wasi_path_open(dir, 0, "file", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, __WASI_RIGHTS_FD_WRITE, 0, 0, &fd));
    wts_e("creat excl existing dir", __wasi_path_open(dir, 0, "subdir", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, 0, 0, 0, &fd));
    wts_e("creat|directory", __wasi_path_open(dir, 0, "newdir", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd));
    wts_e("creat existing dir", __wasi_path_open(dir, 0, "subdir", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, 0, &fd));
    /* O_DIRECTORY and trailing slashes */
    wts_e("O_DIRECTORY on file", __wasi_path_open(dir, 0, "file", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd));
    wts_e("file/ ro", __wasi_path_open(dir, 0, "file/", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd));
    wts_e("file/. ro", __wasi_path_open(dir, 0, "file/.", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd));
    wts_e("creat new/", __wasi_path_open(dir, 0, "new/", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, 0, &fd));
    if (wts_e("subdir/ O_DIRECTORY", __wasi_path_open(dir, 0, "subdir/", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd)) == 0)
        __wasi_fd_close(fd);
    if (wts_e("subdir// plain", __wasi_path_open(dir, 0, "subdir//", 0, 0, 0, 0, &fd)) == 0)
        __wasi_fd_close(fd);
    wts_e("dir with FD_WRITE", __wasi_path_open(dir, 0, "subdir", 0, __WASI_RIGHTS_FD_WRITE, 0, 0, &fd));
    wts_e("dir with TRUNC", __wasi_path_open(dir, 0, "subdir", __WASI_OFLAGS_TRUNC, __WASI_RIGHTS_FD_WRITE, 0, 0, &fd));
    /* read/write rights */
    int64_t rw = wts_open("open rw", dir, "file", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE, 0);
    if (rw >= 0) {
        wts_read("rw read", (__wasi_fd_t)rw, 2);
        wts_write("rw write", (__wasi_fd_t)rw, "XY", 2);
        __wasi_fd_close((__wasi_fd_t)rw);
    }
    int64_t wo = wts_open("open wo", dir, "file", 0, __WASI_RIGHTS_FD_WRITE, 0);
    if (wo >= 0) {
        wts_read("wo read", (__wasi_fd_t)wo, 2);
        wts_write("wo write", (__wasi_fd_t)wo, "Z", 1);
        __wasi_fd_close((__wasi_fd_t)wo);
    }
    int64_t check = wts_open("reopen", dir, "file", 0, __WASI_RIGHTS_FD_READ, 0);
    if (check >= 0) {
        wts_read("contents", (__wasi_fd_t)check, 32);
        __wasi_fd_close((__wasi_fd_t)check);
    }
    /* read/write rights reported for read-only, write-only and read-write opens
     * (path_open_read_write checks these on every host) */
    {
        static const struct { const char *n; __wasi_rights_t r; } rw_modes[] = {
            {"FD_READ", __WASI_RIGHTS_FD_READ}, {"FD_WRITE", __WASI_RIGHTS_FD_WRITE},
            {"FD_READ|FD_WRITE|FD_FILESTAT_GET", __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_FILESTAT_GET}};
        for (int i = 0; i < 3; i++) {
            __wasi_fd_t m;
            char label[80];
            snprintf(label, sizeof label, "rights of %s open", rw_modes[i].n);
            if (wts_e(label, __wasi_path_open(root, 0, D "/file", 0, rw_modes[i].r, 0, 0, &m)) != 0)
                continue;
            __wasi_fdstat_t st;
            __wasi_fd_fdstat_get(m, &st);
            printf("  has read=%d has write=%d\n", !!(st.fs_rights_base & __WASI_RIGHTS_FD_READ),
                   !!(st.fs_rights_base & __WASI_RIGHTS_FD_WRITE));
            __wasi_fd_close(m);
        }
    }

    /* which requested rights open the file for writing */
    static const struct { const char *name; __wasi_rights_t r; } modes[] = {
        {"FD_WRITE|FD_FILESTAT_SET_SIZE", __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_FILESTAT_SET_SIZE},
        {"FD_DATASYNC", __WASI_RIGHTS_FD_DATASYNC},
        {"FD_ALLOCATE", __WASI_RIGHTS_FD_ALLOCATE},
        {"FD_FILESTAT_SET_SIZE", __WASI_RIGHTS_FD_FILESTAT_SET_SIZE},
        {"FD_READ|FD_FILESTAT_SET_SIZE", __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_FILESTAT_SET_SIZE},
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        __wasi_fd_t m;
        char label[80];
        snprintf(label, sizeof label, "open %s", modes[i].name);
        if (wts_e(label, __wasi_path_open(dir, 0, "file", 0, modes[i].r | __WASI_RIGHTS_FD_FILESTAT_GET, 0, 0, &m)) != 0)
            continue;
        __wasi_fdstat_t st;
        __wasi_fd_fdstat_get(m, &st);
        wts_e("  set size 5", __wasi_fd_filestat_set_size(m, 5));
        __wasi_fd_close(m);
    }
    wts_make_file(dir, "file", "hello");

    /* nonblock */
    int64_t nb = wts_open("open nonblock", dir, "file", 0, __WASI_RIGHTS_FD_READ, __WASI_FDFLAGS_NONBLOCK);
    if (nb >= 0) {
        __wasi_fdstat_t st;
        __wasi_fd_fdstat_get((__wasi_fd_t)nb, &st);
        printf("nonblock flags=%d\n", st.fs_flags);
        __wasi_fd_close((__wasi_fd_t)nb);
    }
    /* preopen paths */
    if (wts_e("open . of scratch", __wasi_path_open(dir, 0, ".", __WASI_OFLAGS_DIRECTORY, WTS_DIR_BASE, WTS_DIR_INHERIT, 0, &fd)) == 0) {
        __wasi_filestat_t st;
        wts_e("stat reopened", __wasi_fd_filestat_get(fd, &st));
        printf("reopened type=%d\n", st.filetype);
        __wasi_fd_close(fd);
    }
    wts_e("open ..", __wasi_path_open(root, 0, "..", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd));
    wts_e("open subdir/../..", __wasi_path_open(dir, 0, "subdir/../..", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd));
    wts_e("open absolute", __wasi_path_open(dir, 0, "/" D, __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd));
    wts_e("open empty path", __wasi_path_open(dir, 0, "", 0, 0, 0, 0, &fd));
    wts_e("open bad dirfd", __wasi_path_open(999, 0, "file", 0, 0, 0, 0, &fd));
    if (wts_e("open subdir/.. dir", __wasi_path_open(dir, 0, "subdir/..", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd)) == 0)
        __wasi_fd_close(fd);
    /* truncation through path_open */
    int64_t t = wts_open("open trunc", dir, "file", __WASI_OFLAGS_TRUNC, __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_FILESTAT_GET, 0);
    if (t >= 0) {
        __wasi_filestat_t st;
        __wasi_fd_filestat_get((__wasi_fd_t)t, &st);
        printf("size after trunc=%llu\n", (unsigned long long)st.size);
        __wasi_fd_close((__wasi_fd_t)t);
    }

    wts_e("rmdir subdir", __wasi_path_remove_directory(dir, "subdir"));
    wts_e("unlink file", __wasi_path_unlink_file(dir, "file"));
    wts_done(root, dir, D);
    return 0;
}
