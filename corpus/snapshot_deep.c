/* Snapshot test guest: a write(2) at the bottom of a 3000-deep recursion, so
 * the asyncify stack is large (tens of KiB of saved locals): checks big
 * unwind buffers and a buffer that is too small. */
#include <stdio.h>
#include <unistd.h>

static unsigned long long dive(unsigned depth, unsigned long long acc, double f);
/* Calling through a volatile pointer keeps clang from turning the recursion
 * into a loop, so there really are 3000 frames. */
static unsigned long long (*volatile next)(unsigned, unsigned long long, double) = dive;

static unsigned long long dive(unsigned depth, unsigned long long acc, double f) {
    if (depth == 0) {
        char line[64];
        int len = snprintf(line, sizeof line, "bottom acc %llu\n", acc);
        write(1, line, (size_t)len);
        return acc;
    }
    unsigned long long below = next(depth - 1, acc * 6364136223846793005ull + depth, f * 1.0001);
    return below ^ (acc + (unsigned long long)(f * depth));
}

int main(void) {
    unsigned long long r = dive(3000, 1, 1.0);
    char line[64];
    int len = snprintf(line, sizeof line, "result %llu\n", r);
    write(1, line, (size_t)len);
    return 0;
}
