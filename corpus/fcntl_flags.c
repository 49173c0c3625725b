/*
 * fd_fdstat_get / fd_fdstat_set_flags through fcntl: F_GETFL access mode and
 * status flags, F_SETFL toggling O_APPEND and O_NONBLOCK, and the effect of
 * O_APPEND on a later write. argv[1] is a writable directory.
 */
#include <fcntl.h>
#include <unistd.h>
#include "common.h"

static const char *dir;
static char pbuf[512];
#define P(name) join(pbuf, sizeof pbuf, dir, name)

static void flags(const char *label, int fd) {
    errno = 0;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) {
        printf("%s: %s(%d)\n", label, errname(errno), errno);
        return;
    }
    int acc = fl & O_ACCMODE;
    printf("%s: access=%s append=%d nonblock=%d\n", label,
           acc == O_RDONLY ? "rdonly" : acc == O_WRONLY ? "wronly" : acc == O_RDWR ? "rdwr" : "other",
           !!(fl & O_APPEND), !!(fl & O_NONBLOCK));
}

int main(int argc, char **argv) {
    dir = argc > 1 ? argv[1] : "/data";
    int fd = open(P("f.txt"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    flags("rdwr", fd);
    write(fd, "0123456789", 10);

    CHECK("setfl append", fcntl(fd, F_SETFL, O_APPEND));
    flags("after setfl append", fd);
    lseek(fd, 0, SEEK_SET);
    write(fd, "A", 1);
    printf("offset after append write: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));

    CHECK("setfl nonblock", fcntl(fd, F_SETFL, O_NONBLOCK));
    flags("after setfl nonblock", fd);
    lseek(fd, 0, SEEK_SET);
    write(fd, "B", 1);
    printf("offset after plain write: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    CHECK("setfl none", fcntl(fd, F_SETFL, 0));
    flags("after setfl none", fd);
    close(fd);

    fd = open(P("f.txt"), O_RDONLY);
    flags("rdonly", fd);
    char buf[16];
    printf("contents: [%.*s]\n", (int)read(fd, buf, sizeof buf), buf);
    close(fd);
    fd = open(P("f.txt"), O_WRONLY | O_APPEND);
    flags("wronly append", fd);
    close(fd);
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    flags("directory", fd);
    close(fd);

    flags("stdin", 0);
    flags("stdout", 1);
    flags("bad fd", 99);
    CHECK("getfd", fcntl(1, F_GETFD));
    CHECK("setfl bad fd", fcntl(99, F_SETFL, O_APPEND));
    return 0;
}
