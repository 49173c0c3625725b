/* wasi-testsuite areas: path_rename, path_rename_dir_trailing_slashes, path_link. */
#include "wts.h"

#define D "rename.cleanup"

int main(int argc, char **argv) {
    __wasi_fd_t root = wts_root(argc, argv);
    __wasi_fd_t dir = wts_scratch(root, D);
    __wasi_fd_t fd;

    /* directories */
    wts_e("mkdir source", __wasi_path_create_directory(dir, "source"));
    wts_e("rename dir", __wasi_path_rename(dir, "source", dir, "target"));
    wts_stat("stat old", dir, 0, "source");
    wts_stat("stat new", dir, 0, "target");
    wts_e("mkdir source", __wasi_path_create_directory(dir, "source"));
    wts_e("rename dir over empty dir", __wasi_path_rename(dir, "source", dir, "target"));
    wts_e("mkdir source", __wasi_path_create_directory(dir, "source"));
    wts_make_file(dir, "target/file", "x");
    wts_e("rename dir over non-empty dir", __wasi_path_rename(dir, "source", dir, "target"));
    wts_e("rename dir into itself", __wasi_path_rename(dir, "source", dir, "source/inner"));
    wts_e("rename dir/ to new/", __wasi_path_rename(dir, "source/", dir, "renamed/"));
    wts_e("rename dir to new/", __wasi_path_rename(dir, "renamed", dir, "source/"));
    wts_e("rename missing", __wasi_path_rename(dir, "missing", dir, "x"));
    wts_make_file(dir, "file", "payload");
    wts_e("rename dir over file", __wasi_path_rename(dir, "source", dir, "file"));
    wts_e("rename file over dir", __wasi_path_rename(dir, "file", dir, "source"));
    wts_e("rename file/ to x", __wasi_path_rename(dir, "file/", dir, "x"));
    wts_e("rename file to x/", __wasi_path_rename(dir, "file", dir, "x/"));
    wts_e("rename dot", __wasi_path_rename(dir, ".", dir, "dot"));
    wts_e("rename to dot", __wasi_path_rename(dir, "source", dir, "."));

    /* files */
    wts_e("rename file", __wasi_path_rename(dir, "file", dir, "file2"));
    wts_make_file(dir, "file", "new");
    wts_e("rename file over file", __wasi_path_rename(dir, "file", dir, "file2"));
    if (wts_e("open file2", __wasi_path_open(dir, 0, "file2", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd)) == 0) {
        wts_read("file2", fd, 16);
        __wasi_fd_close(fd);
    }
    wts_e("rename file into subdir", __wasi_path_rename(dir, "file2", dir, "source/moved"));
    wts_stat("stat moved", dir, 0, "source/moved");
    wts_e("rename to itself", __wasi_path_rename(dir, "source/moved", dir, "source/moved"));

    /* links */
    wts_make_file(dir, "file", "linked");
    wts_e("link", __wasi_path_link(dir, 0, "file", dir, "link"));
    wts_stat("stat file", dir, 0, "file");
    __wasi_filestat_t a, b;
    __wasi_path_filestat_get(dir, 0, "file", &a);
    __wasi_path_filestat_get(dir, 0, "link", &b);
    printf("same ino=%d same dev=%d\n", a.ino == b.ino, a.dev == b.dev);
    wts_e("link to existing", __wasi_path_link(dir, 0, "file", dir, "link"));
    wts_e("link to itself", __wasi_path_link(dir, 0, "file", dir, "file"));
    wts_e("link over dir", __wasi_path_link(dir, 0, "file", dir, "source"));
    wts_e("link a dir", __wasi_path_link(dir, 0, "source", dir, "dirlink"));
    wts_e("link to x/", __wasi_path_link(dir, 0, "file", dir, "x/"));
    wts_e("link file/", __wasi_path_link(dir, 0, "file/", dir, "x"));
    wts_e("link missing", __wasi_path_link(dir, 0, "missing", dir, "x"));
    wts_e("link into subdir", __wasi_path_link(dir, 0, "file", dir, "source/link"));
    wts_e("symlink dangling", __wasi_path_symlink("target-x", dir, "sym"));
    wts_e("link a dangling symlink", __wasi_path_link(dir, 0, "sym", dir, "symlink2"));
    wts_stat("stat symlink2", dir, 0, "symlink2");
    wts_e("link over dangling symlink", __wasi_path_link(dir, 0, "file", dir, "sym"));
    wts_e("link follow dangling", __wasi_path_link(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "sym", dir, "x"));
    wts_e("unlink sym", __wasi_path_unlink_file(dir, "sym"));
    wts_e("symlink loop", __wasi_path_symlink("loop", dir, "loop"));
    wts_e("link a loop", __wasi_path_link(dir, 0, "loop", dir, "loop2"));
    wts_e("rename a loop", __wasi_path_rename(dir, "loop", dir, "loop3"));

    wts_e("unlink loop2", __wasi_path_unlink_file(dir, "loop2"));
    wts_e("unlink loop3", __wasi_path_unlink_file(dir, "loop3"));
    wts_e("unlink symlink2", __wasi_path_unlink_file(dir, "symlink2"));
    wts_e("unlink link", __wasi_path_unlink_file(dir, "link"));
    wts_e("unlink file", __wasi_path_unlink_file(dir, "file"));
    wts_e("unlink source/link", __wasi_path_unlink_file(dir, "source/link"));
    wts_e("unlink source/moved", __wasi_path_unlink_file(dir, "source/moved"));
    wts_e("rmdir source", __wasi_path_remove_directory(dir, "source"));
    wts_e("unlink target/file", __wasi_path_unlink_file(dir, "target/file"));
    wts_e("rmdir target", __wasi_path_remove_directory(dir, "target"));
    wts_done(root, dir, D);
    return 0;
}
