/*
 * rename and unlink rules: files and directories, replacing targets, and the
 * errors POSIX requires (EISDIR, ENOTDIR, ENOTEMPTY, ENOENT, EINVAL for moving
 * a directory into itself). argv[1] is a writable directory.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common.h"

static const char *dir;
static char pbuf[512], pbuf2[512];
#define P(name) join(pbuf, sizeof pbuf, dir, name)
#define P2(name) join(pbuf2, sizeof pbuf2, dir, name)

static void put(const char *name, const char *text) {
    int fd = open(P(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write(fd, text, strlen(text));
    close(fd);
}

static void show(const char *name) {
    char buf[64];
    int fd = open(P(name), O_RDONLY);
    if (fd < 0) {
        printf("%s: %s(%d)\n", name, errname(errno), errno);
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    printf("%s: [%.*s]\n", name, (int)n, buf);
}

int main(int argc, char **argv) {
    dir = argc > 1 ? argv[1] : "/data";
    put("a", "A");
    put("b", "B");
    mkdir(P("d1"), 0755);
    mkdir(P("d2"), 0755);
    mkdir(P("full"), 0755);
    put("full/x", "X");

    CHECK("rename file to new name", rename(P("a"), P2("a2")));
    show("a");
    show("a2");
    CHECK("rename file over file", rename(P("a2"), P2("b")));
    show("a2");
    show("b");
    CHECK("rename file to itself", rename(P("b"), P2("b")));
    show("b");
    CHECK("rename missing", rename(P("nope"), P2("x")));
    CHECK("rename file over dir", rename(P("b"), P2("d1")));
    CHECK("rename dir over file", rename(P("d1"), P2("b")));
    CHECK("rename dir over empty dir", rename(P("d1"), P2("d2")));
    struct stat st;
    CHECK("stat d1 after", stat(P("d1"), &st));
    CHECK("stat d2 after", stat(P("d2"), &st));
    CHECK("rename dir over non-empty dir", rename(P("d2"), P2("full")));
    CHECK("rename dir into itself", rename(P("full"), P2("full/sub")));
    CHECK("rename into missing dir", rename(P("b"), P2("nodir/b")));
    CHECK("rename file into dir", rename(P("b"), P2("full/b")));
    show("full/b");
    CHECK("rename dir with contents", rename(P("full"), P2("moved")));
    show("moved/x");
    show("moved/b");
    CHECK("rename with trailing slash on file", rename(P("moved/x"), P2("moved/y/")));

    CHECK("unlink missing", unlink(P("nope")));
    CHECK("unlink dir", unlink(P("moved")));
    CHECK("unlink through file", unlink(P("moved/x/y")));
    CHECK("unlink file", unlink(P("moved/x")));
    CHECK("unlink file again", unlink(P("moved/x")));
    CHECK("rmdir non-empty", rmdir(P("moved")));
    CHECK("unlink b", unlink(P("moved/b")));
    CHECK("rmdir emptied", rmdir(P("moved")));
    CHECK("rmdir d2", rmdir(P("d2")));
    return 0;
}
