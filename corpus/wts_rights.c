/* wasi-testsuite rights areas: fd_fdstat_set_rights, truncation_rights,
 * path_open_read_without_rights, rights of hard links. The suite runs these
 * checks only where fd_fdstat_set_rights is supported (wasmtime answers ENOTSUP
 * and skips them); this guest does the same and checks the suite's assertions
 * itself: it prints "FAIL ..." and exits 1 on any violation. */
#include "wts.h"

static int failures;
#define EXPECT(cond, what) do { if (!(cond)) { printf("FAIL %s\n", what); failures++; } } while (0)
#define R(x) __WASI_RIGHTS_##x

static __wasi_fdstat_t fdstat(__wasi_fd_t fd) {
    __wasi_fdstat_t st;
    memset(&st, 0, sizeof st);
    EXPECT(__wasi_fd_fdstat_get(fd, &st) == 0, "fd_fdstat_get");
    return st;
}

static int supports_rights(__wasi_fd_t fd) {
    __wasi_fdstat_t st = fdstat(fd);
    return __wasi_fd_fdstat_set_rights(fd, st.fs_rights_base, st.fs_rights_inheriting) != __WASI_ERRNO_NOTSUP;
}

static void set_rights_check(__wasi_fd_t dir) {
    __wasi_fd_t fd;
    EXPECT(__wasi_path_open(dir, 0, "file", __WASI_OFLAGS_CREAT, R(FD_READ) | R(FD_WRITE) | R(FD_SEEK) | R(FD_TELL), 0, 0, &fd) == 0, "create file");
    uint8_t data[4] = {0, 1, 2, 3}, back[4] = {9, 9, 9, 9};
    __wasi_ciovec_t ciov = {data, 4};
    __wasi_iovec_t iov = {back, 4};
    __wasi_size_t n = 0;
    __wasi_filesize_t pos;
    EXPECT(__wasi_fd_write(fd, &ciov, 1, &n) == 0 && n == 4, "write with rights");
    EXPECT(__wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos) == 0, "seek");
    EXPECT(__wasi_fd_read(fd, &iov, 1, &n) == 0 && n == 4 && memcmp(data, back, 4) == 0, "read back");
    __wasi_fdstat_t st = fdstat(fd);
    EXPECT(__wasi_fd_fdstat_set_rights(fd, st.fs_rights_base & ~(R(FD_READ) | R(FD_WRITE)), st.fs_rights_inheriting) == 0, "drop read/write");
    st = fdstat(fd);
    EXPECT((st.fs_rights_base & (R(FD_READ) | R(FD_WRITE))) == 0, "read/write dropped");
    EXPECT(st.fs_rights_base & R(FD_SEEK), "seek kept");
    __wasi_errno_t e = __wasi_fd_read(fd, &iov, 1, &n);
    EXPECT(e == __WASI_ERRNO_BADF || e == __WASI_ERRNO_NOTCAPABLE, "read without right fails");
    e = __wasi_fd_write(fd, &ciov, 1, &n);
    EXPECT(e == __WASI_ERRNO_BADF || e == __WASI_ERRNO_NOTCAPABLE, "write without right fails");
    __wasi_rights_t more = R(FD_READ) | R(FD_WRITE) | R(FD_SEEK) | R(FD_TELL);
    EXPECT(__wasi_fd_fdstat_set_rights(fd, st.fs_rights_base | more, st.fs_rights_inheriting | more) == __WASI_ERRNO_NOTCAPABLE, "regrant is ENOTCAPABLE");
    EXPECT(__wasi_fd_close(fd) == 0, "close");
    EXPECT(__wasi_path_unlink_file(dir, "file") == 0, "unlink");
}

static void truncation_check(__wasi_fd_t dir) {
    __wasi_fd_t fd;
    wts_make_file(dir, "file", "content");
    __wasi_fdstat_t st = fdstat(dir);
    EXPECT(st.fs_filetype == __WASI_FILETYPE_DIRECTORY, "scratch is a directory");
    EXPECT(st.fs_flags == 0, "scratch has no flags");
    EXPECT((st.fs_rights_base & R(FD_FILESTAT_SET_SIZE)) == 0, "directory lacks fd_filestat_set_size");
    if (!(st.fs_rights_base & R(PATH_FILESTAT_SET_SIZE))) {
        printf("no path_filestat_set_size: truncation skipped\n");
    } else {
        EXPECT(__wasi_path_open(dir, 0, "file", __WASI_OFLAGS_TRUNC, 0, 0, 0, &fd) == 0, "truncate by path");
        __wasi_fd_close(fd);
        __wasi_rights_t base = st.fs_rights_base, inh = st.fs_rights_inheriting;
        if (inh & R(FD_FILESTAT_SET_SIZE)) {
            inh &= ~R(FD_FILESTAT_SET_SIZE);
            EXPECT(__wasi_fd_fdstat_set_rights(dir, base, inh) == 0, "drop inheriting set_size");
        }
        EXPECT(__wasi_path_open(dir, 0, "file", __WASI_OFLAGS_TRUNC, 0, 0, 0, &fd) == 0, "truncate without fd set_size");
        __wasi_fd_close(fd);
        base &= ~R(PATH_FILESTAT_SET_SIZE);
        EXPECT(__wasi_fd_fdstat_set_rights(dir, base, inh) == 0, "drop path set_size");
        EXPECT((fdstat(dir).fs_rights_base & R(PATH_FILESTAT_SET_SIZE)) == 0, "path set_size dropped");
        __wasi_errno_t e = __wasi_path_open(dir, 0, "file", __WASI_OFLAGS_TRUNC, 0, 0, 0, &fd);
        EXPECT(e == __WASI_ERRNO_PERM || e == __WASI_ERRNO_NOTCAPABLE, "truncate without path set_size fails");
    }
    EXPECT(__wasi_path_unlink_file(dir, "file") == 0, "unlink");
}

static void read_without_rights_check(__wasi_fd_t dir) {
    __wasi_fd_t fd;
    wts_make_file(dir, "file", "secret");
    __wasi_fdstat_t st = fdstat(dir);
    EXPECT(__wasi_fd_fdstat_set_rights(dir, st.fs_rights_base & ~R(FD_READ), st.fs_rights_inheriting & ~R(FD_READ)) == 0, "drop read");
    st = fdstat(dir);
    EXPECT((st.fs_rights_base & R(FD_READ)) == 0 && (st.fs_rights_inheriting & R(FD_READ)) == 0, "dir read dropped");
    EXPECT(__wasi_path_open(dir, 0, "file", 0, 0, 0, 0, &fd) == 0, "open without rights");
    st = fdstat(fd);
    EXPECT((st.fs_rights_base & R(FD_READ)) == 0 && (st.fs_rights_inheriting & R(FD_READ)) == 0, "file has no read right");
    uint8_t b[1];
    __wasi_iovec_t iov = {b, 1};
    __wasi_size_t n;
    EXPECT(__wasi_fd_read(fd, &iov, 1, &n) == __WASI_ERRNO_BADF, "read is EBADF");
    __wasi_fd_close(fd);
    EXPECT(__wasi_path_unlink_file(dir, "file") == 0, "unlink");
}

static void link_rights_check(__wasi_fd_t dir) {
    __wasi_rights_t t = R(FD_READ) | R(PATH_LINK_SOURCE) | R(PATH_LINK_TARGET) | R(FD_FILESTAT_GET) | R(PATH_OPEN) | R(PATH_UNLINK_FILE);
    __wasi_fd_t file, sub, link;
    EXPECT(__wasi_path_open(dir, 0, "file", __WASI_OFLAGS_CREAT, t, t, 0, &file) == 0, "create");
    EXPECT(__wasi_path_create_directory(dir, "subdir") == 0, "mkdir");
    EXPECT(__wasi_path_open(dir, 0, "subdir", __WASI_OFLAGS_DIRECTORY, t, t, 0, &sub) == 0, "open subdir");
    EXPECT(__wasi_path_link(dir, 0, "file", sub, "link") == 0, "link into subdir");
    EXPECT(__wasi_path_open(sub, 0, "link", 0, t, t, 0, &link) == 0, "open link");
    __wasi_fdstat_t a = fdstat(file), b = fdstat(link);
    EXPECT(a.fs_rights_base == b.fs_rights_base && a.fs_rights_inheriting == b.fs_rights_inheriting, "link has the same rights");
    if (getenv("WTS_DEBUG")) printf("%llx %llx / %llx %llx\n", (unsigned long long)a.fs_rights_base, (unsigned long long)a.fs_rights_inheriting, (unsigned long long)b.fs_rights_base, (unsigned long long)b.fs_rights_inheriting);
    __wasi_fd_close(link);
    EXPECT(__wasi_path_unlink_file(sub, "link") == 0, "unlink link");
    __wasi_fd_close(sub);
    __wasi_fd_close(file);
    EXPECT(__wasi_path_remove_directory(dir, "subdir") == 0, "rmdir");
    EXPECT(__wasi_path_unlink_file(dir, "file") == 0, "unlink file");
}

int main(int argc, char **argv) {
    __wasi_fd_t root = wts_root(argc, argv);
    static const char *names[] = {"set_rights.cleanup", "truncation.cleanup", "read_rights.cleanup", "link_rights.cleanup"};
    static void (*checks[])(__wasi_fd_t) = {set_rights_check, truncation_check, read_without_rights_check, link_rights_check};
    for (int i = 0; i < 4; i++) {
        __wasi_fd_t dir = wts_scratch(root, names[i]);
        if (!supports_rights(dir))
            printf("%s: rights not supported, skipped\n", names[i]);
        else {
            int before = failures;
            checks[i](dir);
            printf("%s: checked, %s\n", names[i], failures == before ? "passed" : "FAILED");
        }
        wts_done(root, dir, names[i]);
    }
    return failures ? 1 : 0;
}
