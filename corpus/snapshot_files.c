/* Snapshot/resume guest: keeps a tmpfs file open across many syscalls (its
 * contents and the fd's offset must survive a snapshot), then appends to a
 * host file and reads another, so a resumed run shows whether the frozen
 * WasiFs and the re-bound host mount came back.  argv: none; needs
 * --tmpfs /tmp and --dir HOST::/data with /data/in.txt. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    int fd = open("/tmp/state.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror("open /tmp/state.txt"); return 1; }
    for (int i = 0; i < 8; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "step %d\n", i);
        write(fd, line, (size_t)n);
        printf("wrote step %d at offset %lld\n", i, (long long)lseek(fd, 0, SEEK_CUR));
        fflush(stdout);
    }
    lseek(fd, 0, SEEK_SET);
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n < 0 ? 0 : n] = 0;
    printf("tmpfs file has %zd bytes, last line %s", n, strrchr(buf, 's'));
    close(fd);
    FILE *out = fopen("/data/out.txt", "a");
    if (!out) { perror("open /data/out.txt"); return 2; }
    fputs("appended by the guest\n", out);
    fclose(out);
    FILE *in = fopen("/data/in.txt", "r");
    if (!in) { perror("open /data/in.txt"); return 3; }
    char line[128] = "";
    fgets(line, sizeof line, in);
    fclose(in);
    printf("in.txt: %s", line);
    return 5;
}
