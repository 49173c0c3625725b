/*
 * WASIX processes that deadlock on purpose: the child reads a pipe whose only
 * other writer is the parent, and the parent joins the child before closing
 * its write end.  wasi-rr's scheduler lets the lowest pid's call proceed when
 * every process is blocked, so the parent's join fails with EDEADLK (16); the
 * parent then writes, closes its end and joins again, which succeeds.
 * Also: a non-blocking join while the child still runs reports "nothing".
 */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define WASIX(name) __attribute__((import_module("wasix_32v1"), import_name(name)))
WASIX("fd_pipe") uint16_t wasix_fd_pipe(uint32_t *rd, uint32_t *wr);
WASIX("proc_fork") uint16_t wasix_proc_fork(uint32_t copy_memory, uint32_t *pid);
typedef struct { uint8_t tag; uint32_t pid; } option_pid_t;
typedef struct { uint8_t tag; uint32_t code; } join_status_t;
WASIX("proc_join") uint16_t wasix_proc_join(option_pid_t *pid, uint32_t flags, join_status_t *st);

int main(void) {
    uint32_t rd, wr, pid = 0;
    wasix_fd_pipe(&rd, &wr);
    wasix_proc_fork(1, &pid);
    if (pid == 0) {
        close(wr);
        char buf[32];
        ssize_t n = read(rd, buf, sizeof buf);
        printf("child read %zd: %.*s\n", n, (int)(n > 0 ? n : 0), buf);
        n = read(rd, buf, sizeof buf);
        printf("child read %zd (EOF)\n", n);
        return 3;
    }
    close(rd);
    option_pid_t which = {1, pid};
    join_status_t st = {9, 9};
    uint16_t err = wasix_proc_join(&which, 1, &st);
    printf("nonblocking join: errno %u tag %u\n", err, st.tag);
    err = wasix_proc_join(&which, 0, &st);
    printf("blocking join while child waits on us: errno %u\n", err);
    write(wr, "wake up", 7);
    close(wr);
    err = wasix_proc_join(&which, 0, &st);
    printf("join after closing: errno %u tag %u code %u\n", err, st.tag, st.code);
    return 0;
}
