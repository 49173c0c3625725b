/* wasi-testsuite areas: close_preopen, overwrite_preopen, renumber, fd_advise,
 * file_allocate, fd_flags_set, isatty (a file is not a tty). */
#include <unistd.h>

#include "wts.h"

#define D "fd_misc.cleanup"

static void fdstat(const char *label, __wasi_fd_t fd) {
    __wasi_fdstat_t st;
    __wasi_errno_t e = __wasi_fd_fdstat_get(fd, &st);
    if (e) wts_e(label, e);
    else printf("%s: OK type=%d flags=%d\n", label, st.fs_filetype, st.fs_flags);
}

int main(int argc, char **argv) {
    __wasi_fd_t root = wts_root(argc, argv);
    __wasi_fd_t dir = wts_scratch(root, D);
    __wasi_fd_t pre = 3;
    printf("root above preopen=%d\n", root > pre);

    /* isatty on a file created with no rights at all, and on stdio (pipes or files) */
    int64_t z = wts_open("create with no rights", dir, "tty", __WASI_OFLAGS_CREAT, 0, 0);
    if (z >= 0) {
        errno = 0;
        int t = isatty((int)z);
        printf("isatty(file)=%d %s\n", t, errname(errno));
        __wasi_fd_close((__wasi_fd_t)z);
    }
    wts_e("unlink tty", __wasi_path_unlink_file(dir, "tty"));
    printf("isatty(stdin/stdout/stderr)=%d%d%d\n", isatty(0), isatty(1), isatty(2));

    /* fd_advise / fd_allocate */
    int64_t f = wts_open("create", dir, "file", __WASI_OFLAGS_CREAT, WTS_FILE_RW, 0);
    if (f < 0) return 1;
    __wasi_fd_t fd = (__wasi_fd_t)f;
    wts_e("set size 100", __wasi_fd_filestat_set_size(fd, 100));
    wts_e("advise normal", __wasi_fd_advise(fd, 10, 50, __WASI_ADVICE_NORMAL));
    wts_e("advise sequential", __wasi_fd_advise(fd, 0, 0, __WASI_ADVICE_SEQUENTIAL));
    wts_e("advise random", __wasi_fd_advise(fd, 0, 100, __WASI_ADVICE_RANDOM));
    wts_e("advise willneed", __wasi_fd_advise(fd, 0, 100, __WASI_ADVICE_WILLNEED));
    wts_e("advise dontneed", __wasi_fd_advise(fd, 0, 100, __WASI_ADVICE_DONTNEED));
    wts_e("advise noreuse", __wasi_fd_advise(fd, 0, 100, __WASI_ADVICE_NOREUSE));
    wts_e("advise bad fd", __wasi_fd_advise(999, 0, 100, __WASI_ADVICE_NORMAL));
    wts_e("advise dir", __wasi_fd_advise(dir, 0, 100, __WASI_ADVICE_NORMAL));
    wts_e("allocate within", __wasi_fd_allocate(fd, 0, 50));
    wts_e("allocate beyond", __wasi_fd_allocate(fd, 90, 20));
    wts_e("allocate bad fd", __wasi_fd_allocate(999, 0, 1));
    __wasi_filestat_t st;
    __wasi_fd_filestat_get(fd, &st);
    printf("size after allocate=%llu\n", (unsigned long long)st.size);

    /* fd flags */
    fdstat("fdstat file", fd);
    wts_e("set APPEND", __wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_APPEND));
    fdstat("fdstat after APPEND", fd);
    __wasi_filesize_t pos;
    wts_e("seek 0", __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
    wts_write("append write", fd, "END", 3);
    __wasi_fd_filestat_get(fd, &st);
    printf("size after append=%llu\n", (unsigned long long)st.size);
    wts_e("clear flags", __wasi_fd_fdstat_set_flags(fd, 0));
    fdstat("fdstat cleared", fd);
    wts_e("seek 0", __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
    wts_write("plain write", fd, "AB", 2);
    __wasi_fd_tell(fd, &pos);
    printf("offset=%llu\n", (unsigned long long)pos);
    wts_e("set NONBLOCK", __wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_NONBLOCK));
    fdstat("fdstat NONBLOCK", fd);
    wts_e("set flags bad fd", __wasi_fd_fdstat_set_flags(999, 0));
    wts_e("sync", __wasi_fd_sync(fd));
    wts_e("datasync", __wasi_fd_datasync(fd));

    /* renumber */
    int64_t g = wts_open("open second", dir, "file", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL, 0);
    if (g >= 0) {
        __wasi_fd_t gd = (__wasi_fd_t)g;
        wts_e("renumber second onto first", __wasi_fd_renumber(gd, fd));
        fdstat("old number after renumber", gd);
        fdstat("new number after renumber", fd);
        __wasi_fd_tell(fd, &pos);
        printf("offset of renumbered=%llu\n", (unsigned long long)pos);
        wts_read("read renumbered", fd, 4);
        wts_e("renumber closed from", __wasi_fd_renumber(gd, fd));
        wts_e("renumber onto closed", __wasi_fd_renumber(fd, gd));
        wts_e("renumber to itself", __wasi_fd_renumber(fd, fd));
        wts_e("renumber bad to bad", __wasi_fd_renumber(998, 999));
    }
    wts_e("close", __wasi_fd_close(fd));
    wts_e("close again", __wasi_fd_close(fd));

    /* overwrite a preopen with renumber, then close the preopen */
    int64_t h = wts_open("open third", dir, "file", 0, __WASI_RIGHTS_FD_READ, 0);
    __wasi_fd_t dup_pre;
    if (wts_e("reopen preopen", __wasi_path_open(pre, 0, ".", __WASI_OFLAGS_DIRECTORY, WTS_DIR_BASE, WTS_DIR_INHERIT, 0, &dup_pre)) == 0) {
        if (h >= 0) {
            wts_e("renumber file onto preopen", __wasi_fd_renumber((__wasi_fd_t)h, pre));
            fdstat("preopen slot now", pre);
            __wasi_prestat_t ps;
            wts_e("prestat of overwritten preopen", __wasi_fd_prestat_get(pre, &ps));
            wts_e("renumber preopen copy back", __wasi_fd_renumber(dup_pre, pre));
            fdstat("preopen slot restored", pre);
            wts_e("prestat of restored slot", __wasi_fd_prestat_get(pre, &ps));
        }
    }
    wts_e("unlink file", __wasi_path_unlink_file(dir, "file"));
    wts_done(root, dir, D);
    /* overwrite_preopen: renumber a directory fd over the preopen */
    {
        __wasi_fd_t over;
        wts_e("mkdir over", __wasi_path_create_directory(root, "over.cleanup"));
        if (wts_e("open over", __wasi_path_open(root, 0, "over.cleanup", __WASI_OFLAGS_DIRECTORY, WTS_DIR_BASE, WTS_DIR_INHERIT, 0, &over)) == 0) {
            __wasi_filestat_t before, after;
            __wasi_fd_filestat_get(over, &before);
            wts_e("renumber dir over preopen", __wasi_fd_renumber(over, pre));
            wts_e("filestat of preopen slot", __wasi_fd_filestat_get(pre, &after));
            printf("same dev=%d same ino=%d\n", before.dev == after.dev, before.ino == after.ino);
            fdstat("renumbered-away fd", over);
        }
        wts_e("rmdir over", __wasi_path_remove_directory(root, "over.cleanup"));
    }
    wts_e("close preopen", __wasi_fd_close(pre));
    fdstat("root after closing preopen", root);
    fdstat("closed preopen", pre);
    __wasi_prestat_t ps;
    wts_e("prestat closed preopen", __wasi_fd_prestat_get(pre, &ps));
    return 0;
}
