/* random_get: print lengths and coarse properties only, never the bytes. */
#include <stdlib.h>
#include <unistd.h>
#include "common.h"

static int all_zero(const unsigned char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

int main(void) {
    unsigned char a[256], b[256];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    CHECK("getentropy 256", getentropy(a, sizeof a));
    CHECK("getentropy 256 again", getentropy(b, sizeof b));
    printf("first all zero: %d\n", all_zero(a, sizeof a));
    printf("two draws equal: %d\n", memcmp(a, b, sizeof a) == 0);
    CHECK("getentropy 257", getentropy(a, 257));
    CHECK("getentropy 0", getentropy(a, 0));

    unsigned char big[4096];
    memset(big, 0, sizeof big);
    arc4random_buf(big, sizeof big);
    int distinct = 0, seen[256] = {0};
    for (size_t i = 0; i < sizeof big; i++)
        if (!seen[big[i]]++) distinct++;
    printf("arc4random_buf 4096: distinct byte values > 200: %d\n", distinct > 200);
    uint32_t u = arc4random_uniform(10);
    printf("arc4random_uniform(10) < 10: %d\n", u < 10);
    return 0;
}
