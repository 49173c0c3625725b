/* wasi-testsuite areas: interesting_paths, path_exists, path_filestat on odd
 * paths (., .., repeated and trailing slashes, absolute, nul, dir/file/..). */
#include "wts.h"

#define D "paths.cleanup"

static void open_try(const char *label, __wasi_fd_t dir, const char *p, __wasi_oflags_t of) {
    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(dir, 0, p, of, __WASI_RIGHTS_FD_READ, 0, 0, &fd);
    printf("%s [%s]: %s(%d)\n", label, p, errname(e), (int)e);
    if (!e) __wasi_fd_close(fd);
}

int main(int argc, char **argv) {
    __wasi_fd_t root = wts_root(argc, argv);
    __wasi_fd_t dir = wts_scratch(root, D);
    wts_e("mkdir dir", __wasi_path_create_directory(dir, "dir"));
    wts_e("mkdir dir/nested", __wasi_path_create_directory(dir, "dir/nested"));
    wts_make_file(dir, "dir/nested/file", "content");
    wts_e("symlink", __wasi_path_symlink("dir/nested", dir, "nlink"));

    const char *paths[] = {
        "dir/nested/file", "dir/nested/file/", "dir/nested/file/.", "dir/nested/file/..",
        "dir/nested/../nested/file", "dir//nested///file", "./dir/./nested/./file",
        "dir/nested/", "dir/nested/.", "dir/..", "dir/../..", "/dir/nested/file", "/",
        "dir/missing/file", "dir/nested/missing", "nlink/file", "nlink/../nested/file",
        "nlink/", "nlink", "..", ".", "dir/nested/file\\", "dir\\nested",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        open_try("open", dir, paths[i], 0);
        open_try("open O_DIRECTORY", dir, paths[i], __WASI_OFLAGS_DIRECTORY);
        char label[80];
        snprintf(label, sizeof label, "stat [%s]", paths[i]);
        wts_stat(label, dir, 0, paths[i]);
        snprintf(label, sizeof label, "stat follow [%s]", paths[i]);
        wts_stat(label, dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, paths[i]);
    }
    /* an embedded nul ends the path for C callers; raw call passes length */
    {
        __wasi_fd_t fd;
        __wasi_errno_t e = __wasi_path_open(dir, 0, "dir\0nested", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd);
        printf("open with libc-truncated nul: %s(%d)\n", errname(e), (int)e);
        if (!e) __wasi_fd_close(fd);
    }
    /* path_exists: creating over existing things */
    wts_e("mkdir existing file", __wasi_path_create_directory(dir, "dir/nested/file"));
    wts_e("mkdir existing dir/", __wasi_path_create_directory(dir, "dir/nested/"));
    wts_e("symlink over dir", __wasi_path_symlink("x", dir, "dir"));
    wts_e("link over nested", __wasi_path_link(dir, 0, "dir/nested/file", dir, "dir/nested"));
    wts_e("mkdir via file", __wasi_path_create_directory(dir, "dir/nested/file/sub"));
    wts_e("mkdir dot", __wasi_path_create_directory(dir, "."));
    wts_e("mkdir dotdot", __wasi_path_create_directory(dir, "dir/.."));

    wts_e("unlink nlink", __wasi_path_unlink_file(dir, "nlink"));
    wts_e("unlink file", __wasi_path_unlink_file(dir, "dir/nested/file"));
    wts_e("rmdir nested", __wasi_path_remove_directory(dir, "dir/nested"));
    wts_e("rmdir dir", __wasi_path_remove_directory(dir, "dir"));
    wts_done(root, dir, D);
    return 0;
}
