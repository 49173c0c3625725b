/*
 * Ctrl-C tests: makes a few syscalls (a clock read, three lines on stdout, the
 * last one a marker the test waits for), then computes forever without any
 * syscall, the case where only an engine interruption can stop a guest.
 * `spin N` stops after N rounds instead (exit 0): a short, complete run.
 * FOREVER 1 (a test's variant build) ignores N: the same syscalls as `spin N`
 * up to the marker, then no end, as a new build with a runaway loop would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define FOREVER 0

static volatile unsigned long sink;
/* in .data whatever FOREVER is (never 0), so both builds lay memory out alike */
static volatile int forever = FOREVER + 2;

int main(int argc, char **argv) {
    unsigned long rounds = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
    if (forever == 3) rounds = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    write(1, "started\n", 8);
    write(1, "computing\n", 10);
    write(1, "spinning now\n", 13);
    unsigned long x = (unsigned long)ts.tv_nsec | 1;
    for (unsigned long i = 0; rounds == 0 || i < rounds; i++) {
        x = x * 6364136223846793005UL + 1442695040888963407UL;
        sink = x;
    }
    write(1, "done\n", 5);
    return 0;
}
