/* wasi-testsuite areas: path_symlink_trailing_slashes, path_rename_dir_trailing_slashes,
 * unlink_file_trailing_slashes, remove_directory_trailing_slashes, in the
 * suite's order (the state each step starts from matters). */
#include "wts.h"

#define D "slashes.cleanup"

int main(int argc, char **argv) {
    __wasi_fd_t root = wts_root(argc, argv);
    __wasi_fd_t dir = wts_scratch(root, D);

    /* path_symlink */
    wts_e("symlink -> target/ (dangling)", __wasi_path_symlink("source", dir, "target/"));
    if (wts_e("symlink -> target (dangling)", __wasi_path_symlink("source", dir, "target")) == 0)
        wts_e("unlink target", __wasi_path_unlink_file(dir, "target"));
    wts_e("mkdir target", __wasi_path_create_directory(dir, "target"));
    wts_e("symlink -> existing dir target/", __wasi_path_symlink("source", dir, "target/"));
    wts_e("symlink -> existing dir target", __wasi_path_symlink("source", dir, "target"));
    wts_e("rmdir target", __wasi_path_remove_directory(dir, "target"));
    wts_make_file(dir, "target", NULL);
    wts_e("symlink -> existing file target/", __wasi_path_symlink("source", dir, "target/"));
    wts_e("symlink -> existing file target", __wasi_path_symlink("source", dir, "target"));
    wts_e("unlink target", __wasi_path_unlink_file(dir, "target"));

    /* path_rename with directories */
    wts_e("mkdir source", __wasi_path_create_directory(dir, "source"));
    wts_e("rename source/ target", __wasi_path_rename(dir, "source/", dir, "target"));
    wts_e("rename target source/", __wasi_path_rename(dir, "target", dir, "source/"));
    wts_e("rename source/ target/", __wasi_path_rename(dir, "source/", dir, "target/"));
    wts_e("rename target source", __wasi_path_rename(dir, "target", dir, "source"));
    wts_e("rename source// target//", __wasi_path_rename(dir, "source//", dir, "target//"));
    wts_e("rmdir target", __wasi_path_remove_directory(dir, "target"));
    /* ... and with files */
    wts_make_file(dir, "file", NULL);
    wts_e("rename file/ x", __wasi_path_rename(dir, "file/", dir, "x"));
    wts_e("rename file x/", __wasi_path_rename(dir, "file", dir, "x/"));
    wts_e("rename file/ x/", __wasi_path_rename(dir, "file/", dir, "x/"));

    /* unlink_file */
    wts_e("unlink file/", __wasi_path_unlink_file(dir, "file/"));
    wts_e("unlink file//", __wasi_path_unlink_file(dir, "file//"));
    wts_e("unlink file", __wasi_path_unlink_file(dir, "file"));
    wts_e("symlink link -> file", __wasi_path_symlink("file", dir, "link"));
    wts_e("unlink link/ (dangling)", __wasi_path_unlink_file(dir, "link/"));
    wts_make_file(dir, "file", NULL);
    wts_e("unlink link/ (to file)", __wasi_path_unlink_file(dir, "link/"));
    wts_e("unlink link", __wasi_path_unlink_file(dir, "link"));

    /* remove_directory */
    wts_e("mkdir dir", __wasi_path_create_directory(dir, "dir"));
    wts_e("rmdir dir/", __wasi_path_remove_directory(dir, "dir/"));
    wts_e("mkdir dir//", __wasi_path_create_directory(dir, "dir//"));
    wts_e("rmdir dir//", __wasi_path_remove_directory(dir, "dir//"));
    wts_e("rmdir file/", __wasi_path_remove_directory(dir, "file/"));
    wts_e("rmdir file", __wasi_path_remove_directory(dir, "file"));
    wts_e("mkdir real", __wasi_path_create_directory(dir, "real"));
    wts_e("symlink dlink -> real", __wasi_path_symlink("real", dir, "dlink"));
    wts_e("rmdir dlink/", __wasi_path_remove_directory(dir, "dlink/"));
    wts_e("rmdir dlink", __wasi_path_remove_directory(dir, "dlink"));
    wts_e("unlink dlink", __wasi_path_unlink_file(dir, "dlink"));
    wts_e("rmdir real", __wasi_path_remove_directory(dir, "real"));
    wts_e("unlink file", __wasi_path_unlink_file(dir, "file"));
    wts_done(root, dir, D);
    return 0;
}
