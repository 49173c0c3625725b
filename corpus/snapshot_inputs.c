/* Snapshot test guest: reads stdin with read(2) and asks the clock, so a
 * snapshot can be taken at fd_read or clock_time_get; prints a digest of
 * everything it saw so a wrong continuation shows up in the output. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    char buf[7];
    unsigned long hash = 5381;
    struct timespec ts;
    for (int round = 0; round < 6; round++) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0) return 1;
        for (ssize_t i = 0; i < n; i++) hash = hash * 33 + (unsigned char)buf[i];
        char line[128];
        int len = snprintf(line, sizeof line, "round %d t=%lld.%09ld read %zd hash %lu\n",
                           round, (long long)ts.tv_sec, ts.tv_nsec, n, hash);
        write(1, line, (size_t)len);
        if (n == 0) break;
    }
    return 0;
}
