/*
 * A guest for the replay engine's own tests: per round it takes the time, writes
 * a numbered line to a file, and every GROW_EVERY rounds grows its memory by
 * 64 KiB and reads the file's last lines into the new pages; every 500 rounds
 * it prints a line. With DIVERGE_AT >= 0, round DIVERGE_AT writes different bytes
 * (a build for divergence tests). Usage: replay_probe ROUNDS DIR
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DIVERGE_AT -1
#define GROW_EVERY 200

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 1000;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    char path[256], line[64];
    snprintf(path, sizeof path, "%s/probe.txt", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror("open"); return 1; }
    long total = 0;
    for (long i = 0; i < rounds; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int n = snprintf(line, sizeof line, "line %08ld\n", i);
        if (i == DIVERGE_AT) line[0] = 'L';
        if (write(fd, line, (size_t)n) != n) { perror("write"); return 1; }
        if (i % GROW_EVERY == GROW_EVERY - 1) {
            char *fresh = malloc(64 * 1024);
            if (!fresh) return 2;
            if (pread(fd, fresh, 4096, (off_t)(i > 200 ? (i - 200) * 14 : 0)) < 0) return 3;
            total += fresh[0];
        }
        if (i % 500 == 0) printf("round %ld\n", i);
    }
    close(fd);
    printf("done %ld %ld\n", rounds, total);
    return 0;
}
