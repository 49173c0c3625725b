/*
 * A metadata-heavy guest: creates FILES files in DIR/tree (100 per directory),
 * then walks the tree with readdir and stats every entry, twice. Every call's
 * data differs (names, inode numbers, sizes). Usage: bench_walk FILES DIR
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long walk(const char *path, long *bytes) {
    DIR *d = opendir(path);
    if (!d) return 0;
    long n = 0;
    struct dirent *e;
    char sub[512];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        struct stat st;
        if (stat(sub, &st) != 0) continue;
        n++;
        if (S_ISDIR(st.st_mode)) n += walk(sub, bytes);
        else *bytes += st.st_size;
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv) {
    long files = argc > 1 ? atol(argv[1]) : 500;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    char path[512];
    snprintf(path, sizeof path, "%s/tree", dir);
    mkdir(path, 0755);
    for (long i = 0; i < files; i++) {
        if (i % 100 == 0) {
            snprintf(path, sizeof path, "%s/tree/d%03ld", dir, i / 100);
            mkdir(path, 0755);
        }
        snprintf(path, sizeof path, "%s/tree/d%03ld/file%05ld.txt", dir, i / 100, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) { perror("open"); return 1; }
        if (write(fd, path, (size_t)(i % 37)) < 0) return 1;
        close(fd);
    }
    long bytes = 0, seen = 0;
    snprintf(path, sizeof path, "%s/tree", dir);
    for (int pass = 0; pass < 2; pass++) seen += walk(path, &bytes);
    printf("files %ld seen %ld bytes %ld\n", files, seen, bytes);
    return 0;
}
