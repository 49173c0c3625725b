/* wasi-testsuite area: fd_filestat_get/set, path_filestat_get/set_times,
 * stat dev/ino stability (stat-dev-ino), symlink_filestat, file_truncation. */
#include "wts.h"

#define D "filestat.cleanup"

static void times(const char *label, __wasi_fd_t dir, __wasi_lookupflags_t fl, const char *p) {
    __wasi_filestat_t st;
    __wasi_errno_t e = __wasi_path_filestat_get(dir, fl, p, &st);
    if (e) { wts_e(label, e); return; }
    printf("%s: atim=%llu mtim=%llu\n", label, (unsigned long long)st.atim, (unsigned long long)st.mtim);
}

int main(int argc, char **argv) {
    __wasi_fd_t root = wts_root(argc, argv);
    __wasi_fd_t dir = wts_scratch(root, D);
    wts_make_file(dir, "file", "0123456789");
    wts_make_file(dir, "other", NULL);
    wts_e("mkdir sub", __wasi_path_create_directory(dir, "sub"));

    int64_t f = wts_open("open", dir, "file", 0, WTS_FILE_RW, 0);
    if (f < 0) return 1;
    __wasi_fd_t fd = (__wasi_fd_t)f;
    __wasi_filestat_t a, b, c, s;
    wts_e("fd_filestat_get", __wasi_fd_filestat_get(fd, &a));
    wts_e("path_filestat_get", __wasi_path_filestat_get(dir, 0, "file", &b));
    wts_e("path_filestat_get other", __wasi_path_filestat_get(dir, 0, "other", &c));
    wts_e("path_filestat_get sub", __wasi_path_filestat_get(dir, 0, "sub", &s));
    printf("size=%llu type=%d nlink=%llu\n", (unsigned long long)a.size, a.filetype, (unsigned long long)a.nlink);
    printf("same dev fd/path=%d same ino fd/path=%d\n", a.dev == b.dev, a.ino == b.ino);
    printf("other: same dev=%d same ino=%d\n", a.dev == c.dev, a.ino == c.ino);
    printf("sub type=%d same dev=%d\n", s.filetype, a.dev == s.dev);
    __wasi_filestat_t again;
    __wasi_path_filestat_get(dir, 0, "./sub/../file", &again);
    printf("ino stable via other path=%d\n", again.ino == a.ino);

    /* explicit times */
    wts_e("fd set times", __wasi_fd_filestat_set_times(fd, 1000000000ull, 2000000000ull, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    times("after fd set", dir, 0, "file");
    wts_e("fd set mtim only", __wasi_fd_filestat_set_times(fd, 0, 3000000000ull, __WASI_FSTFLAGS_MTIM));
    times("after mtim only", dir, 0, "file");
    wts_e("path set atim", __wasi_path_filestat_set_times(dir, 0, "file", 4000000000ull, 0, __WASI_FSTFLAGS_ATIM));
    times("after path set", dir, 0, "file");
    wts_e("path set now", __wasi_path_filestat_set_times(dir, 0, "file", 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
    __wasi_filestat_t n;
    __wasi_path_filestat_get(dir, 0, "file", &n);
    printf("mtim moved by NOW=%d atim kept=%d\n", n.mtim > 3000000000ull, n.atim == 4000000000ull);

    /* sizes */
    wts_e("set size 3", __wasi_fd_filestat_set_size(fd, 3));
    __wasi_fd_filestat_get(fd, &a);
    printf("size=%llu\n", (unsigned long long)a.size);
    wts_e("set size 100", __wasi_fd_filestat_set_size(fd, 100));
    __wasi_fd_filestat_get(fd, &a);
    printf("size=%llu\n", (unsigned long long)a.size);
    __wasi_filesize_t pos;
    wts_e("seek 0", __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
    wts_read("read grown", fd, 5);
    wts_e("set size 0", __wasi_fd_filestat_set_size(fd, 0));
    wts_e("close", __wasi_fd_close(fd));

    /* a read-only fd cannot change the size */
    int64_t ro = wts_open("open ro", dir, "file", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_FILESTAT_SET_SIZE, 0);
    if (ro >= 0) {
        wts_e("set size on ro", __wasi_fd_filestat_set_size((__wasi_fd_t)ro, 5));
        __wasi_fd_close((__wasi_fd_t)ro);
    }
    /* O_TRUNC through a path */
    wts_make_file(dir, "file", "abc");
    int64_t t = wts_open("open trunc", dir, "file", __WASI_OFLAGS_TRUNC, __WASI_RIGHTS_FD_WRITE, 0);
    if (t >= 0) __wasi_fd_close((__wasi_fd_t)t);
    wts_stat("stat after trunc", dir, 0, "file");

    /* symlink filestat: NOFOLLOW sees the link, FOLLOW the target */
    wts_e("symlink", __wasi_path_symlink("file", dir, "link"));
    wts_stat("stat link nofollow", dir, 0, "link");
    wts_stat("stat link follow", dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "link");
    wts_e("set link times nofollow", __wasi_path_filestat_set_times(dir, 0, "link", 7000000000ull, 8000000000ull, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    times("link nofollow", dir, 0, "link");
    __wasi_filestat_t tg;
    wts_e("stat target", __wasi_path_filestat_get(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "link", &tg));
    printf("target untouched=%d\n", tg.mtim != 8000000000ull);
    wts_e("set times follow", __wasi_path_filestat_set_times(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "link", 5000000000ull, 6000000000ull, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    times("target after follow", dir, 0, "file");
    wts_stat("stat missing", dir, 0, "missing");
    wts_stat("stat file/", dir, 0, "file/");
    wts_stat("stat sub/", dir, 0, "sub/");
    wts_stat("stat link/", dir, 0, "link/");

    wts_e("unlink link", __wasi_path_unlink_file(dir, "link"));
    wts_e("unlink file", __wasi_path_unlink_file(dir, "file"));
    wts_e("unlink other", __wasi_path_unlink_file(dir, "other"));
    wts_e("rmdir sub", __wasi_path_remove_directory(dir, "sub"));
    wts_done(root, dir, D);
    return 0;
}
