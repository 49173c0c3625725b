/*
 * poll_oneoff, sleeping and sched_yield: poll() on a timeout alone and on
 * ready descriptors, nanosleep/clock_nanosleep (relative and absolute) lasting
 * at least what was asked, and raw poll_oneoff with several clock
 * subscriptions. Sleeps are a few milliseconds. argv[1] is a writable directory.
 */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>
#include "common.h"

static int64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/data";
    char path[512];

    CHECK("sched_yield", sched_yield());

    int64_t t0 = mono_ns();
    printf("poll timeout only: %d\n", poll(NULL, 0, 5));
    printf("  waited >= 5ms: %d\n", mono_ns() - t0 >= 5000000);

    struct timespec req = {0, 3000000}, rem = {0, 0};
    t0 = mono_ns();
    CHECK("nanosleep 3ms", nanosleep(&req, &rem));
    printf("  waited >= 3ms: %d\n", mono_ns() - t0 >= 3000000);

    t0 = mono_ns();
    printf("clock_nanosleep relative: %d\n", clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL));
    printf("  waited >= 3ms: %d\n", mono_ns() - t0 >= 3000000);

    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += 4000000;
    if (until.tv_nsec >= 1000000000) { until.tv_sec++; until.tv_nsec -= 1000000000; }
    printf("clock_nanosleep absolute: %d\n",
           clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL));
    printf("  reached deadline: %d\n",
           mono_ns() >= (int64_t)until.tv_sec * 1000000000 + until.tv_nsec);

    struct timespec past = {0, 0};
    printf("clock_nanosleep absolute in the past: %d\n",
           clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL));
    struct timespec bad = {0, -1};
    printf("nanosleep bad nsec: %d\n", clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL));

    /* poll on descriptors that are always ready: a regular file and stdout */
    snprintf(path, sizeof path, "%s/poll.txt", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "data", 4);
    /* one descriptor per poll: with several ready ones a host may report any
       non-empty subset (wasmtime returns as soon as the first is ready) */
    struct pollfd pf = {fd, POLLIN, 0};
    int n = poll(&pf, 1, 1000);
    printf("poll file for reading: n=%d pollin=%d\n", n, !!(pf.revents & POLLIN));
    struct pollfd po = {1, POLLOUT, 0};
    n = poll(&po, 1, 1000);
    printf("poll stdout for writing: n=%d pollout=%d\n", n, !!(po.revents & POLLOUT));
    close(fd);

    /* raw poll_oneoff: the shorter of two relative clocks fires first, alone */
    __wasi_subscription_t subs[2];
    memset(subs, 0, sizeof subs);
    subs[0].userdata = 111;
    subs[0].u.tag = __WASI_EVENTTYPE_CLOCK;
    subs[0].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    subs[0].u.u.clock.timeout = 2000000;
    subs[1].userdata = 222;
    subs[1].u.tag = __WASI_EVENTTYPE_CLOCK;
    subs[1].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    subs[1].u.u.clock.timeout = 10000000000ULL;
    __wasi_event_t events[2];
    __wasi_size_t nevents = 0;
    __wasi_errno_t e = __wasi_poll_oneoff(subs, events, 2, &nevents);
    printf("poll_oneoff two clocks: %s nevents=%u userdata=%llu type=%u error=%u\n", errname(e),
           (unsigned)nevents, (unsigned long long)events[0].userdata, events[0].type,
           events[0].error);

    /* absolute realtime clock already in the past fires at once */
    subs[0].userdata = 333;
    subs[0].u.u.clock.id = __WASI_CLOCKID_REALTIME;
    subs[0].u.u.clock.timeout = 1;
    subs[0].u.u.clock.flags = __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME;
    e = __wasi_poll_oneoff(subs, events, 1, &nevents);
    printf("poll_oneoff absolute past: %s nevents=%u userdata=%llu\n", errname(e),
           (unsigned)nevents, (unsigned long long)events[0].userdata);

    e = __wasi_poll_oneoff(subs, events, 0, &nevents);
    printf("poll_oneoff zero subscriptions: %s\n", errname(e));
    return 0;
}
