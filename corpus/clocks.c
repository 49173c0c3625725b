/*
 * clock_res_get / clock_time_get: print only properties (never raw values) so
 * the output is deterministic on any host.
 */
#include <stdint.h>
#include <wasi/api.h>
#include <sys/time.h>
#include <time.h>
#include "common.h"

static int64_t ns(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }

static void clock_props(const char *name, clockid_t id) {
    struct timespec res, t;
    errno = 0;
    if (clock_getres(id, &res) != 0) {
        printf("%s res: %s(%d)\n", name, errname(errno), errno);
    } else {
        printf("%s res: ok positive=%d at_most_1s=%d\n", name, ns(res) > 0, ns(res) <= 1000000000);
    }
    errno = 0;
    if (clock_gettime(id, &t) != 0)
        printf("%s time: %s(%d)\n", name, errname(errno), errno);
    else
        printf("%s time: ok nsec_in_range=%d\n", name, t.tv_nsec >= 0 && t.tv_nsec < 1000000000);
}

int main(void) {
    clock_props("realtime", CLOCK_REALTIME);
    clock_props("monotonic", CLOCK_MONOTONIC);

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    /* 2020-01-01T00:00:00Z .. 2100-01-01T00:00:00Z */
    printf("realtime after 2020: %d\n", now.tv_sec > 1577836800);
    printf("realtime before 2100: %d\n", now.tv_sec < 4102444800LL);

    time_t t = time(NULL);
    printf("time() within 10s of realtime: %d\n", t - now.tv_sec >= -10 && t - now.tv_sec <= 10);
    struct timeval tv;
    printf("gettimeofday: %d usec_in_range=%d\n", gettimeofday(&tv, NULL),
           tv.tv_usec >= 0 && tv.tv_usec < 1000000);

    struct timespec prev, cur;
    clock_gettime(CLOCK_MONOTONIC, &prev);
    int decreasing = 0;
    for (int i = 0; i < 1000; i++) {
        clock_gettime(CLOCK_MONOTONIC, &cur);
        if (ns(cur) < ns(prev)) decreasing++;
        prev = cur;
    }
    printf("monotonic 1000 reads, decreasing steps: %d\n", decreasing);

    /* Raw WASI calls: ids 2/3 are the process/thread CPU clocks. (An id that is no
       clock at all makes wasmtime trap instead of EINVAL: see README.) */
    __wasi_timestamp_t ts;
    int ids[] = {2, 3};
    for (int i = 0; i < 2; i++) {
        __wasi_errno_t e = __wasi_clock_time_get((__wasi_clockid_t)ids[i], 1, &ts);
        printf("raw clock_time_get id=%d: %s\n", ids[i], errname(e));
        e = __wasi_clock_res_get((__wasi_clockid_t)ids[i], &ts);
        printf("raw clock_res_get id=%d: %s\n", ids[i], errname(e));
    }
    return 0;
}
