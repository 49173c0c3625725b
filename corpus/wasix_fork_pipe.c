/*
 * WASIX processes: a parent and a forked child talk over two pipes.  The
 * parent sends lines on one pipe, the child answers each in upper case on the
 * other, then exits with 7; the parent joins it and prints the status.  Runs
 * under wasi-rr only (wasmtime has no WASIX).  Output is deterministic: the
 * scheduler switches processes only at blocking syscalls.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define WASIX(name) __attribute__((import_module("wasix_32v1"), import_name(name)))
WASIX("fd_pipe") uint16_t wasix_fd_pipe(uint32_t *rd, uint32_t *wr);
WASIX("proc_fork") uint16_t wasix_proc_fork(uint32_t copy_memory, uint32_t *pid);
WASIX("proc_id") uint16_t wasix_proc_id(uint32_t *pid);
WASIX("proc_parent") uint16_t wasix_proc_parent(uint32_t pid, uint32_t *parent);
typedef struct { uint8_t tag; uint32_t pid; } option_pid_t;
typedef struct { uint8_t tag; uint32_t code; } join_status_t;
WASIX("proc_join") uint16_t wasix_proc_join(option_pid_t *pid, uint32_t flags, join_status_t *st);

static int read_all(int fd, char *buf, int cap) {
    int n = 0, r;
    while (n < cap - 1 && (r = (int)read(fd, buf + n, cap - 1 - n)) > 0) n += r;
    buf[n] = 0;
    return n;
}

int main(void) {
    uint32_t to_child[2], to_parent[2];
    if (wasix_fd_pipe(&to_child[0], &to_child[1]) || wasix_fd_pipe(&to_parent[0], &to_parent[1])) {
        puts("fd_pipe failed");
        return 1;
    }
    uint32_t me = 0;
    wasix_proc_id(&me);
    printf("parent pid %u\n", me);
    fflush(stdout);
    uint32_t pid = 999;
    uint16_t err = wasix_proc_fork(1, &pid);
    if (err) { printf("fork errno %u\n", err); return 1; }
    if (pid == 0) {
        close(to_child[1]);
        close(to_parent[0]);
        uint32_t self = 0, parent = 0;
        wasix_proc_id(&self);
        wasix_proc_parent(self, &parent);
        char buf[256];
        int n = read_all(to_child[0], buf, sizeof buf);
        for (int i = 0; i < n; i++) if (buf[i] >= 'a' && buf[i] <= 'z') buf[i] -= 32;
        char reply[400];
        int m = snprintf(reply, sizeof reply, "child %u of %u got %d bytes: %s", self, parent, n, buf);
        write(to_parent[1], reply, m);
        close(to_parent[1]);
        return 7;
    }
    close(to_child[0]);
    close(to_parent[1]);
    const char *lines[] = {"hello child\n", "second line\n", "bye\n"};
    for (int i = 0; i < 3; i++) write(to_child[1], lines[i], strlen(lines[i]));
    close(to_child[1]);
    char answer[512];
    read_all(to_parent[0], answer, sizeof answer);
    printf("parent got: %s", answer);
    option_pid_t which = {1, pid};
    join_status_t st = {0, 0};
    err = wasix_proc_join(&which, 0, &st);
    printf("join errno %u pid %u tag %u code %u\n", err, which.pid, st.tag, st.code);
    option_pid_t any = {0, 0};
    err = wasix_proc_join(&any, 0, &st);
    printf("join again errno %u\n", err);
    return 0;
}
