/*
 * Output a replay must reproduce exactly: stdout and stderr interleaved call by
 * call, with sizes that vary (1 byte to more than 64 KiB, larger than the wasm
 * replayer's output area), a short write cut by the host (none here: the count
 * is what the call answered), stdout moved to another fd with fd_renumber and
 * a WASIX duplicate of stderr, a file written through fd 1 once it is no longer
 * stdout, and text sent to a closed fd (EBADF, never printed).
 * Usage: stdio_mix [ROUNDS]
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <wasi/api.h>
#include "common.h"

__attribute__((import_module("wasix_32v1"), import_name("fd_dup")))
uint16_t wasix_fd_dup(uint32_t fd, uint32_t *ret);
__attribute__((import_module("wasix_32v1"), import_name("fd_dup2")))
uint16_t wasix_fd_dup2(uint32_t fd, uint32_t min_fd, uint32_t cloexec, uint32_t *ret);

static void put(int fd, const char *s, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 50;
    char line[128];
    int n;
    for (int i = 0; i < rounds; i++) {
        n = snprintf(line, sizeof line, "out %d %.*s\n", i, i % 40, "abcdefghijklmnopqrstuvwxyz0123456789ABCD");
        put(1, line, (size_t)n);
        n = snprintf(line, sizeof line, "err %d\n", i * i);
        put(2, line, (size_t)n);
    }
    size_t big = 70 * 1024 + 13;
    char *buf = malloc(big);
    for (size_t i = 0; i < big; i++) buf[i] = (char)('a' + i % 23);
    buf[big - 1] = '\n';
    put(1, buf, big);
    put(2, "after big\n", 10);
    put(1, "x", 1);
    put(2, "y", 1);
    put(1, "\n", 1);

    uint32_t dup_err = 0;
    if (wasix_fd_dup(2, &dup_err) == 0) put((int)dup_err, "via dup of stderr\n", 18);

    /* stdout moves onto another open fd (renumber needs an open target), then a
       file takes the lowest free fd >= 1, which is 1 */
    int f = open("/tmp/moved.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int g = open("/tmp/scratch.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    uint32_t one = 0;
    int out = 1;
    if (f >= 0 && g >= 0 && __wasi_fd_renumber(1, (__wasi_fd_t)g) == 0
            && wasix_fd_dup2((uint32_t)f, 1, 0, &one) == 0 && one == 1) {
        out = g;
        n = snprintf(line, sizeof line, "stdout now at fd %d\n", out);
        put(out, line, (size_t)n);
        put(1, "into the file, not stdout\n", 26);
        put(2, "stderr unchanged\n", 17);
    }
    ssize_t bad = write(42, "never\n", 6);
    n = snprintf(line, sizeof line, "write to closed fd: %s\n", bad < 0 ? errname(errno) : "OK");
    put(out, line, (size_t)n);
    return 0;
}
