/*
 * WASIX fork with a redirect: the child moves a pipe's write end onto its fd 1
 * (fd_renumber, as a shell does for `cmd | ...`) and prints there; the parent
 * keeps the real stdout and prints what it read from the pipe.  Replay must
 * reproduce only the parent's stdout (the child's fd 1 is a pipe).
 */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <wasi/api.h>

#define WASIX(name) __attribute__((import_module("wasix_32v1"), import_name(name)))
WASIX("fd_pipe") uint16_t wasix_fd_pipe(uint32_t *rd, uint32_t *wr);
WASIX("proc_fork") uint16_t wasix_proc_fork(uint32_t copy_memory, uint32_t *pid);

int main(void) {
    uint32_t rd, wr, pid = 0;
    wasix_fd_pipe(&rd, &wr);
    printf("before fork\n");
    fflush(stdout);
    wasix_proc_fork(1, &pid);
    if (pid == 0) {
        close(rd);
        __wasi_fd_renumber(wr, 1);
        printf("child output, into the pipe\n");
        fflush(stdout);
        return 0;
    }
    close(wr);
    char buf[128];
    ssize_t n, total = 0;
    while ((n = read(rd, buf + total, sizeof buf - 1 - total)) > 0) total += n;
    buf[total] = 0;
    printf("parent read %zd bytes: %s", total, buf);
    return 0;
}
