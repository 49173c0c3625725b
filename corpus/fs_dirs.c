/*
 * Directories: mkdir/rmdir (EEXIST, ENOTEMPTY, ENOTDIR, ENOENT), readdir
 * listings (sorted in the program: hosts may list in any order), rewinddir and
 * seekdir/telldir, the type field of entries. argv[1] is a writable directory.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common.h"

static const char *dir;
static char pbuf[512];
#define P(name) join(pbuf, sizeof pbuf, dir, name)

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *dtype(unsigned char t) {
    switch (t) {
    case DT_REG: return "reg";
    case DT_DIR: return "dir";
    case DT_LNK: return "lnk";
    case DT_UNKNOWN: return "unknown";
    default: return "other";
    }
}

/* Print the sorted listing of path as "name:type" entries. */
static void list(const char *label, const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        printf("%s: opendir %s(%d)\n", label, errname(errno), errno);
        return;
    }
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        char tmp[300];
        snprintf(tmp, sizeof tmp, "%s:%s", e->d_name, dtype(e->d_type));
        names[n++] = strdup(tmp);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp);
    printf("%s (%d):", label, n);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static int count_entries(DIR *d) {
    int n = 0;
    while (readdir(d)) n++;
    return n;
}

int main(int argc, char **argv) {
    dir = argc > 1 ? argv[1] : "/data";
    char sub[512];
    snprintf(sub, sizeof sub, "%s/d", dir);

    CHECK("mkdir d", mkdir(sub, 0755));
    CHECK("mkdir d again", mkdir(sub, 0755));
    CHECK("mkdir d/e/f (missing parent)", mkdir(P("d/e/f"), 0755));
    CHECK("mkdir d/e", mkdir(P("d/e"), 0755));
    for (int i = 0; i < 5; i++) {
        char name[64];
        snprintf(name, sizeof name, "d/file%d", i);
        int fd = open(P(name), O_WRONLY | O_CREAT, 0644);
        write(fd, name, strlen(name));
        close(fd);
    }
    list("list d", sub);
    list("list d/e", P("d/e"));
    list("list missing", P("nope"));
    list("list file", P("d/file0"));

    CHECK("rmdir non-empty", rmdir(sub));
    CHECK("rmdir file", rmdir(P("d/file0")));
    CHECK("rmdir missing", rmdir(P("d/nope")));
    CHECK("mkdir over file", mkdir(P("d/file0"), 0755));
    CHECK("unlink dir", unlink(P("d/e")));

    struct stat st;
    CHECK("stat d", stat(sub, &st));
    printf("d is dir: %d\n", S_ISDIR(st.st_mode));

    /* rewinddir and seekdir/telldir */
    DIR *d = opendir(sub);
    int first = count_entries(d);
    rewinddir(d);
    int second = count_entries(d);
    printf("count then rewind count: %d %d\n", first, second);
    rewinddir(d);
    readdir(d);
    readdir(d);
    long pos = telldir(d);
    struct dirent *e = readdir(d);
    char remembered[256];
    snprintf(remembered, sizeof remembered, "%s", e ? e->d_name : "(end)");
    int rest = 1 + count_entries(d);
    seekdir(d, pos);
    e = readdir(d);
    printf("seekdir returns same entry: %d\n", e && strcmp(e->d_name, remembered) == 0);
    printf("entries after telldir point: %d\n", rest);
    closedir(d);

    /* Emptying and removing */
    for (int i = 0; i < 5; i++) {
        char name[64];
        snprintf(name, sizeof name, "d/file%d", i);
        unlink(P(name));
    }
    CHECK("rmdir d/e", rmdir(P("d/e")));
    list("list d emptied", sub);
    CHECK("rmdir d", rmdir(sub));
    CHECK("stat d after rmdir", stat(sub, &st));

    /* Many entries: more than one fd_readdir buffer */
    CHECK("mkdir many", mkdir(P("many"), 0755));
    for (int i = 0; i < 300; i++) {
        char name[64];
        snprintf(name, sizeof name, "many/entry-with-a-longish-name-%03d", i);
        close(open(P(name), O_WRONLY | O_CREAT, 0644));
    }
    d = opendir(P("many"));
    printf("many entries seen: %d\n", count_entries(d));
    closedir(d);

    /* chdir + relative paths (wasi-libc emulates the cwd) */
    CHECK("chdir", chdir(dir));
    CHECK("mkdir relative", mkdir("rel", 0755));
    CHECK("stat relative", stat("rel", &st));
    CHECK("rmdir relative", rmdir("./rel"));
    return 0;
}
