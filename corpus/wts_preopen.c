/* wasi-testsuite area: path_open_preopen (rights every preopened directory must
 * carry, reopening "." with the same / empty / read rights, O_DIRECTORY with
 * write rights is EISDIR) and prestat of the preopen. */
#include "wts.h"

#define R(x) __WASI_RIGHTS_##x
#define DIR_BASE_REQUIRED                                                                 \
    (R(PATH_CREATE_DIRECTORY) | R(PATH_CREATE_FILE) | R(PATH_LINK_SOURCE) |               \
     R(PATH_LINK_TARGET) | R(PATH_OPEN) | R(FD_READDIR) | R(PATH_READLINK) |              \
     R(PATH_RENAME_SOURCE) | R(PATH_RENAME_TARGET) | R(PATH_SYMLINK) |                    \
     R(PATH_REMOVE_DIRECTORY) | R(PATH_UNLINK_FILE) | R(PATH_FILESTAT_GET) |              \
     R(PATH_FILESTAT_SET_TIMES) | R(FD_FILESTAT_GET) | R(FD_FILESTAT_SET_TIMES))
#define DIR_INHERITING_REQUIRED                                                           \
    (DIR_BASE_REQUIRED | R(FD_DATASYNC) | R(FD_READ) | R(FD_SEEK) | R(FD_FDSTAT_SET_FLAGS) | \
     R(FD_SYNC) | R(FD_TELL) | R(FD_WRITE) | R(FD_ADVISE) | R(FD_ALLOCATE) |              \
     R(FD_FILESTAT_GET) | R(FD_FILESTAT_SET_SIZE) | R(FD_FILESTAT_SET_TIMES) |            \
     R(POLL_FD_READWRITE))

static void reopen(const char *label, __wasi_fd_t pre, __wasi_oflags_t of, __wasi_rights_t b, __wasi_rights_t i) {
    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(pre, 0, ".", of, b, i, 0, &fd);
    wts_e(label, e);
    if (!e) {
        __wasi_fdstat_t st;
        __wasi_fd_fdstat_get(fd, &st);
        printf("  type=%d\n", st.fs_filetype);
        __wasi_fd_close(fd);
    }
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "/";
    __wasi_fd_t pre = wts_preopen(name);
    __wasi_prestat_t ps;
    wts_e("prestat", __wasi_fd_prestat_get(pre, &ps));
    printf("tag=%d name_len=%u\n", ps.tag, (unsigned)ps.u.dir.pr_name_len);
    char small[1];
    wts_e("prestat_dir_name short buffer", __wasi_fd_prestat_dir_name(pre, (uint8_t *)small, 0));
    __wasi_fdstat_t st;
    wts_e("fdstat", __wasi_fd_fdstat_get(pre, &st));
    printf("type=%d flags=%d\n", st.fs_filetype, st.fs_flags);
    printf("base has required rights=%d\n", (st.fs_rights_base & DIR_BASE_REQUIRED) == DIR_BASE_REQUIRED);
    printf("inheriting has required rights=%d\n", (st.fs_rights_inheriting & DIR_INHERITING_REQUIRED) == DIR_INHERITING_REQUIRED);
    reopen("reopen same rights", pre, 0, st.fs_rights_base, st.fs_rights_inheriting);
    reopen("reopen empty rights", pre, 0, 0, 0);
    reopen("reopen O_DIRECTORY empty rights", pre, __WASI_OFLAGS_DIRECTORY, 0, 0);
    reopen("reopen O_DIRECTORY read", pre, __WASI_OFLAGS_DIRECTORY, R(FD_READ), 0);
    reopen("reopen O_DIRECTORY read/write", pre, __WASI_OFLAGS_DIRECTORY, R(FD_READ) | R(FD_WRITE), 0);
    reopen("reopen write", pre, 0, R(FD_WRITE), 0);
    /* the fd after the last preopen is not a preopen */
    __wasi_fd_t fd;
    if (__wasi_path_open(pre, 0, ".", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd) == 0) {
        wts_e("prestat of a reopened dir", __wasi_fd_prestat_get(fd, &ps));
        __wasi_fd_close(fd);
    }
    wts_e("prestat of stdin", __wasi_fd_prestat_get(0, &ps));
    return 0;
}
