/* args_get / environ_get: print argv and the environment exactly as received. */
#include <stdlib.h>
#include "common.h"

extern char **environ;

int main(int argc, char **argv) {
    printf("argc: %d\n", argc);
    for (int i = 1; i < argc; i++)
        printf("argv[%d]: [%s] len=%zu\n", i, argv[i], strlen(argv[i]));
    int n = 0;
    for (char **e = environ; *e; e++, n++)
        printf("env[%d]: [%s]\n", n, *e);
    printf("envc: %d\n", n);
    const char *home = getenv("HOME");
    printf("getenv HOME: %s\n", home ? home : "(unset)");
    const char *missing = getenv("WASI_RR_SURELY_UNSET");
    printf("getenv unset: %s\n", missing ? missing : "(unset)");
    return argc - 1;
}
