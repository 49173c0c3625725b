/* wasi-testsuite areas: unlink_file_trailing_slashes,
 * remove_directory_trailing_slashes, remove_nonempty_directory, dangling_fd. */
#include "wts.h"

#define D "unlink.cleanup"

int main(int argc, char **argv) {
    __wasi_fd_t root = wts_root(argc, argv);
    __wasi_fd_t dir = wts_scratch(root, D);
    __wasi_fd_t fd;

    wts_e("mkdir dir", __wasi_path_create_directory(dir, "dir"));
    wts_e("mkdir existing", __wasi_path_create_directory(dir, "dir"));
    wts_e("mkdir trailing/", __wasi_path_create_directory(dir, "dir2/"));
    wts_e("rmdir trailing/", __wasi_path_remove_directory(dir, "dir2/"));
    wts_e("unlink dir", __wasi_path_unlink_file(dir, "dir"));
    wts_e("unlink dir/", __wasi_path_unlink_file(dir, "dir/"));
    wts_make_file(dir, "file", "x");
    wts_e("unlink file/", __wasi_path_unlink_file(dir, "file/"));
    wts_e("rmdir file", __wasi_path_remove_directory(dir, "file"));
    wts_e("rmdir file/", __wasi_path_remove_directory(dir, "file/"));
    wts_e("rmdir missing", __wasi_path_remove_directory(dir, "missing"));
    wts_e("unlink missing", __wasi_path_unlink_file(dir, "missing"));
    wts_e("rmdir .", __wasi_path_remove_directory(dir, "."));
    wts_e("rmdir dir/..", __wasi_path_remove_directory(dir, "dir/.."));
    wts_e("unlink empty", __wasi_path_unlink_file(dir, ""));

    /* non-empty directory */
    wts_e("mkdir dir/nested", __wasi_path_create_directory(dir, "dir/nested"));
    wts_e("rmdir non-empty", __wasi_path_remove_directory(dir, "dir"));
    wts_e("rmdir nested", __wasi_path_remove_directory(dir, "dir/nested"));

    /* dangling fds: removed file and directory stay usable */
    int64_t f = wts_open("open file", dir, "file", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_FILESTAT_GET, 0);
    wts_e("unlink open file", __wasi_path_unlink_file(dir, "file"));
    if (f >= 0) {
        wts_read("read unlinked", (__wasi_fd_t)f, 8);
        __wasi_filestat_t st;
        wts_e("fstat unlinked", __wasi_fd_filestat_get((__wasi_fd_t)f, &st));
        printf("unlinked nlink=%llu size=%llu\n", (unsigned long long)st.nlink, (unsigned long long)st.size);
        wts_e("close unlinked", __wasi_fd_close((__wasi_fd_t)f));
    }
    wts_e("mkdir subdir", __wasi_path_create_directory(dir, "subdir"));
    if (wts_e("open subdir", __wasi_path_open(root, 0, D "/subdir", __WASI_OFLAGS_DIRECTORY, WTS_DIR_BASE, WTS_DIR_INHERIT, 0, &fd)) == 0) {
        wts_e("rmdir open dir", __wasi_path_remove_directory(dir, "subdir"));
        wts_e("create in removed dir", __wasi_path_open(fd, 0, "x", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, 0, &fd));
        wts_e("close removed dir", __wasi_fd_close(fd));
    }
    wts_e("rmdir dir", __wasi_path_remove_directory(dir, "dir"));
    wts_done(root, dir, D);
    return 0;
}
