/*
 * Raw WASI preview1 calls at the edges that libc normally smooths over:
 * fd_readdir with tiny buffers and explicit cookies, path_readlink and
 * fd_prestat_dir_name into short buffers, zero-iovec reads and writes, an
 * empty path, sockets calls on non-sockets, fd_fdstat_set_rights, and
 * proc_raise last. argv[1] is a writable directory (a preopen).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <wasi/api.h>
#include "common.h"

/* proc_raise is not declared by this wasi-libc's <wasi/api.h>. */
__attribute__((import_module("wasi_snapshot_preview1"), import_name("proc_raise")))
uint16_t raw_proc_raise(uint32_t sig);

static int preopen_fd(const char *name) {
    for (int fd = 3; fd < 64; fd++) {
        __wasi_prestat_t ps;
        if (__wasi_fd_prestat_get(fd, &ps) != 0) continue;
        char buf[256];
        size_t len = ps.u.dir.pr_name_len;
        if (len >= sizeof buf || __wasi_fd_prestat_dir_name(fd, (uint8_t *)buf, len) != 0) continue;
        buf[len] = 0;
        if (strcmp(buf, name) == 0) return fd;
    }
    return -1;
}

/* Read a whole directory with fd_readdir and a buffer of `size` bytes, following
   cookies as a careful reader must (an entry cut at the end is read again). */
static void readdir_with(int dfd, size_t size) {
    uint8_t *buf = malloc(size);
    __wasi_dircookie_t cookie = 0;
    int entries = 0, calls = 0, names_len = 0;
    for (;;) {
        __wasi_size_t used = 0;
        __wasi_errno_t e = __wasi_fd_readdir(dfd, buf, size, cookie, &used);
        calls++;
        if (e != 0) {
            printf("readdir buf=%zu: %s\n", size, errname(e));
            free(buf);
            return;
        }
        size_t off = 0;
        int progressed = 0;
        while (off + sizeof(__wasi_dirent_t) <= used) {
            __wasi_dirent_t d;
            memcpy(&d, buf + off, sizeof d);
            if (off + sizeof d + d.d_namlen > used) break; /* cut: re-read from cookie */
            entries++;
            names_len += d.d_namlen;
            cookie = d.d_next;
            off += sizeof d + d.d_namlen;
            progressed = 1;
        }
        if (used < size) break;
        if (!progressed) {
            printf("readdir buf=%zu: entry larger than buffer (used=%u)\n", size, (unsigned)used);
            free(buf);
            return;
        }
        if (calls > 10000) break;
    }
    printf("readdir buf=%zu: entries=%d name_bytes=%d\n", size, entries, names_len);
    free(buf);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/data";
    int pfd = preopen_fd(dir);
    printf("preopen found: %d\n", pfd >= 3);
    if (pfd < 3) return 1;
    char path[512];
    for (int i = 0; i < 12; i++) {
        snprintf(path, sizeof path, "%s/entry-%02d-%.*s", dir, i, i * 5, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        close(open(path, O_WRONLY | O_CREAT, 0644));
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    size_t sizes[] = {4096, 256, 100, 80, 64};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) readdir_with(dfd, sizes[i]);
    __wasi_size_t used = 0;
    uint8_t small[8];
    __wasi_errno_t e = __wasi_fd_readdir(dfd, small, sizeof small, 0, &used);
    printf("readdir 8-byte buffer: %s used=%u\n", errname(e), (unsigned)used);
    e = __wasi_fd_readdir(dfd, small, 0, 0, &used);
    printf("readdir 0-byte buffer: %s used=%u\n", errname(e), (unsigned)used);
    e = __wasi_fd_readdir(99, small, sizeof small, 0, &used);
    printf("readdir bad fd: %s\n", errname(e));
    int ffd = open(path, O_RDONLY);
    e = __wasi_fd_readdir(ffd, small, sizeof small, 0, &used);
    printf("readdir on a file: %s\n", errname(e));

    /* readlink and prestat names into short buffers */
    snprintf(path, sizeof path, "%s/link", dir);
    symlink("a-fairly-long-target-name", path);
    char rbuf[64];
    e = __wasi_path_readlink(pfd, "link", (uint8_t *)rbuf, 6, &used);
    printf("readlink into 6 bytes: %s used=%u [%.*s]\n", errname(e), (unsigned)used, (int)used, rbuf);
    e = __wasi_path_readlink(pfd, "link", (uint8_t *)rbuf, 0, &used);
    printf("readlink into 0 bytes: %s used=%u\n", errname(e), (unsigned)used);
    e = __wasi_fd_prestat_dir_name(pfd, (uint8_t *)rbuf, 2);
    printf("prestat_dir_name into 2 bytes: %s\n", errname(e));

    /* zero iovecs and an empty path */
    __wasi_size_t n = 99;
    e = __wasi_fd_write(1, NULL, 0, &n);
    printf("fd_write 0 iovecs: %s n=%u\n", errname(e), (unsigned)n);
    n = 99;
    e = __wasi_fd_read(ffd, NULL, 0, &n);
    printf("fd_read 0 iovecs: %s n=%u\n", errname(e), (unsigned)n);
    __wasi_fd_t nfd;
    e = __wasi_path_open(pfd, 0, "", 0, __WASI_RIGHTS_FD_READ, 0, 0, &nfd);
    printf("path_open empty path: %s\n", errname(e));
    __wasi_filestat_t st;
    e = __wasi_path_filestat_get(pfd, 0, "", &st);
    printf("path_filestat_get empty path: %s\n", errname(e));
    e = __wasi_path_filestat_get(pfd, 0, ".", &st);
    printf("path_filestat_get dot: %s type=%u\n", errname(e), st.filetype);

    /* sockets calls on things that are not sockets */
    e = __wasi_sock_accept(ffd, 0, &nfd);
    printf("sock_accept on a file: %s\n", errname(e));
    e = __wasi_sock_shutdown(ffd, __WASI_SDFLAGS_RD);
    printf("sock_shutdown on a file: %s\n", errname(e));
    e = __wasi_sock_shutdown(99, __WASI_SDFLAGS_RD);
    printf("sock_shutdown bad fd: %s\n", errname(e));

    /* rights: dropping FD_WRITE from a writable descriptor */
    snprintf(path, sizeof path, "%s/rights.txt", dir);
    int wfd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    __wasi_fdstat_t fs;
    printf("fdstat_get: %s\n", errname(__wasi_fd_fdstat_get(wfd, &fs)));
    e = __wasi_fd_fdstat_set_rights(wfd, fs.fs_rights_base & ~__WASI_RIGHTS_FD_WRITE,
                                    fs.fs_rights_inheriting);
    printf("fdstat_set_rights drop write: %s\n", errname(e));
    errno = 0;
    ssize_t w = write(wfd, "x", 1);
    printf("write after dropping FD_WRITE: %zd %s\n", w, w < 0 ? errname(errno) : "");
    e = __wasi_fd_fdstat_set_rights(wfd, fs.fs_rights_base, fs.fs_rights_inheriting);
    printf("fdstat_set_rights widen again: %s\n", errname(e));
    close(wfd);
    close(ffd);
    close(dfd);

    fflush(stdout);
    e = raw_proc_raise(15); /* SIGTERM */
    printf("proc_raise returned: %s\n", errname(e));
    return 0;
}
