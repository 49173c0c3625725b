/*
 * Sandbox escape attempts. Every path here tries to reach something outside the
 * preopened directory argv[1]: `..` components, absolute paths, an absolute
 * symlink to /etc/passwd, relative symlinks climbing out, symlink chains, and
 * over-long paths. It prints the errno name each attempt got; a success prints
 * "ESCAPED" so a test can never miss it. Raw WASI calls bypass wasi-libc's own
 * path handling so the host sees the hostile paths verbatim.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>
#include "common.h"

static const char *dir;
static char pbuf[8192];
#define P(name) join(pbuf, sizeof pbuf, dir, name)

/* inside=1 marks a path that legitimately stays inside the sandbox. */
static void try_open_in(const char *label, const char *path, int inside) {
    errno = 0;
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        char buf[8];
        ssize_t n = read(fd, buf, sizeof buf);
        printf("%s: %s (read %zd)\n", label, inside ? "opened inside" : "ESCAPED? opened", n);
        close(fd);
    } else {
        printf("%s: %s(%d)\n", label, errname(errno), errno);
    }
}

#define try_open(label, path) try_open_in((label), (path), 0)

/* Find the preopened descriptor whose name is `name`. */
static int preopen_fd(const char *name) {
    for (int fd = 3; fd < 64; fd++) {
        __wasi_prestat_t ps;
        if (__wasi_fd_prestat_get(fd, &ps) != 0) continue;
        char buf[256];
        size_t len = ps.u.dir.pr_name_len;
        if (len >= sizeof buf) continue;
        if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)buf, len) != 0) continue;
        buf[len] = 0;
        if (strcmp(buf, name) == 0) return fd;
    }
    return -1;
}

static void raw_open_in(int dirfd, const char *label, const char *path, __wasi_lookupflags_t lf,
                        int inside) {
    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(dirfd, lf, path, 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd);
    if (e == 0) {
        printf("%s: %s\n", label, inside ? "opened inside" : "ESCAPED? raw open succeeded");
        __wasi_fd_close(fd);
    } else {
        printf("%s: %s(%d)\n", label, errname(e), e);
    }
}

#define raw_open(dirfd, label, path, lf) raw_open_in((dirfd), (label), (path), (lf), 0)

int main(int argc, char **argv) {
    dir = argc > 1 ? argv[1] : "/data";
    int pfd = preopen_fd(dir);
    printf("preopen found: %d\n", pfd >= 3);
    mkdir(P("sub"), 0755);
    close(open(P("sub/inside.txt"), O_WRONLY | O_CREAT, 0644));

    try_open("dotdot from preopen", P("../etc/passwd"));
    try_open("deep dotdot", P("sub/../../../../../../etc/passwd"));
    try_open("absolute /etc/passwd", "/etc/passwd");
    try_open("absolute /", "/");
    try_open_in("dotdot that stays inside", P("sub/../sub/inside.txt"), 1);

    CHECK("symlink absolute", symlink("/etc/passwd", P("abs-link")));
    try_open("open absolute symlink", P("abs-link"));
    CHECK("symlink climbing", symlink("../../../../../../../etc/passwd", P("sub/up-link")));
    try_open("open climbing symlink", P("sub/up-link"));
    CHECK("chain 1", symlink("chain-2", P("chain-1")));
    CHECK("chain 2", symlink("sub/chain-3", P("chain-2")));
    CHECK("chain 3", symlink("../../etc/passwd", P("sub/chain-3")));
    try_open("open symlink chain", P("chain-1"));
    CHECK("symlink to parent dir", symlink("..", P("parent")));
    try_open("through parent symlink", P("parent/etc/passwd"));
    CHECK("symlink inside ok", symlink("sub/inside.txt", P("good-link")));
    try_open_in("open good symlink", P("good-link"), 1);

    /* creating through an escaping symlink must fail too */
    errno = 0;
    int fd = open(P("parent/created-outside"), O_WRONLY | O_CREAT, 0644);
    printf("create through parent symlink: %s\n", fd >= 0 ? "ESCAPED? created" : errname(errno));
    if (fd >= 0) close(fd);
    CHECK("mkdir through parent symlink", mkdir(P("parent/made-outside"), 0755));

    /* raw calls relative to the preopen, bypassing wasi-libc */
    if (pfd >= 3) {
        raw_open(pfd, "raw ..", "..", 0);
        raw_open(pfd, "raw ../etc/passwd", "../etc/passwd", 0);
        raw_open(pfd, "raw /etc/passwd", "/etc/passwd", 0);
        raw_open(pfd, "raw sub/../..", "sub/../..", 0);
        raw_open(pfd, "raw abs-link follow", "abs-link", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW);
        raw_open(pfd, "raw parent/ follow", "parent/", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW);
        raw_open(pfd, "raw chain-1 follow", "chain-1", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW);
        raw_open_in(pfd, "raw sub/.. (inside)", "sub/..", 0, 1);
        __wasi_filestat_t st;
        __wasi_errno_t e = __wasi_path_filestat_get(pfd, 0, "../", &st);
        printf("raw filestat ../: %s\n", errname(e));
        e = __wasi_path_create_directory(pfd, "sub/../../evil");
        printf("raw mkdir sub/../../evil: %s\n", errname(e));
        e = __wasi_path_symlink("/etc/passwd", pfd, "raw-abs-link");
        printf("raw symlink absolute target: %s\n", errname(e));
        e = __wasi_path_rename(pfd, "sub/inside.txt", pfd, "../stolen.txt");
        printf("raw rename out: %s\n", errname(e));
        e = __wasi_path_link(pfd, 0, "../etc/passwd", pfd, "hard-passwd");
        printf("raw link in from outside: %s\n", errname(e));
    }

    /* long paths: one huge component and a very deep path */
    char *name = malloc(5000);
    memset(name, 'n', 4999);
    name[4999] = 0;
    try_open("4999-byte name", P(name));
    CHECK("mkdir 4999-byte name", mkdir(P(name), 0755));
    char *deep = malloc(6000);
    deep[0] = 0;
    for (int i = 0; i < 1000; i++) strcat(deep, "a/");
    strcat(deep, "x");
    try_open("1000-level path", P(deep));
    free(name);
    free(deep);
    return 0;
}
