/*
 * Seeded random file-system workload for differential testing: a small name
 * space (a, b, d, e, d/a, d/b, d/d) and four descriptor slots, a xorshift PRNG
 * picking among open/close/read/write/pread/pwrite/seek/ftruncate/fstat/stat/
 * lstat/mkdir/rmdir/unlink/rename/link/symlink/readlink/listdir, each result
 * printed (descriptors as slot numbers, data as hashes), plus fcntl F_SETFL,
 * fd_renumber between slots, explicit utimensat read back, and O_NOFOLLOW. The same seed must give
 * the same transcript on every conforming host.
 * Usage: fs_fuzz SEED STEPS DIR [tame]
 * "tame" steers clear of the corners that fs_corners pins down one by one
 * (O_DIRECTORY with O_CREAT/O_EXCL/O_TRUNC, O_CREAT on a directory or a symlink,
 * read-only opens with O_CREAT/O_TRUNC, O_APPEND with pwrite, ftruncate on a
 * directory, rename between a directory and its own subtree, link() of a
 * directory, onto an existing name or below a non-directory, zero-length
 * writes past the end, symlinks that loop, removing a directory that is still
 * open, F_SETFL on a directory), so the rest of the semantics can be
 * compared even while a host still differs there.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>
#include "common.h"

static uint64_t state;
static uint32_t rnd(uint32_t n) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)(state % n);
}

static const char *names[] = {"a", "b", "d", "e", "d/a", "d/b", "d/d"};
static const char *targets[] = {"a", "d", "../a", "d/a", "nowhere", "b"};
#define NNAMES (sizeof names / sizeof names[0])
static const char *root;
static int slots[4] = {-1, -1, -1, -1};
static int tame;

static const char *path(const char *name) {
    static char buf[2][512];
    static int which;
    which ^= 1;
    snprintf(buf[which], sizeof buf[which], "%s/%s", root, name);
    return buf[which];
}

static void res(int rc) {
    if (rc < 0)
        printf(" -> %s\n", errname(errno));
    else
        printf(" -> %d\n", rc);
}

static uint32_t hash(const unsigned char *b, ssize_t n) {
    uint32_t h = 2166136261u;
    for (ssize_t i = 0; i < n; i++) h = (h ^ b[i]) * 16777619u;
    return h;
}

static const char *ftype(mode_t m) {
    return S_ISREG(m) ? "reg" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "lnk" : "other";
}

static void list(const char *name) {
    DIR *d = opendir(path(name));
    if (!d) {
        printf(" -> %s\n", errname(errno));
        return;
    }
    char found[16][64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 16)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            snprintf(found[n++], 64, "%s", e->d_name);
    closedir(d);
    qsort(found, n, 64, (int (*)(const void *, const void *))strcmp);
    printf(" ->");
    for (int i = 0; i < n; i++) printf(" %s", found[i]);
    printf("\n");
}

static void stat_line(int rc, struct stat *st) {
    if (rc < 0)
        printf(" -> %s\n", errname(errno));
    else if (S_ISDIR(st->st_mode))
        printf(" -> dir\n");
    else
        printf(" -> %s size=%lld nlink=%llu\n", ftype(st->st_mode), (long long)st->st_size,
               (unsigned long long)st->st_nlink);
}

static void step(int i) {
    unsigned char buf[128];
    struct stat st;
    int s = rnd(4), fd = slots[s];
    const char *p1 = names[rnd(NNAMES)], *p2 = names[rnd(NNAMES)];
    errno = 0;
    printf("%03d ", i);
    switch (rnd(24)) {
    case 0:
    case 1: {
        static const int acc[] = {O_RDONLY, O_WRONLY, O_RDWR};
        int fl = acc[rnd(3)];
        if (rnd(2)) fl |= O_CREAT;
        if (rnd(4) == 0) fl |= O_TRUNC;
        if (rnd(4) == 0) fl |= O_EXCL;
        if (rnd(4) == 0) fl |= O_APPEND;
        if (rnd(6) == 0) fl |= O_DIRECTORY;
        if (rnd(8) == 0) fl |= O_NOFOLLOW;
        if (tame) {
            struct stat pre;
            int exists = lstat(path(p1), &pre) == 0;
            if (fl & O_DIRECTORY) fl &= ~(O_CREAT | O_EXCL | O_TRUNC);
            if ((fl & O_ACCMODE) == O_RDONLY || (exists && !S_ISREG(pre.st_mode)))
                fl &= ~(O_CREAT | O_TRUNC);
            fl &= ~O_APPEND;
        }
        if (fd >= 0) close(fd);
        slots[s] = open(path(p1), fl, 0644);
        printf("open %s flags=%x slot=%d", p1, fl, s);
        res(slots[s] < 0 ? -1 : 0);
        break;
    }
    case 2:
        printf("close slot=%d", s);
        res(close(fd));
        slots[s] = -1;
        break;
    case 3:
    case 4: {
        int n = rnd(40);
        if (tame && n == 0) n = 1;
        memset(buf, 'A' + i % 26, n);
        printf("write slot=%d len=%d", s, n);
        res((int)write(fd, buf, n));
        break;
    }
    case 5: {
        ssize_t n = read(fd, buf, rnd(64));
        printf("read slot=%d", s);
        if (n < 0) res(-1);
        else printf(" -> %zd hash=%08x\n", n, hash(buf, n));
        break;
    }
    case 6: {
        int off = rnd(60);
        ssize_t n = pread(fd, buf, rnd(64), off);
        printf("pread slot=%d off=%d", s, off);
        if (n < 0) res(-1);
        else printf(" -> %zd hash=%08x\n", n, hash(buf, n));
        break;
    }
    case 7: {
        int off = rnd(60), n = rnd(20);
        if (tame && n == 0) n = 1;
        memset(buf, 'a' + i % 26, n);
        printf("pwrite slot=%d off=%d len=%d", s, off, n);
        res((int)pwrite(fd, buf, n, off));
        break;
    }
    case 8: {
        static const int wh[] = {SEEK_SET, SEEK_CUR, SEEK_END};
        int w = rnd(3), off = (int)rnd(80) - 20;
        printf("lseek slot=%d off=%d whence=%d", s, off, w);
        res((int)lseek(fd, off, wh[w]));
        break;
    }
    case 9: {
        int n = rnd(50);
        printf("ftruncate slot=%d size=%d", s, n);
        if (tame && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
            printf(" -> skipped\n");
        else
            res(ftruncate(fd, n));
        break;
    }
    case 10:
        printf("fstat slot=%d", s);
        stat_line(fstat(fd, &st), &st);
        break;
    case 11:
        printf("stat %s", p1);
        stat_line(stat(path(p1), &st), &st);
        break;
    case 12:
        printf("lstat %s", p1);
        stat_line(lstat(path(p1), &st), &st);
        break;
    case 13:
        printf("mkdir %s", p1);
        res(mkdir(path(p1), 0755));
        break;
    case 14: {
        printf("rmdir %s", p1);
        int open_dir = 0;
        for (int k = 0; k < 4; k++)
            if (slots[k] >= 0 && fstat(slots[k], &st) == 0 && S_ISDIR(st.st_mode)) open_dir = 1;
        if (tame && open_dir)
            printf(" -> skipped\n");
        else
            res(rmdir(path(p1)));
        break;
    }
    case 15:
        printf("unlink %s", p1);
        res(unlink(path(p1)));
        break;
    case 16:
        printf("rename %s %s", p1, p2);
        size_t l1 = strlen(p1), l2 = strlen(p2);
        if (tame && ((l1 < l2 && !strncmp(p1, p2, l1) && p2[l1] == '/') ||
                     (l2 < l1 && !strncmp(p2, p1, l2) && p1[l2] == '/')))
            printf(" -> skipped\n");
        else
            res(rename(path(p1), path(p2)));
        break;
    case 17:
        if (rnd(2)) {
            printf("link %s %s", p1, p2);
            struct stat parent;
            if (tame && (lstat(path(p2), &st) == 0 ||
                         (lstat(path(p1), &st) == 0 && S_ISDIR(st.st_mode)) ||
                         (strchr(p2, '/') && !(stat(path("d"), &parent) == 0 &&
                                               S_ISDIR(parent.st_mode)))))
                printf(" -> skipped\n");
            else
                res(link(path(p1), path(p2)));
        } else {
            const char *t = targets[rnd(sizeof targets / sizeof targets[0])];
            printf("symlink %s %s", t, p2);
            /* where the link will point, relative to the root */
            char resolved[64];
            if (strchr(p2, '/') && strncmp(t, "../", 3) == 0)
                snprintf(resolved, sizeof resolved, "%s", t + 3);
            else if (strchr(p2, '/'))
                snprintf(resolved, sizeof resolved, "d/%s", t);
            else
                snprintf(resolved, sizeof resolved, "%s", t);
            if (tame && (strcmp(resolved, p2) == 0 || strncmp(resolved, p2, strlen(p2)) == 0 ||
                         (lstat(path(resolved), &st) == 0 && S_ISLNK(st.st_mode))))
                printf(" -> skipped\n");
            else
                res(symlink(t, path(p2)));
        }
        break;
    case 18: {
        char t[256];
        ssize_t n = readlink(path(p1), t, sizeof t);
        printf("readlink %s", p1);
        if (n < 0) res(-1);
        else printf(" -> [%.*s]\n", (int)n, t);
        break;
    }
    case 20: {
        int fl = rnd(2) ? O_APPEND : 0;
        printf("setfl slot=%d append=%d", s, fl != 0);
        if (tame && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
            printf(" -> skipped\n");
        else
            res(fcntl(fd, F_SETFL, fl));
        break;
    }
    case 21: {
        int t = rnd(4);
        printf("renumber slot=%d to slot=%d", s, t);
        if (fd < 0 || slots[t] < 0 || t == s) {
            printf(" -> skipped\n");
            break;
        }
        __wasi_errno_t e = __wasi_fd_renumber(fd, slots[t]);
        printf(" -> %s\n", errname(e));
        if (e == 0) slots[s] = -1;
        break;
    }
    case 22: {
        struct timespec ts[2] = {{1000000 + rnd(1000), rnd(1000)}, {2000000 + rnd(1000), 0}};
        int flags = rnd(3) == 0 ? AT_SYMLINK_NOFOLLOW : 0;
        printf("utimensat %s nofollow=%d", p1, flags != 0);
        if (utimensat(AT_FDCWD, path(p1), ts, flags) != 0) {
            res(-1);
            break;
        }
        if ((flags ? lstat(path(p1), &st) : stat(path(p1), &st)) != 0) {
            res(-1);
            break;
        }
        printf(" -> atime=%lld.%ld mtime=%lld.%ld\n", (long long)st.st_atim.tv_sec,
               st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        break;
    }
    default: {
        const char *which = rnd(2) ? "d" : ".";
        printf("list %s", which);
        list(which);
        break;
    }
    }
}

int main(int argc, char **argv) {
    state = argc > 1 ? strtoull(argv[1], NULL, 10) * 2654435761u + 1 : 1;
    int steps = argc > 2 ? atoi(argv[2]) : 200;
    root = argc > 3 ? argv[3] : "/data";
    tame = argc > 4 && strcmp(argv[4], "tame") == 0;
    /* a populated start, so most operations act on something */
    mkdir(path("d"), 0755);
    slots[0] = open(path("a"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    slots[1] = open(path("d/a"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(slots[0], "initial contents of a\n", 22);
    for (int i = 0; i < steps; i++) step(i);
    printf("final:");
    list(".");
    printf("final d:");
    list("d");
    return 0;
}
