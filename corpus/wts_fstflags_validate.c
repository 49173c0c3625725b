/* wasi-testsuite area: fstflags validation in fd_/path_filestat_set_times. */
#include "wts.h"

#define D "fstflags.cleanup"

int main(int argc, char **argv) {
    __wasi_fd_t root = wts_root(argc, argv);
    __wasi_fd_t dir = wts_scratch(root, D);
    wts_make_file(dir, "file", "x");
    int64_t f = wts_open("open", dir, "file", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_FILESTAT_SET_TIMES, 0);
    if (f >= 0) {
        __wasi_fd_t fd = (__wasi_fd_t)f;
        wts_e("fd ATIM|ATIM_NOW", __wasi_fd_filestat_set_times(fd, 1, 1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW));
        wts_e("fd MTIM|MTIM_NOW", __wasi_fd_filestat_set_times(fd, 1, 1, __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW));
        wts_e("fd all four", __wasi_fd_filestat_set_times(fd, 1, 1, 15));
        wts_e("fd none", __wasi_fd_filestat_set_times(fd, 1, 1, 0));
        wts_e("fd ATIM only", __wasi_fd_filestat_set_times(fd, 5000000000ull, 0, __WASI_FSTFLAGS_ATIM));
        __wasi_fd_close(fd);
    }
    wts_e("path ATIM|ATIM_NOW", __wasi_path_filestat_set_times(dir, 0, "file", 1, 1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW));
    wts_e("path MTIM|MTIM_NOW", __wasi_path_filestat_set_times(dir, 0, "file", 1, 1, __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW));
    wts_e("path missing", __wasi_path_filestat_set_times(dir, 0, "missing", 1, 1, __WASI_FSTFLAGS_MTIM));
    wts_e("path missing invalid flags", __wasi_path_filestat_set_times(dir, 0, "missing", 1, 1, __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW));
    wts_e("fd bad fd", __wasi_fd_filestat_set_times(999, 1, 1, __WASI_FSTFLAGS_MTIM));
    wts_e("unlink", __wasi_path_unlink_file(dir, "file"));
    wts_done(root, dir, D);
    return 0;
}
