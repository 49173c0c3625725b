/*
 * Calls in every shape the wasm recorder treats specially (record/wasmgen.py):
 * each must be journaled exactly as the Python recorder journals it. Out
 * regions that overlap (nread inside the read buffer), two iovecs, iovec
 * arrays and buffers outside memory, invalid flags and enums after a path
 * was read, a path that is not UTF-8 before a second path, inputs over the
 * digest threshold (to a file and to stdout), a read buffer larger than the
 * wasm tape, empty reads, readdir and readlink with their counts, random_get
 * of zero bytes. argv[1] is a writable directory (a preopen).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>
#include "common.h"

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

static void say(const char *what, __wasi_errno_t e) { printf("%s: %s\n", what, errname(e)); }

static __wasi_fd_t open_file(int dir, const char *path, __wasi_oflags_t oflags) {
    __wasi_fd_t fd = 0;
    __wasi_errno_t e = __wasi_path_open(dir, 0, path, oflags, ~0ull, ~0ull, 0, &fd);
    if (e != 0) {
        say(path, e);
        exit(1);
    }
    return fd;
}

int main(int argc, char **argv) {
    int dir = preopen_fd(argc > 1 ? argv[1] : "/t");
    if (dir < 0) return 1;
    __wasi_fd_t fd = open_file(dir, "data.txt", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC);
    static uint8_t big[6000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 7);
    __wasi_size_t n = 0;

    /* an input over the digest threshold: to a file (digest), to stdout (kept) */
    __wasi_ciovec_t one = {big, sizeof big};
    say("write 6000 to file", __wasi_fd_write(fd, &one, 1, &n));
    __wasi_ciovec_t line = {(const uint8_t *)"0123456789\n", 11};
    say("write line", __wasi_fd_write(fd, &line, 1, &n));
    static char out[5000];
    memset(out, 'x', sizeof out - 1);
    out[sizeof out - 1] = '\n';
    __wasi_ciovec_t big_out = {(const uint8_t *)out, sizeof out};
    __wasi_fd_write(1, &big_out, 1, &n);

    /* two iovecs in, two out */
    __wasi_ciovec_t two[2] = {{(const uint8_t *)"ab", 2}, {(const uint8_t *)"cd\n", 3}};
    say("write two iovecs", __wasi_fd_write(fd, two, 2, &n));
    __wasi_filesize_t pos = 0;
    say("seek", __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
    uint8_t a[4], b[4];
    __wasi_iovec_t split[2] = {{a, sizeof a}, {b, sizeof b}};
    say("read two iovecs", __wasi_fd_read(fd, split, 2, &n));

    /* nread inside the buffer it counts (overlapping out regions) */
    static uint8_t buf[64];
    __wasi_iovec_t self = {buf, sizeof buf};
    say("read overlapping count", __wasi_fd_read(fd, &self, 1, (__wasi_size_t *)(buf + 8)));

    /* regions outside memory: the iovec array, the buffer, the count */
    uint8_t *far = (uint8_t *)0xFFFFFFF0u;
    say("read iovec array outside", __wasi_fd_read(fd, (__wasi_iovec_t *)far, 1, &n));
    __wasi_iovec_t outside = {far, 64};
    say("read buffer outside", __wasi_fd_read(fd, &outside, 1, &n));
    say("read count outside", __wasi_fd_read(fd, &self, 1, (__wasi_size_t *)far));
    say("stat outside", __wasi_fd_filestat_get(fd, (__wasi_filestat_t *)far));

    /* a buffer bigger than the tape (1 MiB), read at end of file: empty write */
    size_t huge_len = 2u << 20;
    uint8_t *huge = malloc(huge_len);
    __wasi_iovec_t huge_iov = {huge, huge_len};
    say("read into 2 MiB", __wasi_fd_read(fd, &huge_iov, 1, &n));
    say("seek 0", __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
    say("read 2 MiB", __wasi_fd_read(fd, &huge_iov, 1, &n));
    printf("read %u\n", (unsigned)n);
    free(huge);

    /* invalid flags and enums, after a path was read */
    __wasi_fd_t bad = 0;
    say("open bad oflags", __wasi_path_open(dir, 0, "data.txt", 0x80, 0, 0, 0, &bad));
    say("open bad lookupflags", __wasi_path_open(dir, 0x40, "data.txt", 0, 0, 0, 0, &bad));
    say("seek bad whence", __wasi_fd_seek(fd, 0, 9, &pos));
    __wasi_timestamp_t t = 0;
    say("clock bad id", __wasi_clock_time_get(77, 1, &t));

    /* not UTF-8, before a second path (Python stops reading at the first) */
    say("rename from bad path", __wasi_path_rename(dir, "bad\xff", dir, "new.txt"));
    say("rename to bad path", __wasi_path_rename(dir, "data.txt", dir, "bad\xfe"));
    say("mkdir bad path", __wasi_path_create_directory(dir, "\xc3"));
    say("mkdir", __wasi_path_create_directory(dir, "sub"));
    say("symlink", __wasi_path_symlink("data.txt", dir, "link"));

    /* counted outputs: readlink (short buffer too), readdir, random_get */
    char target[32];
    say("readlink", __wasi_path_readlink(dir, "link", (uint8_t *)target, sizeof target, &n));
    say("readlink short", __wasi_path_readlink(dir, "link", (uint8_t *)target, 3, &n));
    uint8_t dirents[512];
    say("readdir", __wasi_fd_readdir(dir, dirents, sizeof dirents, 0, &n));
    say("readdir tiny", __wasi_fd_readdir(dir, dirents, 10, 0, &n));
    say("random 0", __wasi_random_get(big, 0));
    say("random 16", __wasi_random_get(big, 16));
    say("close", __wasi_fd_close(fd));
    say("close again", __wasi_fd_close(fd));
    return 0;
}
