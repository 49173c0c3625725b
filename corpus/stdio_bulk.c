/*
 * Bulk stdio: large writes to stdout in one call, many small stdio writes,
 * writev with many iovecs (handled as a careful program would: short writes are
 * legal), and stderr. Prints a checksum line at the end. Usage: stdio_bulk [KB]
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>
#include "common.h"

static int write_all(int fd, const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w <= 0) return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv) {
    size_t kb = argc > 1 ? (size_t)atol(argv[1]) : 256;
    size_t n = kb * 1024;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++) big[i] = (char)('a' + (i * 7 + i / 1024) % 26);
    for (size_t i = 99; i < n; i += 100) big[i] = '\n';
    big[n - 1] = '\n';
    fflush(stdout);
    if (write_all(1, big, n)) return 2;

    for (int i = 0; i < 2000; i++) printf("line %d %s\n", i, i % 3 ? "x" : "yy");
    fflush(stdout);

    struct iovec iov[64];
    char bufs[64][17];
    for (int i = 0; i < 64; i++) {
        snprintf(bufs[i], sizeof bufs[i], "[iov %02d]       ", i);
        bufs[i][15] = i % 8 == 7 ? '\n' : ' ';
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = 16;
    }
    ssize_t first = writev(1, iov, 64);
    size_t done = first > 0 ? (size_t)first : 0;
    for (int i = 0; i < 64; i++) {
        size_t start = (size_t)i * 16;
        if (done >= start + 16) continue;
        size_t skip = done > start ? done - start : 0;
        if (write_all(1, bufs[i] + skip, 16 - skip)) return 3;
        done = start + 16;
    }

    uint32_t sum = 0;
    for (size_t i = 0; i < n; i++) sum = sum * 31 + (unsigned char)big[i];
    fprintf(stderr, "stderr: %zu KB written, checksum %08x\n", kb, sum);
    for (int i = 0; i < 100; i++) fprintf(stderr, "e%d ", i);
    fprintf(stderr, "\n");
    printf("done\n");
    free(big);
    return 0;
}
