/* Snapshot test guest: fork built on snapshots.  Calls WASIX proc_fork once;
 * the parent sees the child's pid, the child 0, each with its own copy of the
 * memory (the heap string and the static counter) as it was at the fork. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((import_module("wasix_32v1"), import_name("proc_fork")))
int wasix_proc_fork(int copy_memory, unsigned *ret_pid);

static int counter = 5;

int main(void) {
    char *heap = malloc(64);
    strcpy(heap, "before-fork");
    counter += 10;
    unsigned pid = 12345;
    int err = wasix_proc_fork(1, &pid);
    if (pid != 0) {
        counter += 100;
        strcat(heap, "+parent");
    } else {
        counter += 1;
        strcat(heap, "+child");
    }
    printf("%s pid=%u err=%d counter=%d heap=%s\n", pid ? "parent" : "child", pid, err, counter, heap);
    return pid ? 0 : 4;
}
