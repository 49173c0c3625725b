/*
 * Clock-heavy benchmark guest: N clock_gettime(CLOCK_MONOTONIC) calls, each
 * exactly one clock_time_get syscall. Usage: bench_clock N
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include "common.h"

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000;
    struct timespec prev = {0, 0}, cur;
    long decreasing = 0;
    for (long i = 0; i < n; i++) {
        clock_gettime(CLOCK_MONOTONIC, &cur);
        if (cur.tv_sec < prev.tv_sec || (cur.tv_sec == prev.tv_sec && cur.tv_nsec < prev.tv_nsec))
            decreasing++;
        prev = cur;
    }
    printf("bench_clock n=%ld syscalls_in_loop=%ld decreasing=%ld\n", n, n, decreasing);
    return decreasing != 0;
}
