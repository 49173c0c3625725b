/*
 * File I/O: open flags (creat/trunc/excl/append), read/write, pread/pwrite,
 * lseek (SEEK_SET/CUR/END, negative offsets), ftruncate, posix_fallocate,
 * fsync/fdatasync and the deterministic fields of fstat/stat/lstat.
 * argv[1] is a writable directory (default /data).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common.h"

static const char *dir;
static char pbuf[512];
#define P(name) join(pbuf, sizeof pbuf, dir, name)

static const char *ftype(mode_t m) {
    if (S_ISREG(m)) return "reg";
    if (S_ISDIR(m)) return "dir";
    if (S_ISLNK(m)) return "lnk";
    if (S_ISCHR(m)) return "chr";
    if (S_ISBLK(m)) return "blk";
    if (S_ISSOCK(m)) return "sock";
    if (S_ISFIFO(m)) return "fifo";
    return "?";
}

static void show_fstat(const char *label, int fd) {
    struct stat st;
    errno = 0;
    if (fstat(fd, &st) != 0) {
        printf("%s fstat: %s(%d)\n", label, errname(errno), errno);
        return;
    }
    printf("%s fstat: type=%s size=%lld nlink=%llu\n", label, ftype(st.st_mode),
           (long long)st.st_size, (unsigned long long)st.st_nlink);
}

static void show_contents(const char *label, const char *path) {
    char buf[256];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%s contents: %s(%d)\n", label, errname(errno), errno);
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    printf("%s contents (%zd): [", label, n);
    for (ssize_t i = 0; i < n; i++)
        putchar(buf[i] ? buf[i] : '0');
    printf("]\n");
}

int main(int argc, char **argv) {
    dir = argc > 1 ? argv[1] : "/data";
    char buf[64];

    /* creat + write + stat */
    int fd = CHECK("open creat", open(P("a.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644));
    printf("write: %zd\n", write(fd, "hello world\n", 12));
    show_fstat("a.txt", fd);
    CHECK("fsync", fsync(fd));
    CHECK("fdatasync", fdatasync(fd));
    CHECK("close", close(fd));
    CHECK("close again", close(fd));
    CHECK("open missing", open(P("missing.txt"), O_RDONLY));
    CHECK("open excl existing", open(P("a.txt"), O_WRONLY | O_CREAT | O_EXCL, 0644));
    CHECK("open dir for write", open(dir, O_WRONLY));
    CHECK("open file as dir", open(P("a.txt"), O_RDONLY | O_DIRECTORY));
    CHECK("open through file", open(P("a.txt/x"), O_RDONLY));

    /* read back, partial reads, EOF */
    fd = CHECK("open rdonly", open(P("a.txt"), O_RDONLY));
    printf("read 5: %zd [%.5s]\n", read(fd, buf, 5), buf);
    printf("read rest: %zd\n", read(fd, buf, sizeof buf));
    printf("read at eof: %zd\n", read(fd, buf, sizeof buf));
    CHECK("write to rdonly", write(fd, "x", 1));
    /* lseek */
    printf("lseek cur: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    printf("lseek set 6: %lld\n", (long long)lseek(fd, 6, SEEK_SET));
    printf("read 5 after seek: %zd [%.5s]\n", read(fd, buf, 5), buf);
    printf("lseek end -6: %lld\n", (long long)lseek(fd, -6, SEEK_END));
    printf("lseek cur -2: %lld\n", (long long)lseek(fd, -2, SEEK_CUR));
    printf("lseek end +4: %lld\n", (long long)lseek(fd, 4, SEEK_END));
    errno = 0;
    printf("lseek negative: %lld %s\n", (long long)lseek(fd, -100, SEEK_SET), errname(errno));
    close(fd);

    /* O_TRUNC */
    fd = open(P("a.txt"), O_WRONLY | O_TRUNC);
    show_fstat("after trunc", fd);
    close(fd);

    /* O_APPEND: every write goes to the end regardless of the offset */
    fd = open(P("log.txt"), O_WRONLY | O_CREAT | O_APPEND, 0644);
    write(fd, "one\n", 4);
    lseek(fd, 0, SEEK_SET);
    write(fd, "two\n", 4);
    printf("append offset: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    close(fd);
    show_contents("log.txt", P("log.txt"));

    /* pread / pwrite do not move the offset */
    fd = open(P("p.bin"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "0123456789", 10);
    printf("pwrite: %zd\n", pwrite(fd, "AB", 2, 3));
    printf("pwrite past end: %zd\n", pwrite(fd, "Z", 1, 12));
    printf("offset after pwrite: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    memset(buf, 0, sizeof buf);
    printf("pread 4@2: %zd [%.4s]\n", pread(fd, buf, 4, 2), buf);
    printf("pread past end: %zd\n", pread(fd, buf, 4, 100));
    errno = 0;
    printf("pread negative: %zd %s\n", pread(fd, buf, 4, -1), errname(errno));
    show_fstat("p.bin", fd);
    close(fd);
    show_contents("p.bin", P("p.bin"));

    /* ftruncate: shrink and grow (the hole reads as zeros) */
    fd = open(P("p.bin"), O_RDWR);
    CHECK("ftruncate 4", ftruncate(fd, 4));
    show_fstat("shrunk", fd);
    CHECK("ftruncate 8", ftruncate(fd, 8));
    show_fstat("grown", fd);
    close(fd);
    show_contents("p.bin", P("p.bin"));
    fd = open(P("p.bin"), O_RDONLY);
    CHECK("ftruncate rdonly", ftruncate(fd, 1));
    close(fd);

    /* posix_fallocate returns the error number instead of setting errno */
    fd = open(P("f.bin"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    int rc = posix_fallocate(fd, 0, 100);
    printf("posix_fallocate: %s\n", errname(rc));
    show_fstat("f.bin", fd);
    close(fd);

    /* stat / lstat on files and directories */
    struct stat st;
    CHECK("stat file", stat(P("log.txt"), &st));
    printf("stat log.txt: type=%s size=%lld nlink=%llu\n", ftype(st.st_mode), (long long)st.st_size,
           (unsigned long long)st.st_nlink);
    CHECK("stat dir", stat(dir, &st));
    printf("stat dir: type=%s\n", ftype(st.st_mode));
    CHECK("lstat file", lstat(P("log.txt"), &st));
    printf("lstat log.txt: type=%s size=%lld\n", ftype(st.st_mode), (long long)st.st_size);
    CHECK("stat missing", stat(P("nope"), &st));

    /* bad descriptors */
    CHECK("read bad fd", read(99, buf, 1));
    CHECK("write bad fd", write(99, buf, 1));
    CHECK("fstat bad fd", fstat(99, &st));
    CHECK("lseek bad fd", lseek(99, 0, SEEK_SET));
    CHECK("close bad fd", close(99));
    /* lseek on a directory and on stdout */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    CHECK("read dir fd", read(dfd, buf, 1));
    close(dfd);
    CHECK("unlink a.txt", unlink(P("a.txt")));
    return 0;
}
