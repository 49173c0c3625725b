/* wasi-testsuite areas: dangling_symlink, symlink_loop, symlink_create,
 * path_symlink_trailing_slashes, readlink, nofollow_errors. */
#include "wts.h"

#define D "symlinks.cleanup"

static void readlink_into(const char *label, __wasi_fd_t dir, const char *p, size_t cap) {
    char buf[64];
    __wasi_size_t used = 0;
    __wasi_errno_t e = __wasi_path_readlink(dir, p, (uint8_t *)buf, cap, &used);
    if (e) used = 0;
    printf("%s: %s(%d) used=%u [%.*s]\n", label, errname(e), (int)e, (unsigned)used, (int)used, buf);
}

int main(int argc, char **argv) {
    __wasi_fd_t root = wts_root(argc, argv);
    __wasi_fd_t dir = wts_scratch(root, D);
    __wasi_fd_t fd;
    wts_make_file(dir, "file", "data");
    wts_e("mkdir subdir", __wasi_path_create_directory(dir, "subdir"));

    /* dangling */
    wts_e("symlink dangling", __wasi_path_symlink("target", dir, "dangling"));
    wts_e("open dangling follow O_DIRECTORY", __wasi_path_open(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "dangling", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd));
    wts_e("open dangling nofollow O_DIRECTORY", __wasi_path_open(dir, 0, "dangling", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd));
    wts_e("open dangling follow", __wasi_path_open(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "dangling", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd));
    wts_e("open dangling nofollow", __wasi_path_open(dir, 0, "dangling", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd));
    wts_e("creat excl on dangling", __wasi_path_open(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "dangling", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, __WASI_RIGHTS_FD_WRITE, 0, 0, &fd));
    wts_stat("stat dangling nofollow", dir, 0, "dangling");
    wts_stat("stat dangling follow", dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "dangling");
    wts_e("mkdir over dangling", __wasi_path_create_directory(dir, "dangling"));
    wts_e("rmdir dangling", __wasi_path_remove_directory(dir, "dangling"));
    wts_e("unlink dangling/", __wasi_path_unlink_file(dir, "dangling/"));
    wts_e("unlink dangling", __wasi_path_unlink_file(dir, "dangling"));

    /* loop */
    wts_e("symlink loop", __wasi_path_symlink("symlink", dir, "symlink"));
    wts_e("open loop follow", __wasi_path_open(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "symlink", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd));
    wts_e("open loop nofollow", __wasi_path_open(dir, 0, "symlink", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd));
    wts_e("open loop/x", __wasi_path_open(dir, 0, "symlink/x", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, 0, &fd));
    wts_stat("stat loop follow", dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "symlink");
    wts_e("unlink loop", __wasi_path_unlink_file(dir, "symlink"));

    /* create and read back; readlink buffer sizes */
    wts_e("symlink to file", __wasi_path_symlink("file", dir, "link"));
    readlink_into("readlink full", dir, "link", 64);
    readlink_into("readlink 2", dir, "link", 2);
    readlink_into("readlink 0", dir, "link", 0);
    readlink_into("readlink file", dir, "file", 64);
    readlink_into("readlink missing", dir, "missing", 64);
    readlink_into("readlink link/", dir, "link/", 64);
    if (wts_e("open link follow", __wasi_path_open(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "link", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd)) == 0) {
        wts_read("read through link", fd, 16);
        __wasi_fd_close(fd);
    }
    wts_e("symlink existing name", __wasi_path_symlink("file", dir, "link"));
    wts_e("symlink over file", __wasi_path_symlink("x", dir, "file"));
    wts_e("symlink over dir", __wasi_path_symlink("x", dir, "subdir"));
    wts_e("symlink absolute target", __wasi_path_symlink("/etc/passwd", dir, "abs"));
    wts_e("symlink to /", __wasi_path_symlink("/", dir, "abs"));
    wts_e("symlink escaping target", __wasi_path_symlink("../../..", dir, "esc"));
    wts_e("open escaping", __wasi_path_open(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "esc", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd));
    wts_e("unlink esc", __wasi_path_unlink_file(dir, "esc"));
    wts_e("symlink to subdir", __wasi_path_symlink("subdir", dir, "dirlink"));
    if (wts_e("open dirlink/ follow", __wasi_path_open(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "dirlink/", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd)) == 0)
        __wasi_fd_close(fd);

    /* nofollow errors */
    wts_e("nofollow open file link", __wasi_path_open(dir, 0, "link", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd));
    wts_e("nofollow open dir link O_DIRECTORY", __wasi_path_open(dir, 0, "dirlink", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd));
    wts_e("nofollow open dir link", __wasi_path_open(dir, 0, "dirlink", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd));
    wts_e("rmdir dirlink", __wasi_path_remove_directory(dir, "dirlink"));
    wts_e("rmdir dirlink/", __wasi_path_remove_directory(dir, "dirlink/"));
    wts_e("unlink dirlink/", __wasi_path_unlink_file(dir, "dirlink/"));

    /* trailing slashes on symlink creation */
    wts_e("symlink src -> new/", __wasi_path_symlink("source", dir, "target/"));
    wts_e("symlink src/ -> new", __wasi_path_symlink("source/", dir, "target"));
    readlink_into("readlink target", dir, "target", 64);
    wts_e("unlink target", __wasi_path_unlink_file(dir, "target"));
    wts_e("symlink -> file/", __wasi_path_symlink("source", dir, "file/"));
    wts_e("symlink -> subdir/", __wasi_path_symlink("source", dir, "subdir/"));
    wts_e("symlink -> link/", __wasi_path_symlink("source", dir, "link/"));

    wts_e("unlink dirlink", __wasi_path_unlink_file(dir, "dirlink"));
    wts_e("unlink link", __wasi_path_unlink_file(dir, "link"));
    wts_e("unlink file", __wasi_path_unlink_file(dir, "file"));
    wts_e("rmdir subdir", __wasi_path_remove_directory(dir, "subdir"));
    wts_done(root, dir, D);
    return 0;
}
