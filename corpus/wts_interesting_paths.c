/* wasi-testsuite areas: interesting_paths, path_exists, path_filestat on odd
 * paths (., .., repeated and trailing slashes, absolute, nul, dir/file/..). */
#include "wts.h"

#define D "paths.cleanup"

/* path_open with an explicit length, so a path can carry NUL bytes. */
int32_t raw_path_open(int32_t fd, int32_t dirflags, int32_t path, int32_t path_len, int32_t oflags,
                      int64_t base, int64_t inheriting, int32_t fdflags, int32_t fd_out)
    __attribute__((__import_module__("wasi_snapshot_preview1"), __import_name__("path_open")));

static void open_len(const char *label, __wasi_fd_t dir, const char *p, size_t len) {
    __wasi_fd_t fd = 0;
    int32_t e = raw_path_open((int32_t)dir, 0, (int32_t)(intptr_t)p, (int32_t)len, 0, 0, 0, 0, (int32_t)(intptr_t)&fd);
    printf("%s: %s(%d)\n", label, errname(e), (int)e);
    if (!e) __wasi_fd_close(fd);
}

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
    /* NUL bytes inside the path (the length is passed explicitly) */
    open_len("open with trailing NUL", dir, "dir/nested/file\0", 16);
    open_len("open with embedded NUL", dir, "dir\0nested/file", 15);
    open_len("open exact length", dir, "dir/nested/file", 15);
    open_len("open zero length", dir, "dir", 0);
    /* the suite's own combinations */
    open_try("open", dir, "dir/.//nested/../../dir/nested/../nested///./file", 0);
    open_try("open", dir, "dir/nested/file///", 0);
    open_try("open", dir, "dir/nested///", 0);
    {
        char bad[300];
        snprintf(bad, sizeof bad, "dir/nested/../../../%s/dir/nested/file", argc > 1 ? argv[1] : "");
        open_try("open too many ..", dir, bad, 0);
        snprintf(bad, sizeof bad, "dir/nested/../../../%s/" D "/dir/nested/file", argc > 1 ? argv[1] : "");
        open_try("open too many .. back in", dir, bad, 0);
    }
    /* a scratch directory with the smaller rights set interesting_paths uses,
     * opened (as there) from the test root, whose inheriting rights are full */
    {
        __wasi_fd_t small;
        wts_e("mkdir small", __wasi_path_create_directory(root, D "/small"));
        if (wts_e("open small", __wasi_path_open(root, 0, D "/small", __WASI_OFLAGS_DIRECTORY,
                  __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_PATH_CREATE_FILE |
                  __WASI_RIGHTS_PATH_CREATE_DIRECTORY | __WASI_RIGHTS_PATH_REMOVE_DIRECTORY |
                  __WASI_RIGHTS_PATH_OPEN | __WASI_RIGHTS_PATH_UNLINK_FILE,
                  __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_READDIR |
                  __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_FD_SEEK, 0, &small)) == 0) {
            wts_e("small mkdir d", __wasi_path_create_directory(small, "d"));
            wts_e("small mkdir d/n", __wasi_path_create_directory(small, "d/n"));
            __wasi_fd_t f;
            if (wts_e("small create d/n/f", __wasi_path_open(small, 0, "d/n/f", __WASI_OFLAGS_CREAT, 0, 0, 0, &f)) == 0)
                __wasi_fd_close(f);
            open_try("small open", small, "d/.//n/../../d/n/../n///./f", 0);
            open_try("small open", small, "d/n/", 0);
            open_try("small open", small, "/d/n/f", 0);
            wts_e("small unlink", __wasi_path_unlink_file(small, "d/n/f"));
            wts_e("small rmdir d/n", __wasi_path_remove_directory(small, "d/n"));
            wts_e("small rmdir d", __wasi_path_remove_directory(small, "d"));
            __wasi_fd_close(small);
        }
        wts_e("rmdir small", __wasi_path_remove_directory(dir, "small"));
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
