/*
 * Shared helpers for the wts_* guests, which mirror the areas the independent
 * WASI preview1 conformance suite (WebAssembly/wasi-testsuite) checks.
 *
 * Why raw __wasi_* calls: the suite asserts exact WASI errnos and rights, which
 * wasi-libc's POSIX layer would translate or hide. Every result is printed by
 * name and number, so the differential test compares wasi-rr with wasmtime byte
 * for byte. The scratch directory is opened with the same rights set the suite's
 * own helper asks for, so rights inheritance is exercised as the suite does.
 */
#ifndef CORPUS_WTS_H
#define CORPUS_WTS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#include "common.h"

#define WTS_DIR_BASE                                                          \
    (__WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_FD_READDIR |               \
     __WASI_RIGHTS_PATH_CREATE_FILE | __WASI_RIGHTS_PATH_CREATE_DIRECTORY |   \
     __WASI_RIGHTS_PATH_REMOVE_DIRECTORY | __WASI_RIGHTS_PATH_OPEN |          \
     __WASI_RIGHTS_PATH_UNLINK_FILE | __WASI_RIGHTS_PATH_LINK_SOURCE |        \
     __WASI_RIGHTS_PATH_LINK_TARGET | __WASI_RIGHTS_PATH_READLINK |           \
     __WASI_RIGHTS_PATH_RENAME_SOURCE | __WASI_RIGHTS_PATH_RENAME_TARGET |    \
     __WASI_RIGHTS_PATH_FILESTAT_GET | __WASI_RIGHTS_PATH_FILESTAT_SET_SIZE | \
     __WASI_RIGHTS_PATH_FILESTAT_SET_TIMES | __WASI_RIGHTS_PATH_SYMLINK)

#define WTS_DIR_INHERIT                                                       \
    (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE |                         \
     __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_FD_FILESTAT_GET |               \
     __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_PATH_LINK_SOURCE |                 \
     __WASI_RIGHTS_PATH_LINK_TARGET | __WASI_RIGHTS_PATH_OPEN |               \
     __WASI_RIGHTS_PATH_UNLINK_FILE | __WASI_RIGHTS_PATH_FILESTAT_GET |       \
     __WASI_RIGHTS_FD_FDSTAT_SET_FLAGS | __WASI_RIGHTS_FD_SYNC |              \
     __WASI_RIGHTS_FD_TELL | __WASI_RIGHTS_FD_ADVISE |                        \
     __WASI_RIGHTS_FD_ALLOCATE | __WASI_RIGHTS_FD_FILESTAT_SET_SIZE |         \
     __WASI_RIGHTS_FD_FILESTAT_SET_TIMES)

#define WTS_FILE_RW                                                          \
    (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SEEK | \
     __WASI_RIGHTS_FD_TELL | __WASI_RIGHTS_FD_FILESTAT_GET |                 \
     __WASI_RIGHTS_FD_FILESTAT_SET_SIZE | __WASI_RIGHTS_FD_FILESTAT_SET_TIMES | \
     __WASI_RIGHTS_FD_ADVISE | __WASI_RIGHTS_FD_ALLOCATE | __WASI_RIGHTS_FD_SYNC | \
     __WASI_RIGHTS_FD_DATASYNC | __WASI_RIGHTS_FD_FDSTAT_SET_FLAGS |         \
     __WASI_RIGHTS_POLL_FD_READWRITE)

/* Print "label: NAME(n)" for a raw WASI errno (wasi-libc's E* are WASI's). */
static __wasi_errno_t wts_e(const char *label, __wasi_errno_t e) {
    printf("%s: %s(%d)\n", label, errname(e), (int)e);
    return e;
}

/* Print a check with a printf-formatted detail. */
#define WTS_SAY(...) printf(__VA_ARGS__)

/* Find the preopened directory called `name` (fd 3 upwards, as the suite does). */
static __wasi_fd_t wts_preopen(const char *name) {
    for (__wasi_fd_t fd = 3;; fd++) {
        __wasi_prestat_t st;
        if (__wasi_fd_prestat_get(fd, &st) != 0)
            break;
        if (st.tag != __WASI_PREOPENTYPE_DIR)
            continue;
        char buf[256];
        size_t n = st.u.dir.pr_name_len;
        if (n >= sizeof buf || __wasi_fd_prestat_dir_name(fd, (uint8_t *)buf, n) != 0)
            continue;
        buf[n] = 0;
        if (strcmp(buf, name) == 0)
            return fd;
    }
    printf("no preopen named %s\n", name);
    exit(2);
}

/* The test root: argv[1] names the preopen ("/" when absent, the suite's newest
 * layout); reopened with "." and the preopen's own rights, as the suite does. */
static __wasi_fd_t wts_root(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "/";
    __wasi_fd_t pre = wts_preopen(name);
    __wasi_fdstat_t st;
    if (__wasi_fd_fdstat_get(pre, &st) != 0) {
        printf("fdstat of preopen failed\n");
        exit(2);
    }
    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(pre, 0, ".", __WASI_OFLAGS_DIRECTORY,
                                        st.fs_rights_base, st.fs_rights_inheriting, 0, &fd);
    if (e != 0) {
        wts_e("open root", e);
        exit(2);
    }
    return fd;
}

/* Create and open a scratch directory with the suite's rights set. */
static __wasi_fd_t wts_scratch(__wasi_fd_t root, const char *name) {
    __wasi_fd_t fd;
    if (wts_e("mkdir scratch", __wasi_path_create_directory(root, name)) != 0)
        exit(2);
    if (wts_e("open scratch", __wasi_path_open(root, 0, name, __WASI_OFLAGS_DIRECTORY,
                                              WTS_DIR_BASE, WTS_DIR_INHERIT, 0, &fd)) != 0)
        exit(2);
    return fd;
}

/* Close the scratch directory and remove it (it must be empty again). */
static void wts_done(__wasi_fd_t root, __wasi_fd_t dir, const char *name) {
    wts_e("close scratch", __wasi_fd_close(dir));
    wts_e("rmdir scratch", __wasi_path_remove_directory(root, name));
}

/* Open (creating) a file in `dir` with `oflags` and `rights`; -1 on error. */
static int64_t wts_open(const char *label, __wasi_fd_t dir, const char *path,
                        __wasi_oflags_t oflags, __wasi_rights_t rights,
                        __wasi_fdflags_t fdflags) {
    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(dir, 0, path, oflags, rights, 0, fdflags, &fd);
    wts_e(label, e);
    return e == 0 ? (int64_t)fd : -1;
}

/* Create a file with `data` (may be NULL) and close it. */
static void wts_make_file(__wasi_fd_t dir, const char *path, const char *data) {
    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(dir, 0, path, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC,
                                        __WASI_RIGHTS_FD_WRITE, 0, 0, &fd);
    if (e != 0) {
        printf("make %s: %s(%d)\n", path, errname(e), (int)e);
        return;
    }
    if (data) {
        __wasi_ciovec_t iov = {(const uint8_t *)data, strlen(data)};
        __wasi_size_t n;
        __wasi_fd_write(fd, &iov, 1, &n);
    }
    __wasi_fd_close(fd);
}

/* Write `data` in one call; print the errno and count. */
static void wts_write(const char *label, __wasi_fd_t fd, const void *data, size_t len) {
    __wasi_ciovec_t iov = {(const uint8_t *)data, len};
    __wasi_size_t n = 0;
    __wasi_errno_t e = __wasi_fd_write(fd, &iov, 1, &n);
    printf("%s: %s(%d) n=%u\n", label, errname(e), (int)e, (unsigned)(e ? 0 : n));
}

/* Read up to `len` bytes in one call; print the errno, count and bytes. */
static void wts_read(const char *label, __wasi_fd_t fd, size_t len) {
    uint8_t buf[256];
    if (len > sizeof buf)
        len = sizeof buf;
    __wasi_iovec_t iov = {buf, len};
    __wasi_size_t n = 0;
    __wasi_errno_t e = __wasi_fd_read(fd, &iov, 1, &n);
    if (e) n = 0;
    printf("%s: %s(%d) n=%u [%.*s]\n", label, errname(e), (int)e, (unsigned)n, (int)n, buf);
}

/* Print the file type and size seen by path_filestat_get (flags as given). */
static void wts_stat(const char *label, __wasi_fd_t dir, __wasi_lookupflags_t fl, const char *p) {
    __wasi_filestat_t st;
    __wasi_errno_t e = __wasi_path_filestat_get(dir, fl, p, &st);
    if (e)
        wts_e(label, e);
    else
        printf("%s: OK type=%d size=%llu nlink=%llu\n", label, (int)st.filetype,
               (unsigned long long)st.size, (unsigned long long)st.nlink);
}

#endif
