/*
 * Many open descriptors: `many_fds N DIR` creates N files in DIR and keeps them
 * all open (fds 4..N+3: every open takes the lowest free number), closes every
 * other one, reopens those (the freed numbers come back, lowest first), then
 * closes all: 1.5 N opens and 1.5 N closes with up to N fds open at once, the
 * case where finding the lowest free fd must not cost O(open fds).
 * Prints how many fds were numbered as POSIX says. Default: 100000 in /tmp.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    int *fds = malloc(sizeof(int) * (size_t)n);
    char path[256];
    long in_order = 0, reused = 0;
    if (!fds) return 2;
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/f%ld", dir, i);
        fds[i] = open(path, O_CREAT | O_WRONLY, 0644);
        if (fds[i] < 0) {
            printf("open %ld failed\n", i);
            return 1;
        }
        in_order += i == 0 || fds[i] == fds[i - 1] + 1;
    }
    for (long i = 0; i < n; i += 2) close(fds[i]);
    for (long i = 0; i < n; i += 2) {
        snprintf(path, sizeof path, "%s/f%ld", dir, i);
        int fd = open(path, O_RDONLY);
        reused += fd == fds[i];
        fds[i] = fd;
    }
    for (long i = 0; i < n; i++) close(fds[i]);
    printf("opened %ld files: %ld numbered in order, %ld freed numbers reused lowest first\n",
           n, in_order, reused);
    free(fds);
    return 0;
}
