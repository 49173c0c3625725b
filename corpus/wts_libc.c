/* wasi-testsuite C areas through wasi-libc: fopen/open with access modes,
 * fdopendir + readdir d_ino == fstatat st_ino, pread/pwrite with access,
 * pwrite with O_APPEND, lseek, stat dev/ino, clock_getres/clock_gettime.
 * argv[1] is the directory prefix (none when the test root is preopened as /). */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static char P[256];
static const char *at(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    if (P[0])
        snprintf(buf[k], sizeof buf[k], "%s/%s", P, name);
    else /* bare relative names, resolved by wasi-libc against its cwd "/" */
        snprintf(buf[k], sizeof buf[k], "%s", name);
    return buf[k];
}

int main(int argc, char **argv) {
    snprintf(P, sizeof P, "%s", argc > 1 ? argv[1] : "");
    char buf[64];

    /* fixtures shipped with the test directory */
    FILE *f = fopen(at("pread.txt"), "r");
    printf("fopen r fixture: %s\n", f ? "ok" : errname(errno));
    if (f) {
        size_t n = fread(buf, 1, 5, f);
        printf("fread: %zu [%.*s]\n", n, (int)n, buf);
        fclose(f);
    }
    errno = 0;
    f = fopen(at("missing"), "r");
    printf("fopen missing: %s %s\n", f ? "opened" : "NULL", errname(errno));
    errno = 0;
    f = fopen("/../outside", "r");
    printf("fopen outside: %s %s\n", f ? "opened" : "NULL", errname(errno));

    int fd = open(at("pread.txt"), O_RDONLY);
    CHECK("open O_RDONLY", fd);
    CHECK("pread", pread(fd, buf, 4, 6));
    printf("pread got [%.4s]\n", buf);
    CHECK("pwrite on O_RDONLY", pwrite(fd, "x", 1, 0));
    CHECK("write on O_RDONLY", write(fd, "x", 1));
    close(fd);

    fd = open(at("pwrite.cleanup"), O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0644);
    CHECK("open append", fd);
    CHECK("write 2", write(fd, "ab", 2));
    CHECK("lseek set 0", (int)lseek(fd, 0, SEEK_SET));
    CHECK("write 2 more", write(fd, "cd", 2));
    printf("offset after append writes: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    CHECK("pwrite 3 at 0", pwrite(fd, "XYZ", 3, 0));
    printf("offset after pwrite: %lld end: %lld\n", (long long)lseek(fd, 0, SEEK_CUR), (long long)lseek(fd, 0, SEEK_END));
    CHECK("read on O_WRONLY", read(fd, buf, 1));
    CHECK("pread on O_WRONLY", pread(fd, buf, 1, 0));
    close(fd);
    fd = open(at("pwrite.cleanup"), O_RDONLY);
    ssize_t n = read(fd, buf, sizeof buf);
    printf("append file: %zd [%.*s]\n", n, (int)(n > 0 ? n : 0), buf);
    close(fd);
    CHECK("unlink", unlink(at("pwrite.cleanup")));

    /* lseek on the fixture */
    fd = open(at("lseek.txt"), O_RDONLY);
    printf("lseek end: %lld\n", (long long)lseek(fd, 0, SEEK_END));
    printf("lseek set 3: %lld\n", (long long)lseek(fd, 3, SEEK_SET));
    printf("lseek cur 2: %lld\n", (long long)lseek(fd, 2, SEEK_CUR));
    errno = 0;
    printf("lseek negative: %lld %s\n", (long long)lseek(fd, -100, SEEK_CUR), errname(errno));
    close(fd);

    /* fdopendir: d_ino matches fstatat's st_ino */
    CHECK("mkdir", mkdir(at("fopendir.cleanup"), 0755));
    for (int i = 0; i < 2; i++) {
        char name[64];
        snprintf(name, sizeof name, "fopendir.cleanup/file-%d", i);
        int w = open(at(name), O_CREAT | O_WRONLY, 0644);
        close(w);
    }
    int dfd = open(at("fopendir.cleanup"), O_RDONLY | O_DIRECTORY);
    CHECK("open dir", dfd);
    DIR *d = fdopendir(dfd);
    printf("fdopendir: %s\n", d ? "ok" : errname(errno));
    int seen = 0, match = 0;
    ino_t inos[2] = {0, 0};
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        struct stat st;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == de->d_ino) match++;
        if (seen < 2) inos[seen] = de->d_ino;
        seen++;
    }
    if (d) closedir(d);
    printf("entries=%d d_ino matches st_ino=%d distinct=%d\n", seen, match, inos[0] != inos[1]);
    for (int i = 0; i < 2; i++) {
        char name[64];
        snprintf(name, sizeof name, "fopendir.cleanup/file-%d", i);
        unlink(at(name));
    }
    CHECK("rmdir", rmdir(at("fopendir.cleanup")));

    /* stat dev/ino */
    struct stat a, b, c;
    CHECK("stat fixture", stat(at("lseek.txt"), &a));
    fd = open(at("lseek.txt"), O_RDONLY);
    CHECK("fstat fixture", fstat(fd, &b));
    close(fd);
    CHECK("stat other", stat(at("pread.txt"), &c));
    printf("dev/ino stable: %d %d; other file: same dev %d, other ino %d\n", a.st_dev == b.st_dev,
           a.st_ino == b.st_ino, a.st_dev == c.st_dev, a.st_ino != c.st_ino);

    /* clocks */
    struct timespec r, t1, t2;
    printf("getres monotonic: %d positive %d\n", clock_getres(CLOCK_MONOTONIC, &r), r.tv_sec > 0 || r.tv_nsec > 0);
    printf("getres realtime: %d positive %d\n", clock_getres(CLOCK_REALTIME, &r), r.tv_sec > 0 || r.tv_nsec > 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    printf("monotonic ordered: %d\n", t2.tv_sec > t1.tv_sec || (t2.tv_sec == t1.tv_sec && t2.tv_nsec >= t1.tv_nsec));
    clock_gettime(CLOCK_REALTIME, &t1);
    printf("realtime plausible: %d\n", t1.tv_sec > 1577836800);
    return 0;
}
