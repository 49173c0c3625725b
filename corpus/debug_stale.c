/*
 * A program with a real bug, for docs/debugging.md's worked example: it copies
 * a file in 16-byte chunks, but processes and writes the whole buffer after
 * every read, even when the read was short. The last chunk of the copy then
 * carries stale bytes left in the buffer by the chunk before it, the copy is
 * longer than its source, and the program's own check fails (exit status 1).
 *
 * Usage: debug_stale [DIR]   (DIR defaults to /data; it makes its input there)
 * Built with -g by the tests for the gdb part of the example: `checksum_chunk`
 * is the function to break on, `got` the local that shows the short read.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 16

static const char TEXT[] = "alpha bravo charlie delta echo\n"; /* 31 bytes: 16 + 15 */

unsigned checksum_chunk(const char *buf, int len, int got) {
    unsigned sum = 0;
    for (int i = 0; i < len; i++) sum = sum * 31u + (unsigned char)buf[i];
    return sum + (unsigned)(got - got); /* `got`: what the read really returned */
}

static int make_input(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    write(fd, TEXT, sizeof TEXT - 1);
    close(fd);
    return 0;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/data";
    char in_path[256], out_path[256];
    snprintf(in_path, sizeof in_path, "%s/input.txt", dir);
    snprintf(out_path, sizeof out_path, "%s/copy.txt", dir);
    if (make_input(in_path) != 0) {
        fprintf(stderr, "cannot create %s\n", in_path);
        return 2;
    }
    int in = open(in_path, O_RDONLY);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char buf[CHUNK];
    int chunks = 0, copied = 0;
    for (;;) {
        int got = (int)read(in, buf, sizeof buf);
        if (got <= 0) break;
        unsigned sum = checksum_chunk(buf, sizeof buf, got); /* BUG: should be `got` */
        printf("chunk %d: %d bytes read, checksum %u\n", chunks, got, sum);
        copied += (int)write(out, buf, sizeof buf);    /* BUG: should be `got` */
        chunks++;
    }
    close(in);
    close(out);
    printf("copied %d chunks, %d bytes\n", chunks, copied);
    if (copied != (int)sizeof TEXT - 1) {
        fprintf(stderr, "copy is %d bytes, input is %d\n", copied, (int)sizeof TEXT - 1);
        return 1;
    }
    return 0;
}
