/* wasi-testsuite areas: stdio, isatty, sock_shutdown (invalid fd, not a socket),
 * fd_write to stdout/stderr and invalid fds, args and environment as the runner
 * passes them (args/environ sizes, as the AssemblyScript tests check), exit codes. */
#include "wts.h"

extern char **environ;

int main(int argc, char **argv) {
    for (__wasi_fd_t fd = 0; fd < 3; fd++) {
        __wasi_fdstat_t st;
        __wasi_errno_t e = __wasi_fd_fdstat_get(fd, &st);
        printf("fdstat %u: %s(%d)\n", (unsigned)fd, errname(e), (int)e);
        __wasi_prestat_t ps;
        wts_e("  prestat", __wasi_fd_prestat_get(fd, &ps));
    }
    wts_write("write stdout", 1, "to stdout\n", 10);
    wts_write("write stderr", 2, "to stderr\n", 10);
    wts_e("sock_shutdown bad fd", __wasi_sock_shutdown(999, __WASI_SDFLAGS_RD));
    wts_e("sock_shutdown stdout", __wasi_sock_shutdown(1, __WASI_SDFLAGS_WR));
    __wasi_filesize_t pos;
    wts_e("tell stdout", __wasi_fd_tell(1, &pos));
    wts_e("close bad fd", __wasi_fd_close(999));
    __wasi_fdstat_t st;
    wts_e("fdstat bad fd", __wasi_fd_fdstat_get(999, &st));
    __wasi_size_t count = 0, bytes = 0;
    wts_e("args_sizes_get", __wasi_args_sizes_get(&count, &bytes));
    printf("argc=%u arg bytes without argv[0]=%u\n", (unsigned)count, (unsigned)(bytes - strlen(argv[0]) - 1));
    wts_e("environ_sizes_get", __wasi_environ_sizes_get(&count, &bytes));
    printf("environ count=%u bytes=%u\n", (unsigned)count, (unsigned)bytes);
    wts_write("write to invalid fd", 999, "x", 1);
    wts_write("write 0 bytes to stdout", 1, "", 0);
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++) printf("arg %d=[%s]\n", i, argv[i]);
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "WTS_", 4) == 0) printf("env [%s]\n", *e);

    /* the suite's stdio test: renumber each stdio fd onto a fresh file; the stdio
     * number must then be closed. stdout goes last, so its result is the exit code. */
    int bad = 0;
    static const __wasi_fd_t order[3] = {0, 2, 1};
    for (int i = 0; i < 3; i++) {
        __wasi_fd_t from = order[i], to;
        __wasi_fdstat_t fst;
        int ok = __wasi_path_open(3, 0, "stdio.cleanup", __WASI_OFLAGS_CREAT, 0, 0, 0, &to) == 0 &&
                 __wasi_fd_renumber(from, to) == 0 && __wasi_fd_fdstat_get(to, &fst) == 0 &&
                 __wasi_fd_fdstat_get(from, &fst) == __WASI_ERRNO_BADF &&
                 __wasi_path_unlink_file(3, "stdio.cleanup") == 0;
        if (from != 1) printf("renumber fd %u away: %s\n", (unsigned)from, ok ? "ok" : "FAILED");
        bad |= !ok;
    }
    if (bad) return 3;
    return argc > 1 && strcmp(argv[1], "exit") == 0 ? 7 : 0;
}
