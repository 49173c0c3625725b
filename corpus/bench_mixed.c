/*
 * A mixed-call guest: per round it creates a file with a varying name, writes a
 * varying amount, stats it, reads it back, takes the time, and every 16 rounds
 * lists the directory and removes the files. Every call's data differs.
 * Usage: bench_mixed ROUNDS DIR
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 100;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    char path[256], buf[512];
    long total = 0, entries = 0;
    struct timespec ts;
    for (long r = 0; r < rounds; r++) {
        snprintf(path, sizeof path, "%s/f%ld.dat", dir, r % 16);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) { perror("open"); return 1; }
        int len = snprintf(buf, sizeof buf, "round %ld payload %.*s\n", r, (int)(r % 200),
                           "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
        if (write(fd, buf, (size_t)len) != len) { perror("write"); return 1; }
        struct stat st;
        if (fstat(fd, &st) != 0 || st.st_size != len) { perror("fstat"); return 1; }
        lseek(fd, 0, SEEK_SET);
        total += read(fd, buf, sizeof buf);
        close(fd);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if (r % 16 == 15) {
            DIR *d = opendir(dir);
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                entries++;
                if (e->d_name[0] == 'f') {
                    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                    unlink(path);
                }
            }
            closedir(d);
        }
    }
    printf("rounds %ld bytes %ld entries %ld\n", rounds, total, entries);
    return 0;
}
