/*
 * Descriptor odds and ends: the preopen table (fd_prestat_get/dir_name),
 * readv/writev with several iovecs, zero-length I/O, truncate() by path,
 * posix_fadvise (fd_advise), isatty, fd_renumber and fd_fdstat_get file types
 * and rights-derived access. argv[1] is a writable directory.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <wasi/api.h>
#include "common.h"

static const char *dir;
static char pbuf[512];
#define P(name) join(pbuf, sizeof pbuf, dir, name)

static const char *ftype(__wasi_filetype_t t) {
    switch (t) {
    case __WASI_FILETYPE_REGULAR_FILE: return "reg";
    case __WASI_FILETYPE_DIRECTORY: return "dir";
    case __WASI_FILETYPE_CHARACTER_DEVICE: return "chr";
    case __WASI_FILETYPE_SYMBOLIC_LINK: return "lnk";
    case __WASI_FILETYPE_UNKNOWN: return "unknown";
    default: return "other";
    }
}

int main(int argc, char **argv) {
    dir = argc > 1 ? argv[1] : "/data";

    /* the preopen table: names of every preopened directory, in fd order */
    int preopens = 0;
    for (int fd = 3; fd < 32; fd++) {
        __wasi_prestat_t ps;
        __wasi_errno_t e = __wasi_fd_prestat_get(fd, &ps);
        if (e == __WASI_ERRNO_BADF) break;
        if (e != 0) {
            printf("prestat fd %d: %s\n", fd, errname(e));
            continue;
        }
        char name[256];
        size_t len = ps.u.dir.pr_name_len;
        e = __wasi_fd_prestat_dir_name(fd, (uint8_t *)name, len);
        printf("preopen fd %d: tag=%u name=[%.*s] %s\n", fd, ps.tag, (int)len, name, errname(e));
        preopens++;
    }
    printf("preopens: %d\n", preopens);
    __wasi_prestat_t ps;
    printf("prestat of stdout: %s\n", errname(__wasi_fd_prestat_get(1, &ps)));

    /* writev / readv with several buffers, including an empty one. A host may
       transfer fewer bytes than asked (wasmtime moves only the first non-empty
       buffer per call), so loop like a careful program and print totals. */
    int fd = open(P("v.txt"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    struct iovec out[3] = {{"abc", 3}, {"", 0}, {"defgh", 5}};
    ssize_t first = writev(fd, out, 3);
    printf("writev first call wrote 1..8: %d\n", first >= 1 && first <= 8);
    const char *all = "abcdefgh";
    for (ssize_t done = first; done < 8;) {
        ssize_t w = write(fd, all + done, 8 - done);
        if (w <= 0) break;
        done += w;
    }
    lseek(fd, 0, SEEK_SET);
    char a[2], b[4], c[8];
    struct iovec in[3] = {{a, 2}, {b, 4}, {c, 8}};
    ssize_t n = readv(fd, in, 3);
    printf("readv first call read 1..8: %d starts [%.2s]\n", n >= 1 && n <= 8, a);
    char whole[16];
    lseek(fd, 0, SEEK_SET);
    ssize_t total = 0, r;
    while ((r = read(fd, whole + total, sizeof whole - total)) > 0) total += r;
    printf("file after vectored write: %zd [%.*s]\n", total, (int)total, whole);
    printf("write 0 bytes: %zd\n", write(fd, "", 0));
    printf("read 0 bytes: %zd\n", read(fd, c, 0));
    close(fd);

    /* truncate by path */
    CHECK("truncate path", truncate(P("v.txt"), 2));
    struct stat st;
    stat(P("v.txt"), &st);
    printf("size after truncate: %lld\n", (long long)st.st_size);
    CHECK("truncate missing", truncate(P("nope"), 2));

    /* posix_fadvise returns the error number */
    fd = open(P("v.txt"), O_RDONLY);
    printf("fadvise sequential: %s\n", errname(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)));
    printf("fadvise bad fd: %s\n", errname(posix_fadvise(99, 0, 0, POSIX_FADV_NORMAL)));

    /* fd_fdstat_get types */
    __wasi_fdstat_t fs;
    __wasi_fd_fdstat_get(fd, &fs);
    printf("fdstat file: %s\n", ftype(fs.fs_filetype));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    __wasi_fd_fdstat_get(dfd, &fs);
    printf("fdstat dir: %s\n", ftype(fs.fs_filetype));
    printf("fdstat bad fd: %s\n", errname(__wasi_fd_fdstat_get(99, &fs)));

    /* fd_renumber: fd takes over dfd's slot; the old number is closed */
    __wasi_errno_t e = __wasi_fd_renumber(fd, dfd);
    printf("renumber: %s\n", errname(e));
    __wasi_fd_fdstat_get(dfd, &fs);
    printf("after renumber target is: %s\n", ftype(fs.fs_filetype));
    printf("old fd after renumber: %s\n", errname(__wasi_fd_fdstat_get(fd, &fs)));
    printf("renumber bad fd: %s\n", errname(__wasi_fd_renumber(99, dfd)));
    char buf[4];
    lseek(dfd, 0, SEEK_SET);
    printf("read via renumbered fd: %zd [%.2s]\n", read(dfd, buf, 2), buf);
    close(dfd);

    CHECK("unlink v.txt", unlink(P("v.txt")));
    return 0;
}
