/*
 * A file-heavy guest whose data varies from call to call: N numbered lines
 * written one write(2) each ("line %09d\n"), then the file read back in 15-byte
 * reads, each line checked. Usage: bench_lines N DIR
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    char path[256], line[32], got[16];
    snprintf(path, sizeof path, "%s/lines.txt", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror("open"); return 1; }
    for (long i = 0; i < n; i++) {
        int len = snprintf(line, sizeof line, "line %09ld\n", i);
        if (write(fd, line, (size_t)len) != len) { perror("write"); return 1; }
    }
    close(fd);
    fd = open(path, O_RDONLY);
    long bad = 0;
    for (long i = 0; i < n; i++) {
        if (read(fd, got, 15) != 15) { perror("read"); return 1; }
        snprintf(line, sizeof line, "line %09ld\n", i);
        if (memcmp(got, line, 15) != 0) bad++;
    }
    close(fd);
    printf("lines %ld bad %ld\n", n, bad);
    return bad != 0;
}
