/* wasi-testsuite areas: fd_readdir, directory_seek, dir_fd_op_failures. */
#include "wts.h"

#define D "readdir.cleanup"
#define LOTS 300

struct ent { char name[32]; int type; };

static int cmp(const void *a, const void *b) { return strcmp(((const struct ent *)a)->name, ((const struct ent *)b)->name); }

/* Read all entries with a buffer of `cap` bytes, following cookies. */
static void list(const char *label, __wasi_fd_t dir, size_t cap) {
    static uint8_t buf[4096];
    struct ent ents[64];
    int n = 0, calls = 0;
    __wasi_dircookie_t cookie = 0;
    for (;;) {
        __wasi_size_t used = 0;
        __wasi_errno_t e = __wasi_fd_readdir(dir, buf, cap, cookie, &used);
        calls++;
        if (e) { wts_e(label, e); return; }
        size_t off = 0;
        int progressed = 0;
        while (off + sizeof(__wasi_dirent_t) <= used) {
            __wasi_dirent_t d;
            memcpy(&d, buf + off, sizeof d);
            if (off + sizeof d + d.d_namlen > used) break;
            if (n < 64) {
                size_t l = d.d_namlen < 31 ? d.d_namlen : 31;
                memcpy(ents[n].name, buf + off + sizeof d, l);
                ents[n].name[l] = 0;
                ents[n].type = d.d_type;
                n++;
            }
            cookie = d.d_next;
            progressed = 1;
            off += sizeof d + d.d_namlen;
        }
        if (used < cap || !progressed || calls > 200) break;
    }
    qsort(ents, n, sizeof ents[0], cmp);
    printf("%s: %d entries:", label, n);
    for (int i = 0; i < n; i++) printf(" %s/%d", ents[i].name, ents[i].type);
    printf("\n");
}

/* d_ino of `name` as fd_readdir reports it (0 when absent). */
static __wasi_inode_t dirent_ino(__wasi_fd_t dir, const char *name) {
    static uint8_t buf[4096];
    __wasi_size_t used = 0;
    if (__wasi_fd_readdir(dir, buf, sizeof buf, 0, &used) != 0) return 0;
    size_t off = 0;
    while (off + sizeof(__wasi_dirent_t) <= used) {
        __wasi_dirent_t d;
        memcpy(&d, buf + off, sizeof d);
        if (off + sizeof d + d.d_namlen > used) break;
        if (d.d_namlen == strlen(name) && memcmp(buf + off + sizeof d, name, d.d_namlen) == 0)
            return d.d_ino;
        off += sizeof d + d.d_namlen;
    }
    return 0;
}

/* The suite's "lots" check (1000 files there, LOTS here to keep the reference fast) read back with a 256-byte buffer,
 * taking the cookie of the last complete entry while the buffer comes back full. */
static void lots(__wasi_fd_t dir) {
    char name[32];
    for (int i = 0; i < LOTS; i++) {
        snprintf(name, sizeof name, "file.%d", i);
        __wasi_fd_t fd;
        if (__wasi_path_open(dir, 0, name, __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE, 0, 0, &fd) == 0)
            __wasi_fd_close(fd);
    }
    uint8_t buf[256];
    size_t total = 0;
    __wasi_dircookie_t cookie = 0;
    int calls = 0, full_reads = 0;
    for (;;) {
        __wasi_size_t used = 0;
        if (__wasi_fd_readdir(dir, buf, sizeof buf, cookie, &used) != 0 || ++calls > 5000) break;
        size_t off = 0, n = 0;
        __wasi_dircookie_t last = cookie;
        while (off + sizeof(__wasi_dirent_t) <= used) {
            __wasi_dirent_t d;
            memcpy(&d, buf + off, sizeof d);
            if (off + sizeof d + d.d_namlen > used) break;
            n++;
            last = d.d_next;
            off += sizeof d + d.d_namlen;
        }
        total += n;
        if (used < sizeof buf) break;
        full_reads++;
        cookie = last;
    }
    printf("lots: %zu entries (%d files plus . and ..), more than one buffer=%d\n", total, LOTS, full_reads > 0);
    for (int i = 0; i < LOTS; i++) {
        snprintf(name, sizeof name, "file.%d", i);
        __wasi_path_unlink_file(dir, name);
    }
}

int main(int argc, char **argv) {
    __wasi_fd_t root = wts_root(argc, argv);
    __wasi_fd_t dir = wts_scratch(root, D);
    list("empty", dir, 4096);
    {
        __wasi_filestat_t st;
        __wasi_fd_filestat_get(dir, &st);
        printf(". d_ino is the directory's ino: %d\n", dirent_ino(dir, ".") == st.ino);
        wts_make_file(dir, "file", "x");
        __wasi_path_filestat_get(dir, 0, "file", &st);
        printf("file d_ino is its ino: %d\n", dirent_ino(dir, "file") == st.ino);
        wts_e("unlink", __wasi_path_unlink_file(dir, "file"));
    }
    lots(dir);
    {
        __wasi_prestat_t ps;
        __wasi_fd_prestat_get(3, &ps);
        char name[300];
        size_t n = ps.u.dir.pr_name_len;
        wts_e("prestat_dir_name 0-byte buffer", __wasi_fd_prestat_dir_name(3, (uint8_t *)name, 0));
        wts_e("prestat_dir_name larger buffer", __wasi_fd_prestat_dir_name(3, (uint8_t *)name, n + 1));
    }
    wts_make_file(dir, "file", "abc");
    wts_e("mkdir nested", __wasi_path_create_directory(dir, "nested"));
    wts_e("symlink", __wasi_path_symlink("file", dir, "link"));
    list("three", dir, 4096);
    list("three small buffer", dir, 40);
    char name[32];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "f%02d", i);
        wts_make_file(dir, name, NULL);
    }
    list("many", dir, 4096);
    list("many 128-byte buffer", dir, 128);
    __wasi_size_t used;
    uint8_t buf[64];
    wts_e("readdir bad fd", __wasi_fd_readdir(999, buf, sizeof buf, 0, &used));
    wts_e("readdir huge cookie", __wasi_fd_readdir(dir, buf, sizeof buf, 1000000, &used));
    printf("huge cookie used=%u\n", (unsigned)used);

    /* directory_seek: a directory opened asking for FD_SEEK does not get it */
    {
        __wasi_fd_t sd;
        if (wts_e("open dir with FD_SEEK", __wasi_path_open(root, 0, D "/nested", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_SEEK, 0, 0, &sd)) == 0) {
            __wasi_filesize_t pos;
            wts_e("seek it", __wasi_fd_seek(sd, 0, __WASI_WHENCE_CUR, &pos));
            __wasi_fdstat_t fst;
            __wasi_fd_fdstat_get(sd, &fst);
            printf("type=%d has seek right=%d\n", fst.fs_filetype, !!(fst.fs_rights_base & __WASI_RIGHTS_FD_SEEK));
            __wasi_fd_close(sd);
        }
    }

    /* operations that need a file on a directory fd */
    __wasi_fd_t sub;
    if (wts_e("open nested", __wasi_path_open(dir, 0, "nested", __WASI_OFLAGS_DIRECTORY, WTS_DIR_BASE, WTS_DIR_INHERIT, 0, &sub)) == 0) {
        __wasi_filesize_t pos;
        __wasi_filestat_t st;
        __wasi_fdstat_t fst;
        wts_e("fdstat dir", __wasi_fd_fdstat_get(sub, &fst));
        printf("dir filetype=%d\n", fst.fs_filetype);
        wts_e("seek dir", __wasi_fd_seek(sub, 0, __WASI_WHENCE_CUR, &pos));
        wts_e("tell dir", __wasi_fd_tell(sub, &pos));
        wts_read("read dir", sub, 8);
        wts_write("write dir", sub, "x", 1);
        __wasi_iovec_t iov = {buf, 8};
        __wasi_size_t n;
        wts_e("pread dir", __wasi_fd_pread(sub, &iov, 1, 0, &n));
        __wasi_ciovec_t ciov = {buf, 8};
        wts_e("pwrite dir", __wasi_fd_pwrite(sub, &ciov, 1, 0, &n));
        wts_e("allocate dir", __wasi_fd_allocate(sub, 0, 10));
        wts_e("set size dir", __wasi_fd_filestat_set_size(sub, 10));
        wts_e("fstat dir", __wasi_fd_filestat_get(sub, &st));
        printf("nested type=%d\n", st.filetype);
        wts_e("close nested", __wasi_fd_close(sub));
    }
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "f%02d", i);
        __wasi_path_unlink_file(dir, name);
    }
    list("after removal", dir, 4096);
    wts_e("unlink link", __wasi_path_unlink_file(dir, "link"));
    wts_e("unlink file", __wasi_path_unlink_file(dir, "file"));
    wts_e("rmdir nested", __wasi_path_remove_directory(dir, "nested"));
    wts_done(root, dir, D);
    return 0;
}
