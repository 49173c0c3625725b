/*
 * WASIX fd cloning and pipes (module wasix_32v1; wasi-libc has no dup): dup'ed
 * descriptors share one open file description (offset and flags, as POSIX
 * says), closing one keeps the other, fd_dup2 picks the lowest free fd >= its
 * minimum, and a pipe carries bytes from its write end to its read end.
 * wasmtime has no WASIX, so this guest runs under wasi-rr only.
 * argv[1] is a writable directory.
 */
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>
#include "common.h"

#define WASIX(name) __attribute__((import_module("wasix_32v1"), import_name(name)))
WASIX("fd_dup") uint16_t wasix_fd_dup(uint32_t fd, uint32_t *ret);
WASIX("fd_dup2") uint16_t wasix_fd_dup2(uint32_t fd, uint32_t min_fd, uint32_t cloexec, uint32_t *ret);
WASIX("fd_pipe") uint16_t wasix_fd_pipe(uint32_t *rd, uint32_t *wr);

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/data";
    char path[512];
    snprintf(path, sizeof path, "%s/dup.txt", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "0123456789", 10);
    lseek(fd, 2, SEEK_SET);

    uint32_t d = 0;
    printf("fd_dup: %s\n", errname(wasix_fd_dup(fd, &d)));
    printf("dup is a new fd: %d\n", (int)d != fd);
    printf("dup sees shared offset: %lld\n", (long long)lseek(d, 0, SEEK_CUR));
    char buf[32];
    read(d, buf, 3);
    printf("offset via original after reading 3 via dup: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    fcntl(fd, F_SETFL, O_APPEND);
    printf("append flag shared: %d\n", !!(fcntl(d, F_GETFL) & O_APPEND));
    fcntl(fd, F_SETFL, 0);
    close(fd);
    lseek(d, 0, SEEK_SET);
    printf("dup still works after closing original: %zd\n", read(d, buf, 4));
    printf("fd_dup bad fd: %s\n", errname(wasix_fd_dup(99, &d)));

    uint32_t d2 = 0;
    printf("fd_dup2 min 20: %s fd=%u\n", errname(wasix_fd_dup2(d, 20, 0, &d2)), d2);
    uint32_t d3 = 0;
    printf("fd_dup2 min 20 again: %s fd=%u\n", errname(wasix_fd_dup2(d, 20, 0, &d3)), d3);
    close(d2);
    printf("fd_dup2 reuses freed: %s fd=%u\n", errname(wasix_fd_dup2(d, 20, 0, &d2)), d2);
    close(d2);
    close(d3);
    close(d);

    uint32_t rd = 0, wr = 0;
    printf("fd_pipe: %s distinct=%d\n", errname(wasix_fd_pipe(&rd, &wr)), rd != wr);
    printf("pipe write: %zd\n", write(wr, "through the pipe", 16));
    memset(buf, 0, sizeof buf);
    printf("pipe read: %zd [%s]\n", read(rd, buf, sizeof buf - 1), buf);
    errno = 0;
    printf("write to read end: %zd %s\n", write(rd, "x", 1), errname(errno));
    errno = 0;
    printf("lseek on a pipe: %lld %s(%d)\n", (long long)lseek(rd, 0, SEEK_CUR), errname(errno), errno);
    close(wr);
    printf("read after writer closed (EOF): %zd\n", read(rd, buf, sizeof buf));
    close(rd);
    return 0;
}
