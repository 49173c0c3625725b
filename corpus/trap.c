/* A guest that traps (unreachable) after printing one line to each stream. */
#include "common.h"

int main(void) {
    printf("before trap\n");
    fflush(stdout);
    fprintf(stderr, "stderr before trap\n");
    __builtin_trap();
}
