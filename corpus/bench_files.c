/*
 * File-heavy benchmark guest: N 16-byte write()s to a fresh file in argv[2]
 * (default /data), one lseek back to 0, then N 16-byte read()s. POSIX write/read
 * on a descriptor map 1:1 to fd_write/fd_read, so the loop makes exactly 2N
 * syscalls; the fixed set-up/tear-down is measured separately with N=0.
 * Usage: bench_files N [DIR]
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "common.h"

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000;
    const char *dir = argc > 2 ? argv[2] : "/data";
    char path[512];
    snprintf(path, sizeof path, "%s/bench.bin", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        printf("open: %s(%d)\n", errname(errno), errno);
        return 1;
    }
    char rec[16] = "0123456789abcdef";
    long bad = 0;
    for (long i = 0; i < n; i++)
        if (write(fd, rec, sizeof rec) != (ssize_t)sizeof rec) bad++;
    lseek(fd, 0, SEEK_SET);
    char buf[16];
    for (long i = 0; i < n; i++)
        if (read(fd, buf, sizeof buf) != (ssize_t)sizeof buf || memcmp(buf, rec, 16)) bad++;
    close(fd);
    unlink(path);
    printf("bench_files n=%ld syscalls_in_loop=%ld bad=%ld\n", n, 2 * n, bad);
    return bad != 0;
}
