/*
 * Operations across two preopened directories (argv[1], argv[2]): rename and
 * link of files and directories from one to the other, then both listings.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common.h"

static char b1[512], b2[512];

static const char *at(char *buf, const char *dir, const char *name) {
    snprintf(buf, 512, "%s/%s", dir, name);
    return buf;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void list(const char *dir) {
    DIR *d = opendir(dir);
    char *names[32];
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < 32)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
    if (d) closedir(d);
    qsort(names, n, sizeof names[0], cmp);
    printf("%s:", dir);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

int main(int argc, char **argv) {
    const char *a = argc > 1 ? argv[1] : "/a", *b = argc > 2 ? argv[2] : "/b";
    int fd = open(at(b1, a, "file"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write(fd, "moving", 6);
    close(fd);
    mkdir(at(b1, a, "dir"), 0755);
    close(open(at(b1, a, "dir/inner"), O_WRONLY | O_CREAT, 0644));
    close(open(at(b1, a, "linkme"), O_WRONLY | O_CREAT, 0644));

    CHECK("rename file across preopens", rename(at(b1, a, "file"), at(b2, b, "file")));
    CHECK("rename dir across preopens", rename(at(b1, a, "dir"), at(b2, b, "dir")));
    CHECK("link across preopens", link(at(b1, a, "linkme"), at(b2, b, "linked")));
    CHECK("symlink pointing into the other preopen", symlink("../b/file", at(b1, a, "sl")));
    fd = open(at(b1, a, "sl"), O_RDONLY);
    printf("open symlink into other preopen: %s\n", fd >= 0 ? "ok" : errname(errno));
    if (fd >= 0) close(fd);
    list(a);
    list(b);
    return 0;
}
