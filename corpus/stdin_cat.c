/* fd_read on stdin: copy stdin to stdout (like cat), then report the totals on stderr. */
#include <unistd.h>
#include "common.h"

int main(void) {
    char buf[4096];
    long total = 0, reads = 0;
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
        reads++;
        total += n;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(1, buf + off, n - off);
            if (w <= 0) return 2;
            off += w;
        }
    }
    if (n < 0) {
        fprintf(stderr, "read error: %s(%d)\n", errname(errno), errno);
        return 1;
    }
    fprintf(stderr, "copied %ld bytes\n", total);
    return 0;
}
