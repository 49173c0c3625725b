/*
 * WASIX: 100 short-lived children, forked and joined one after the other, each
 * exiting with its index; the parent touches a new page of an 8 MiB static
 * array before each fork (every child gets its own copy of the memory).  The
 * sum of the exit statuses is printed (4950).
 */
#include <stdint.h>
#include <stdio.h>
#define WASIX(name) __attribute__((import_module("wasix_32v1"), import_name(name)))
WASIX("proc_fork") uint16_t wasix_proc_fork(uint32_t copy_memory, uint32_t *pid);
typedef struct { uint8_t tag; uint32_t pid; } option_pid_t;
typedef struct { uint8_t tag; uint32_t code; } join_status_t;
WASIX("proc_join") uint16_t wasix_proc_join(option_pid_t *pid, uint32_t flags, join_status_t *st);
static char big[8 << 20];
int main(void) {
    unsigned long sum = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t pid = 0;
        big[i * 4096] = (char)i;
        wasix_proc_fork(1, &pid);
        if (pid == 0) return i & 0x7f;
        option_pid_t w = {1, pid}; join_status_t st;
        wasix_proc_join(&w, 0, &st);
        sum += st.code;
    }
    printf("sum %lu\n", sum);
    return 0;
}
