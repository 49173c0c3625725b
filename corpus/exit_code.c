/* proc_exit: exit with the status given as argv[1] (after printing it). */
#include <stdlib.h>
#include "common.h"

int main(int argc, char **argv) {
    int code = argc > 1 ? atoi(argv[1]) : 0;
    printf("exiting with %d\n", code);
    fprintf(stderr, "to stderr before exit\n");
    exit(code);
}
