/*
 * Walk a directory tree that the *host* prepared (argv[1]) and print it sorted:
 * type, size, link count and an FNV-1a hash of every file, the target of every
 * symlink and what following it gives. Host-made symlinks that point outside
 * the mount (absolute, or climbing with ..) must not be followable.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common.h"

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint32_t fnv1a(const char *path, long *size) {
    uint32_t h = 2166136261u;
    *size = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    unsigned char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) h = (h ^ buf[i]) * 16777619u;
        *size += n;
    }
    close(fd);
    return h;
}

static void walk(const char *path, int depth) {
    DIR *d = opendir(path);
    if (!d) {
        printf("%*sopendir %s: %s(%d)\n", depth * 2, "", path, errname(errno), errno);
        return;
    }
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], cmp);
    for (int i = 0; i < n; i++) {
        char child[1024];
        snprintf(child, sizeof child, "%s/%s", path, names[i]);
        struct stat st;
        if (lstat(child, &st) != 0) {
            printf("%*s%s: lstat %s\n", depth * 2, "", names[i], errname(errno));
        } else if (S_ISDIR(st.st_mode)) {
            printf("%*s%s/\n", depth * 2, "", names[i]);
            walk(child, depth + 1);
        } else if (S_ISLNK(st.st_mode)) {
            char target[512];
            errno = 0;
            ssize_t len = readlink(child, target, sizeof target - 1);
            if (len >= 0)
                target[len] = 0;
            else
                snprintf(target, sizeof target, "(readlink %s)", errname(errno));
            struct stat fst;
            errno = 0;
            int rc = stat(child, &fst);
            int fd = open(child, O_RDONLY);
            int open_errno = errno;
            printf("%*s%s -> %s: stat %s, open %s\n", depth * 2, "", names[i], target,
                   rc == 0 ? (S_ISDIR(fst.st_mode) ? "dir" : "reg") : errname(errno),
                   fd >= 0 ? "ok" : errname(open_errno));
            if (fd >= 0) close(fd);
        } else {
            long size;
            uint32_t h = fnv1a(child, &size);
            printf("%*s%s: size=%lld read=%ld nlink=%llu fnv=%08x\n", depth * 2, "", names[i],
                   (long long)st.st_size, size, (unsigned long long)st.st_nlink, h);
        }
        free(names[i]);
    }
}

int main(int argc, char **argv) {
    const char *root = argc > 1 ? argv[1] : "/data";
    walk(root, 0);
    return 0;
}
