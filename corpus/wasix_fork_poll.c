/*
 * WASIX processes and poll(2): the parent polls the read end of a pipe (with
 * a 10 s timeout) that only its child writes to, after the parent told it to
 * go.  wasi-rr parks the parent's poll_oneoff while the child runs, so the
 * poll reports the pipe readable instead of waiting for the timeout.
 */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define WASIX(name) __attribute__((import_module("wasix_32v1"), import_name(name)))
WASIX("fd_pipe") uint16_t wasix_fd_pipe(uint32_t *rd, uint32_t *wr);
WASIX("proc_fork") uint16_t wasix_proc_fork(uint32_t copy_memory, uint32_t *pid);

int main(void) {
    uint32_t rd, wr, go_rd, go_wr, pid = 0;
    wasix_fd_pipe(&rd, &wr);
    wasix_fd_pipe(&go_rd, &go_wr);
    wasix_proc_fork(1, &pid);
    if (pid == 0) {  /* runs first: waits for the parent's "go", then answers */
        close(rd);
        close(go_wr);
        char go[4];
        read(go_rd, go, sizeof go);
        write(wr, "ping", 4);
        return 0;
    }
    close(wr);
    close(go_rd);
    write(go_wr, "go", 2);
    struct pollfd p = {.fd = (int)rd, .events = POLLIN};
    int n = poll(&p, 1, 10000);
    char buf[8] = {0};
    ssize_t got = read(rd, buf, sizeof buf - 1);
    printf("poll %d revents %s read %zd %s\n", n, (p.revents & POLLIN) ? "POLLIN" : "-", got, buf);
    return 0;
}
