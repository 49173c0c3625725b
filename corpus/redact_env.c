/*
 * --redact-env tests: hands the value of $SECRET to the host in every way a
 * guest can: stdout (printf, and a writev splitting it across two buffers),
 * stderr, a file's contents (written, then read back), a path (the file is
 * named after it), a directory listing and a symlink target.
 * `redact_env DIR` works in DIR (default /tmp).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    const char *secret = getenv("SECRET");
    if (!secret) {
        puts("no SECRET");
        return 1;
    }
    printf("stdout: the secret is %s\n", secret);
    fflush(stdout);
    fprintf(stderr, "stderr: the secret is %s\n", secret);
    size_t half = strlen(secret) / 2;
    struct iovec split[3] = {{(void *)"split: ", 7}, {(void *)secret, half},
                             {(void *)(secret + half), strlen(secret) - half}};
    writev(1, split, 3);
    write(1, "\n", 1);
    char path[512], link[512], buf[512];
    snprintf(path, sizeof path, "%s/file-%s.txt", dir, secret);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror("fopen");
        return 2;
    }
    fprintf(f, "content: %s\n", secret);
    fclose(f);
    f = fopen(path, "r");
    if (!f || !fgets(buf, sizeof buf, f)) {
        perror("read back");
        return 3;
    }
    fclose(f);
    printf("read back: %s", buf);
    snprintf(link, sizeof link, "%s/link", dir);
    snprintf(buf, sizeof buf, "target-%s", secret);
    if (symlink(buf, link) == 0) {
        ssize_t n = readlink(link, buf, sizeof buf - 1);
        buf[n < 0 ? 0 : n] = 0;
        printf("link -> %s\n", buf);
    }
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strncmp(e->d_name, "file-", 5) == 0) printf("listed: %s\n", e->d_name);
    if (d) closedir(d);
    printf("length %zu\n", strlen(secret));
    return 0;
}
