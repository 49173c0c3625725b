/* Snapshot cost guest: 64 MiB of linear memory of which about 1 MiB is
 * written (every 64th 4 KiB page of a 64 MiB heap block), then one write(2)
 * at which the benchmark takes its snapshot. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BIG (62u << 20)

int main(void) {
    unsigned char *big = malloc(BIG);
    if (!big) return 1;
    unsigned long sum = 0;
    for (unsigned long page = 0; page < BIG / 4096; page += 64) {
        for (unsigned i = 0; i < 4096; i++) big[page * 4096 + i] = (unsigned char)(page + i * 7);
    }
    write(1, "filled\n", 7);
    for (unsigned long page = 0; page < BIG / 4096; page += 64) sum += big[page * 4096 + 5];
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
