/* Snapshot test guest: ten lines, each from one write(2) (one fd_write).
 *
 * The values mix a loop local, a recursion (deep wasm + C stack), a heap
 * buffer and a static, so a continuation is only right if locals, the C
 * stack, the heap and the globals were all restored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned long total = 7;

static unsigned long depth_sum(unsigned long n, unsigned char *heap) {
    char line[96];
    if (n == 0) {
        return heap[0];
    }
    unsigned long below = depth_sum(n - 1, heap) + n * heap[n % 64];
    if (n == 4) {
        /* the write happens deep in the recursion, with frames below it */
        int len = snprintf(line, sizeof line, "depth %lu below %lu total %lu\n", n, below, total);
        write(1, line, (size_t)len);
    }
    return below;
}

int main(void) {
    unsigned char *heap = malloc(4096);
    for (int i = 0; i < 4096; i++) heap[i] = (unsigned char)(i * 31 + 3);
    for (unsigned long i = 0; i < 10; i++) {
        total = total * 1103515245u + 12345u + i;
        heap[i % 64] ^= (unsigned char)total;
        char line[96];
        int len;
        if (i % 3 == 1) {
            unsigned long s = depth_sum(6, heap);
            len = snprintf(line, sizeof line, "line %lu sum %lu\n", i, s);
        } else {
            len = snprintf(line, sizeof line, "line %lu total %lu heap %u\n", i, total, heap[i % 64]);
        }
        write(1, line, (size_t)len);
    }
    free(heap);
    return 3;
}
