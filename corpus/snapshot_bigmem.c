/* Snapshot cost guest: about 64 MiB of linear memory (zig's 16 MiB stack
 * region plus a 40 MiB heap block) of which about 1 MiB is written with
 * pseudo-random (incompressible) bytes, 256 pages spread over the block; then
 * one write(2) at which the benchmark takes its snapshot. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BIG (40u << 20)
#define STRIDE (BIG / 4096 / 256)

int main(void) {
    unsigned char *block = malloc(BIG + 4096);
    if (!block) return 1;
    /* page-align so each written 4 KiB is exactly one snapshot page */
    unsigned char *big = (unsigned char *)(((uintptr_t)block + 4095) & ~(uintptr_t)4095);
    unsigned long sum = 0;
    unsigned int x = 2463534242u;
    for (unsigned long page = 0; page < BIG / 4096; page += STRIDE) {
        for (unsigned i = 0; i < 4096; i++) {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;  /* xorshift32 */
            big[page * 4096 + i] = (unsigned char)x;
        }
    }
    write(1, "filled\n", 7);
    for (unsigned long page = 0; page < BIG / 4096; page += STRIDE) sum += big[page * 4096 + 5];
    char out[32];
    int len = 0;
    unsigned long v = sum;
    char tmp[24];
    do { tmp[len++] = (char)('0' + v % 10); v /= 10; } while (v);
    for (int i = 0; i < len; i++) out[i] = tmp[len - 1 - i];
    out[len++] = '\n';
    write(1, out, (size_t)len);
    return 0;
}
