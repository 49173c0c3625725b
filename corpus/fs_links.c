/*
 * Symlinks and hard links: symlink/readlink (incl. truncation to the buffer),
 * lstat vs stat, dangling links, loops (ELOOP), O_NOFOLLOW, link counts of hard
 * links. argv[1] is a writable directory.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common.h"

static const char *dir;
static char pbuf[512], pbuf2[512];
#define P(name) join(pbuf, sizeof pbuf, dir, name)
#define P2(name) join(pbuf2, sizeof pbuf2, dir, name)

static void show_readlink(const char *label, const char *path, size_t bufsize) {
    char buf[256];
    errno = 0;
    ssize_t n = readlink(path, buf, bufsize);
    if (n < 0)
        printf("%s: %s(%d)\n", label, errname(errno), errno);
    else
        printf("%s: %zd [%.*s]\n", label, n, (int)n, buf);
}

static void show_stat(const char *label, const char *path, int follow) {
    struct stat st;
    errno = 0;
    int rc = follow ? stat(path, &st) : lstat(path, &st);
    if (rc != 0) {
        printf("%s: %s(%d)\n", label, errname(errno), errno);
        return;
    }
    const char *t = S_ISREG(st.st_mode) ? "reg" : S_ISDIR(st.st_mode) ? "dir"
                  : S_ISLNK(st.st_mode) ? "lnk" : "other";
    if (S_ISDIR(st.st_mode))
        printf("%s: type=%s\n", label, t);
    else
        printf("%s: type=%s size=%lld nlink=%llu\n", label, t, (long long)st.st_size,
               (unsigned long long)st.st_nlink);
}

int main(int argc, char **argv) {
    dir = argc > 1 ? argv[1] : "/data";
    int fd = open(P("target.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write(fd, "target contents\n", 16);
    close(fd);

    CHECK("symlink", symlink("target.txt", P("link")));
    CHECK("symlink exists", symlink("target.txt", P("link")));
    show_readlink("readlink", P("link"), 256);
    show_readlink("readlink short buf", P("link"), 4);
    show_readlink("readlink on file", P("target.txt"), 256);
    show_readlink("readlink missing", P("nope"), 256);
    show_stat("lstat link", P("link"), 0);
    show_stat("stat link", P("link"), 1);

    char buf[64];
    fd = open(P("link"), O_RDONLY);
    printf("read via link: %zd\n", read(fd, buf, sizeof buf));
    close(fd);
    CHECK("open nofollow", open(P("link"), O_RDONLY | O_NOFOLLOW));

    CHECK("dangling symlink", symlink("does-not-exist", P("dangling")));
    show_stat("lstat dangling", P("dangling"), 0);
    show_stat("stat dangling", P("dangling"), 1);
    CHECK("open dangling", open(P("dangling"), O_RDONLY));

    CHECK("loop a->b", symlink("loop-b", P("loop-a")));
    CHECK("loop b->a", symlink("loop-a", P("loop-b")));
    show_stat("stat loop", P("loop-a"), 1);
    CHECK("open loop", open(P("loop-a"), O_RDONLY));

    CHECK("mkdir sub", mkdir(P("sub"), 0755));
    CHECK("symlink to dir", symlink("sub", P("sublink")));
    CHECK("create via dir link", close(open(P("sublink/inner.txt"), O_WRONLY | O_CREAT, 0644)));
    show_stat("stat sub/inner.txt", P("sub/inner.txt"), 1);
    CHECK("relative up symlink", symlink("../target.txt", P("sub/up")));
    show_stat("stat sub/up", P("sub/up"), 1);

    /* hard links */
    CHECK("link", link(P("target.txt"), P2("hard.txt")));
    show_stat("stat target after link", P("target.txt"), 1);
    CHECK("link exists", link(P("target.txt"), P2("hard.txt")));
    CHECK("link missing", link(P("nope"), P2("hard2.txt")));
    CHECK("link dir", link(P("sub"), P2("subhard")));
    CHECK("unlink target", unlink(P("target.txt")));
    show_stat("stat hard after unlink", P("hard.txt"), 1);
    show_stat("lstat link after unlink", P("link"), 0);
    show_stat("stat link after unlink", P("link"), 1);
    CHECK("unlink symlink", unlink(P("link")));
    CHECK("unlink dir symlink", unlink(P("sublink")));
    show_stat("stat sub still there", P("sub"), 1);
    return 0;
}
