/*
 * fd_write on a stdout whose reader has gone (`prog | head -c1`): writes with
 * write(2) until one fails, then reports that errno and the next write's on
 * stderr. wasi-rr answers EPIPE, wasmtime EIO (README: deliberate differences).
 */
#include <unistd.h>
#include "common.h"

int main(void) {
    static const char line[] = "x\n";
    long n = 0;
    while (write(1, line, 2) >= 0) {
        if (++n == 10000000) {
            fprintf(stderr, "no error after %ld writes\n", n);
            return 1;
        }
    }
    int first = errno;
    int again = write(1, line, 2) < 0 ? errno : 0;
    fprintf(stderr, "write: %s(%d) then %s(%d)\n", errname(first), first, errname(again), again);
    return 0;
}
