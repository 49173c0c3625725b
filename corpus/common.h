/*
 * Shared helpers for the corpus guests.
 *
 * Every guest prints what it observes in a host-independent format: errno
 * values are printed by *name* from this table (not strerror, whose text
 * differs between libcs) followed by the number, so outputs compare byte for
 * byte across hosts. Only deterministic properties are printed (never raw
 * clock values, inode numbers or random bytes).
 */
#ifndef CORPUS_COMMON_H
#define CORPUS_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *errname(int e) {
    switch (e) {
    case 0: return "OK";
    case E2BIG: return "E2BIG";
    case EACCES: return "EACCES";
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EFAULT: return "EFAULT";
    case EFBIG: return "EFBIG";
    case EINVAL: return "EINVAL";
    case EIO: return "EIO";
    case EISDIR: return "EISDIR";
    case ELOOP: return "ELOOP";
    case EMFILE: return "EMFILE";
    case EMLINK: return "EMLINK";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOENT: return "ENOENT";
    case ENOSPC: return "ENOSPC";
    case ENOSYS: return "ENOSYS";
    case ENOTDIR: return "ENOTDIR";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ENOTSUP: return "ENOTSUP";
    case ENOTCAPABLE: return "ENOTCAPABLE";
    case ENXIO: return "ENXIO";
    case EPERM: return "EPERM";
    case ERANGE: return "ERANGE";
    case ESPIPE: return "ESPIPE";
    case EXDEV: return "EXDEV";
    case EILSEQ: return "EILSEQ";
    case ENOTTY: return "ENOTTY";
    case EOVERFLOW: return "EOVERFLOW";
    case EPIPE: return "EPIPE";
    case EROFS: return "EROFS";
    case ENOMEM: return "ENOMEM";
    case ENFILE: return "ENFILE";
    case ENOBUFS: return "ENOBUFS";
    case EINTR: return "EINTR";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ETXTBSY: return "ETXTBSY";
    case ENODEV: return "ENODEV";
    case ECHILD: return "ECHILD";
    case ESRCH: return "ESRCH";
    case EDOM: return "EDOM";
    case EPROTO: return "EPROTO";
    case ENOTSOCK: return "ENOTSOCK";
    case ECONNRESET: return "ECONNRESET";
    case EDEADLK: return "EDEADLK";
    default: return "E?";
    }
}

/* Line-buffer stdout so a guest that traps still shows everything it printed. */
__attribute__((constructor)) static void corpus_line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Print "label: ok" when rc >= 0, else "label: ENAME(n)". Returns rc. */
static int report(const char *label, int rc) {
    if (rc < 0)
        printf("%s: %s(%d)\n", label, errname(errno), errno);
    else
        printf("%s: ok\n", label);
    return rc;
}

/* Run an expression with errno cleared first, then report it. */
#define CHECK(label, expr) (errno = 0, report((label), (int)(expr)))

/* Join a directory and a name into a static-ish buffer owned by the caller. */
static const char *join(char *buf, size_t n, const char *dir, const char *name) {
    snprintf(buf, n, "%s/%s", dir, name);
    return buf;
}

#endif
