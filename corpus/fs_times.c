/*
 * Timestamps: utimensat/futimens with explicit times read back through
 * stat/fstat, UTIME_OMIT leaving a field alone, AT_SYMLINK_NOFOLLOW on a
 * symlink. Only the times this program set are printed (others are host time).
 * argv[1] is a writable directory.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common.h"

static const char *dir;
static char pbuf[512];
#define P(name) join(pbuf, sizeof pbuf, dir, name)

static void show(const char *label, const struct stat *st) {
    printf("%s: atime=%lld.%09ld mtime=%lld.%09ld\n", label, (long long)st->st_atim.tv_sec,
           st->st_atim.tv_nsec, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
}

int main(int argc, char **argv) {
    dir = argc > 1 ? argv[1] : "/data";
    int fd = open(P("t.txt"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "x", 1);
    struct stat st;

    struct timespec ts[2] = {{1000000000, 123456789}, {1500000000, 987654321}};
    CHECK("utimensat explicit", utimensat(AT_FDCWD, P("t.txt"), ts, 0));
    stat(P("t.txt"), &st);
    show("after utimensat", &st);

    struct timespec ts2[2] = {{1600000000, 5}, {0, UTIME_OMIT}};
    CHECK("futimens atime only", futimens(fd, ts2));
    fstat(fd, &st);
    show("after futimens omit mtime", &st);

    struct timespec ts3[2] = {{0, UTIME_OMIT}, {1700000000, 0}};
    CHECK("futimens mtime only", futimens(fd, ts3));
    fstat(fd, &st);
    show("after futimens omit atime", &st);

    struct timespec both_omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    CHECK("utimensat omit both", utimensat(AT_FDCWD, P("t.txt"), both_omit, 0));
    stat(P("t.txt"), &st);
    show("after omit both", &st);

    struct timespec now_mtime[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
    CHECK("utimensat mtime now", utimensat(AT_FDCWD, P("t.txt"), now_mtime, 0));
    stat(P("t.txt"), &st);
    printf("mtime now is after 2020: %d atime kept: %d\n", st.st_mtim.tv_sec > 1577836800,
           st.st_atim.tv_sec == 1600000000);

    struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
    CHECK("utimensat bad nsec", utimensat(AT_FDCWD, P("t.txt"), bad, 0));
    CHECK("utimensat missing", utimensat(AT_FDCWD, P("nope"), ts, 0));

    /* a write moves mtime to "now": only check it changed away from the old value */
    CHECK("futimens reset", futimens(fd, ts));
    lseek(fd, 0, SEEK_END);
    write(fd, "y", 1);
    fstat(fd, &st);
    printf("write updated mtime: %d\n", st.st_mtim.tv_sec != 1500000000);
    close(fd);

    /* directories have times too */
    mkdir(P("tdir"), 0755);
    CHECK("utimensat dir", utimensat(AT_FDCWD, P("tdir"), ts, 0));
    stat(P("tdir"), &st);
    show("dir", &st);

    /* a symlink's own times with AT_SYMLINK_NOFOLLOW */
    symlink("t.txt", P("tl"));
    struct timespec ts4[2] = {{1200000000, 0}, {1300000000, 0}};
    CHECK("utimensat nofollow", utimensat(AT_FDCWD, P("tl"), ts4, AT_SYMLINK_NOFOLLOW));
    lstat(P("tl"), &st);
    show("symlink itself", &st);
    return 0;
}
