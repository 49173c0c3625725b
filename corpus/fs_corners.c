/*
 * Corner cases found by the fs_fuzz differential runs, pinned one by one:
 * path_open flag combinations on an existing file, an existing directory and a
 * missing name (every mix of O_DIRECTORY with O_CREAT/O_EXCL/O_TRUNC, O_CREAT on
 * a directory), what a read-only descriptor opened with O_CREAT/O_TRUNC may do,
 * O_CREAT|O_EXCL on a dangling symlink, pwrite on an O_APPEND descriptor,
 * ftruncate on a directory, and which error wins in link() and rename().
 * argv[1] is a writable directory.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common.h"

static const char *dir;
static char pbuf[512], pbuf2[512];
#define P(name) join(pbuf, sizeof pbuf, dir, name)
#define P2(name) join(pbuf2, sizeof pbuf2, dir, name)

static void try_flags(const char *target, int acc, const char *accname) {
    static const struct { int fl; const char *name; } extra[] = {
        {0, "-"}, {O_CREAT, "creat"}, {O_EXCL, "excl"}, {O_TRUNC, "trunc"},
        {O_CREAT | O_EXCL, "creat|excl"}, {O_CREAT | O_TRUNC, "creat|trunc"},
        {O_EXCL | O_TRUNC, "excl|trunc"},
    };
    for (int d = 0; d < 2; d++) {
        for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
            int fl = acc | extra[i].fl | (d ? O_DIRECTORY : 0);
            errno = 0;
            int fd = open(P(target), fl, 0644);
            printf("open %s %s%s %s: %s\n", target, accname, d ? "|directory" : "", extra[i].name,
                   fd >= 0 ? "ok" : errname(errno));
            if (fd >= 0) close(fd);
            /* undo creations so every combination starts from the same state */
            if (strcmp(target, "missing") == 0) {
                unlink(P("missing"));
                rmdir(P("missing"));
            }
        }
    }
}

int main(int argc, char **argv) {
    dir = argc > 1 ? argv[1] : "/data";
    close(open(P("file"), O_WRONLY | O_CREAT | O_TRUNC, 0644));
    mkdir(P("dir"), 0755);

    const char *targets[] = {"file", "dir", "missing"};
    for (int t = 0; t < 3; t++) {
        try_flags(targets[t], O_RDONLY, "rdonly");
        try_flags(targets[t], O_WRONLY, "wronly");
        try_flags(targets[t], O_RDWR, "rdwr");
        /* rewrite the file: a successful O_TRUNC emptied it */
        int fd = open(P("file"), O_WRONLY | O_TRUNC);
        write(fd, "0123456789", 10);
        close(fd);
    }

    /* a read-only descriptor opened with O_CREAT or O_TRUNC */
    static const struct { int fl; const char *name; } ro[] = {
        {O_RDONLY, "rdonly"}, {O_RDONLY | O_CREAT, "rdonly|creat"},
        {O_RDONLY | O_TRUNC, "rdonly|trunc"},
    };
    for (int i = 0; i < 3; i++) {
        int fd = open(P("file"), ro[i].fl);
        errno = 0;
        int t = ftruncate(fd, 3);
        int te = errno;
        errno = 0;
        ssize_t w = write(fd, "x", 1);
        printf("%s: ftruncate %s, write %s\n", ro[i].name, t == 0 ? "ok" : errname(te),
               w >= 0 ? "ok" : errname(errno));
        close(fd);
    }

    /* O_CREAT|O_EXCL must not follow a symlink, even a dangling one */
    symlink("dangling-target", P("dangling"));
    CHECK("creat|excl on dangling symlink", open(P("dangling"), O_WRONLY | O_CREAT | O_EXCL, 0644));
    struct stat st;
    CHECK("dangling target still missing", lstat(P("dangling-target"), &st));
    CHECK("creat on dangling symlink", open(P("dangling"), O_WRONLY | O_CREAT, 0644));
    CHECK("dangling target after creat", lstat(P("dangling-target"), &st));

    /* pwrite on an O_APPEND descriptor (Linux appends, ignoring the offset) */
    int afd = open(P("app"), O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644);
    write(afd, "12345", 5);
    printf("pwrite append fd at 1: %zd\n", pwrite(afd, "ab", 2, 1));
    fstat(afd, &st);
    printf("size after pwrite on append fd: %lld offset: %lld\n", (long long)st.st_size,
           (long long)lseek(afd, 0, SEEK_CUR));
    char abuf[16];
    ssize_t an = pread(afd, abuf, sizeof abuf, 0);
    printf("contents: [%.*s]\n", (int)(an > 0 ? an : 0), abuf);
    close(afd);

    /* zero-length writes never change the size, even past the end */
    int zfd = open(P("zero"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(zfd, "abc", 3);
    printf("pwrite 0 bytes at 10: %zd\n", pwrite(zfd, "", 0, 10));
    lseek(zfd, 20, SEEK_SET);
    printf("write 0 bytes at 20: %zd\n", write(zfd, "", 0));
    fstat(zfd, &st);
    printf("size after zero-length writes: %lld\n", (long long)st.st_size);
    close(zfd);

    /* ftruncate / write on a directory descriptor */
    int dfd = open(P("dir"), O_RDONLY | O_DIRECTORY);
    CHECK("ftruncate dir fd", ftruncate(dfd, 0));
    CHECK("write dir fd", write(dfd, "x", 1));
    CHECK("setfl append on dir fd", fcntl(dfd, F_SETFL, O_APPEND));
    CHECK("setfl 0 on dir fd", fcntl(dfd, F_SETFL, 0));
    close(dfd);
    int rfd = open(P("app"), O_RDONLY);
    CHECK("setfl append on read-only file", fcntl(rfd, F_SETFL, O_APPEND));
    printf("read-only file append flag now: %d\n", !!(fcntl(rfd, F_GETFL) & O_APPEND));
    close(rfd);

    /* rename(): which error wins */
    close(open(P("other"), O_WRONLY | O_CREAT, 0644));
    mkdir(P("dir/sub"), 0755);
    close(open(P("dir/f"), O_WRONLY | O_CREAT, 0644));
    CHECK("rename dir into own subdir over a file", rename(P("dir"), P2("dir/f")));
    CHECK("rename dir into own subdir (new name)", rename(P("dir"), P2("dir/new")));
    CHECK("rename subdir onto its non-empty parent", rename(P("dir/sub"), P2("dir")));
    CHECK("rename file onto its non-empty parent", rename(P("dir/f"), P2("dir")));
    CHECK("rename file onto a non-empty dir", rename(P("other"), P2("dir")));
    CHECK("rename missing into missing dir", rename(P("nope"), P2("nodir/x")));

    /* link(): which error wins */
    CHECK("link dir onto existing file", link(P("dir"), P2("other")));
    CHECK("link dir onto missing", link(P("dir"), P2("newname")));
    CHECK("link missing onto existing", link(P("nope"), P2("other")));
    CHECK("link file onto existing dir", link(P("other"), P2("dir")));
    CHECK("link file into missing dir", link(P("other"), P2("nodir/x")));
    CHECK("link dir into missing dir", link(P("dir"), P2("nodir/x")));
    CHECK("link dir onto dangling symlink", link(P("dir"), P2("dangling")));
    CHECK("link below a regular file", link(P("other"), P2("zero/x")));
    CHECK("symlink below a regular file", symlink("t", P("zero/x")));
    CHECK("mkdir below a regular file", mkdir(P("zero/x"), 0755));

    /* descriptors outlive their names: a removed directory and an unlinked file */
    mkdir(P("gone-dir"), 0755);
    int gd = open(P("gone-dir"), O_RDONLY | O_DIRECTORY);
    CHECK("rmdir while open", rmdir(P("gone-dir")));
    errno = 0;
    int rc = fstat(gd, &st);
    printf("fstat removed dir: %s type=%s\n", rc == 0 ? "ok" : errname(errno),
           rc == 0 ? (S_ISDIR(st.st_mode) ? "dir" : "other") : "-");
    CHECK("create in removed dir", openat(gd, "x", O_WRONLY | O_CREAT, 0644));
    close(gd);
    int gf = open(P("gone-file"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(gf, "still here", 10);
    CHECK("unlink while open", unlink(P("gone-file")));
    errno = 0;
    rc = fstat(gf, &st);
    printf("fstat unlinked file: %s size=%lld nlink=%llu\n", rc == 0 ? "ok" : errname(errno),
           rc == 0 ? (long long)st.st_size : -1LL, rc == 0 ? (unsigned long long)st.st_nlink : 0ULL);
    printf("write unlinked file: %zd\n", write(gf, "!", 1));
    char gbuf[16];
    printf("pread unlinked file: %zd\n", pread(gf, gbuf, sizeof gbuf, 0));
    CHECK("ftruncate unlinked file", ftruncate(gf, 4));
    close(gf);
    CHECK("name stays gone", lstat(P("gone-file"), &st));

    /* a symlink loop in the middle of a path is ELOOP, whatever the operation */
    symlink("loop", P("loop"));
    CHECK("open below a symlink loop", open(P("loop/x"), O_RDONLY));
    CHECK("create below a symlink loop", open(P("loop/x"), O_WRONLY | O_CREAT, 0644));
    CHECK("mkdir below a symlink loop", mkdir(P("loop/x"), 0755));
    CHECK("rename into a symlink loop", rename(P("other"), P2("loop/x")));
    CHECK("link into a symlink loop", link(P("other"), P2("loop/x")));
    CHECK("unlink below a symlink loop", unlink(P("loop/x")));
    return 0;
}
