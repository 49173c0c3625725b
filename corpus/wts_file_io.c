/* wasi-testsuite areas: file_pread_pwrite, file_seek_tell, file_unbuffered_write,
 * file_truncation, lseek, pwrite-with-append, pread/pwrite with access modes. */
#include "wts.h"

#define D "file_io.cleanup"

static void pread_at(const char *label, __wasi_fd_t fd, size_t len, __wasi_filesize_t off) {
    uint8_t buf[64];
    __wasi_iovec_t iov = {buf, len};
    __wasi_size_t n = 0;
    __wasi_errno_t e = __wasi_fd_pread(fd, &iov, 1, off, &n);
    if (e) n = 0;
    printf("%s: %s(%d) n=%u [%.*s]\n", label, errname(e), (int)e, (unsigned)n, (int)n, buf);
}

static void pwrite_at(const char *label, __wasi_fd_t fd, const char *s, __wasi_filesize_t off) {
    __wasi_ciovec_t iov = {(const uint8_t *)s, strlen(s)};
    __wasi_size_t n = 0;
    __wasi_errno_t e = __wasi_fd_pwrite(fd, &iov, 1, off, &n);
    printf("%s: %s(%d) n=%u\n", label, errname(e), (int)e, (unsigned)(e ? 0 : n));
}

static void tell(const char *label, __wasi_fd_t fd) {
    __wasi_filesize_t pos = 0;
    __wasi_errno_t e = __wasi_fd_tell(fd, &pos);
    printf("%s: %s(%d) pos=%llu\n", label, errname(e), (int)e, (unsigned long long)(e ? 0 : pos));
}

static void seek(const char *label, __wasi_fd_t fd, int64_t off, int whence) {
    __wasi_filesize_t pos = 0;
    __wasi_errno_t e = __wasi_fd_seek(fd, off, (__wasi_whence_t)whence, &pos);
    printf("%s: %s(%d) pos=%llu\n", label, errname(e), (int)e, (unsigned long long)(e ? 0 : pos));
}

static void size(const char *label, __wasi_fd_t fd) {
    __wasi_filestat_t st;
    __wasi_errno_t e = __wasi_fd_filestat_get(fd, &st);
    printf("%s: %s(%d) size=%llu\n", label, errname(e), (int)e, (unsigned long long)(e ? 0 : st.size));
}

int main(int argc, char **argv) {
    __wasi_fd_t root = wts_root(argc, argv);
    __wasi_fd_t dir = wts_scratch(root, D);

    /* pread / pwrite do not move the offset */
    int64_t f = wts_open("create", dir, "file", __WASI_OFLAGS_CREAT, WTS_FILE_RW, 0);
    if (f < 0) return 1;
    __wasi_fd_t fd = (__wasi_fd_t)f;
    pwrite_at("pwrite 0", fd, "0123456789", 0);
    tell("tell after pwrite", fd);
    pread_at("pread 0", fd, 4, 0);
    pread_at("pread 6", fd, 10, 6);
    pread_at("pread at end", fd, 4, 10);
    pread_at("pread past end", fd, 4, 100);
    pwrite_at("pwrite past end", fd, "Z", 20);
    size("size after sparse pwrite", fd);
    pread_at("pread hole", fd, 4, 10);
    tell("tell after preads", fd);
    /* vectored pread with two buffers */
    {
        uint8_t a[3], b[3];
        __wasi_iovec_t iov[2] = {{a, 3}, {b, 3}};
        __wasi_size_t n = 0;
        __wasi_errno_t e = __wasi_fd_pread(fd, iov, 2, 2, &n);
        printf("pread 2 iovecs: %s(%d) first=[%.3s]\n", errname(e), (int)e, a);
    }

    /* vectored pwrite/pread in a loop, as the suite does (hosts may move only
     * the first buffer per call) */
    {
        const uint8_t data[4] = {'a', 'b', 'c', 'd'};
        size_t off = 0;
        int calls = 0;
        while (off < 4 && calls++ < 10) {
            __wasi_ciovec_t iov[2] = {{data + off, 4 - off > 2 ? 2 : 4 - off}, {data + off + 2, 4 - off > 2 ? 4 - off - 2 : 0}};
            __wasi_size_t n = 0;
            if (__wasi_fd_pwrite(fd, iov, 2, 100 + off, &n) != 0 || n == 0) break;
            off += n;
        }
        printf("vectored pwrite total=%zu\n", off);
        uint8_t got[4] = {0}, buf[4];
        off = 0;
        calls = 0;
        while (calls++ < 10) {
            __wasi_iovec_t iov[2] = {{buf, 2}, {buf + 2, 2}};
            __wasi_size_t n = 0;
            if (__wasi_fd_pread(fd, iov, 2, 100 + off, &n) != 0 || n == 0) break;
            memcpy(got + off, buf, n);
            off += n;
        }
        printf("vectored pread total=%zu [%.4s]\n", off, got);
        tell("tell after vectored", fd);
    }

    /* seek / tell */
    seek("seek cur 0", fd, 0, __WASI_WHENCE_CUR);
    wts_write("write 5", fd, "hello", 5);
    tell("tell after write", fd);
    seek("seek cur -2", fd, -2, __WASI_WHENCE_CUR);
    seek("seek end 0", fd, 0, __WASI_WHENCE_END);
    seek("seek end -5", fd, -5, __WASI_WHENCE_END);
    seek("seek beyond end", fd, 1000, __WASI_WHENCE_CUR);
    seek("seek before start", fd, -5000, __WASI_WHENCE_CUR);
    tell("tell after failed seek", fd);
    seek("seek set 0", fd, 0, __WASI_WHENCE_SET);
    wts_read("read 8", fd, 8);
    tell("tell after read", fd);
    seek("seek set -1", fd, -1, __WASI_WHENCE_SET);

    /* unbuffered write: visible through a second descriptor at once */
    int64_t r = wts_open("open reader", dir, "file", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK, 0);
    seek("seek set 0", fd, 0, __WASI_WHENCE_SET);
    wts_write("write XYZ", fd, "XYZ", 3);
    if (r >= 0) {
        wts_read("other fd sees", (__wasi_fd_t)r, 6);
        wts_write("write on reader", (__wasi_fd_t)r, "no", 2);
        pwrite_at("pwrite on reader", (__wasi_fd_t)r, "no", 0);
        __wasi_fd_close((__wasi_fd_t)r);
    }

    /* truncation */
    wts_e("truncate 4", __wasi_fd_filestat_set_size(fd, 4));
    size("size", fd);
    tell("tell keeps offset", fd);
    wts_e("truncate 0", __wasi_fd_filestat_set_size(fd, 0));
    seek("seek end", fd, 0, __WASI_WHENCE_END);
    wts_e("close", __wasi_fd_close(fd));

    /* O_TRUNC through path_open, and pwrite with O_APPEND */
    wts_make_file(dir, "file", "some content");
    int64_t t = wts_open("open trunc", dir, "file", __WASI_OFLAGS_TRUNC, WTS_FILE_RW, 0);
    if (t >= 0) { size("size after O_TRUNC", (__wasi_fd_t)t); __wasi_fd_close((__wasi_fd_t)t); }
    wts_make_file(dir, "file", "0123456789");
    int64_t a = wts_open("open append", dir, "file", 0, WTS_FILE_RW, __WASI_FDFLAGS_APPEND);
    if (a >= 0) {
        __wasi_fd_t afd = (__wasi_fd_t)a;
        pwrite_at("pwrite with append", afd, "AB", 0);
        size("size after append pwrite", afd);
        pread_at("contents", afd, 20, 0);
        wts_write("append write", afd, "CD", 2);
        tell("tell after append write", afd);
        pread_at("contents", afd, 20, 0);
        __wasi_fd_close(afd);
    }

    /* fixtures shipped with the test directory (lseek.txt, pread.txt) */
    int64_t l = wts_open("open lseek.txt", root, "lseek.txt", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL, 0);
    if (l >= 0) {
        seek("lseek end", (__wasi_fd_t)l, 0, __WASI_WHENCE_END);
        seek("lseek set 10", (__wasi_fd_t)l, 10, __WASI_WHENCE_SET);
        wts_read("read at 10", (__wasi_fd_t)l, 3);
        seek("lseek cur -4", (__wasi_fd_t)l, -4, __WASI_WHENCE_CUR);
        wts_read("read", (__wasi_fd_t)l, 2);
        __wasi_fd_close((__wasi_fd_t)l);
    }
    int64_t p = wts_open("open pread.txt", root, "pread.txt", 0, __WASI_RIGHTS_FD_READ, 0);
    if (p >= 0) {
        pread_at("pread fixture", (__wasi_fd_t)p, 5, 6);
        pwrite_at("pwrite read-only fixture", (__wasi_fd_t)p, "x", 0);
        __wasi_fd_close((__wasi_fd_t)p);
    }
    pread_at("pread bad fd", 999, 4, 0);
    seek("seek stdout", 1, 0, __WASI_WHENCE_CUR);

    wts_e("unlink file", __wasi_path_unlink_file(dir, "file"));
    wts_done(root, dir, D);
    return 0;
}
