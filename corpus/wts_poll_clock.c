/* wasi-testsuite areas: poll_oneoff_stdio, sched_yield, clock_time_get,
 * clock_getres/gettime (monotonic, realtime), big_random_buf.
 * Prints only properties, never clock values or random bytes. */
#include "wts.h"

#define CLOCK_UD 0x12345678ull
#define STDIN_UD 0x87654321ull

static void poll_stdin(void) {
    __wasi_subscription_t in[2];
    memset(in, 0, sizeof in);
    in[0].userdata = CLOCK_UD;
    in[0].u.tag = __WASI_EVENTTYPE_CLOCK;
    in[0].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    in[0].u.u.clock.timeout = 200000000ull;
    in[1].userdata = STDIN_UD;
    in[1].u.tag = __WASI_EVENTTYPE_FD_READ;
    in[1].u.u.fd_read.file_descriptor = 0;
    __wasi_event_t out[2];
    __wasi_size_t n = 0;
    __wasi_errno_t e = __wasi_poll_oneoff(in, out, 2, &n);
    int good = n >= 1 && n <= 2;
    for (__wasi_size_t i = 0; i < n; i++) {
        if (out[i].type == __WASI_EVENTTYPE_CLOCK)
            good &= out[i].userdata == CLOCK_UD && out[i].error == 0;
        else if (out[i].type == __WASI_EVENTTYPE_FD_READ)
            good &= out[i].userdata == STDIN_UD && out[i].error == 0;
        else
            good = 0;
    }
    printf("poll stdin or clock: %s(%d) events well-formed=%d\n", errname(e), (int)e, good);
}

static void poll_writable(void) {
    int pending_out = 1, pending_err = 1, rounds = 0, timed_out = 0;
    while ((pending_out || pending_err) && rounds++ < 10) {
        __wasi_subscription_t in[3];
        memset(in, 0, sizeof in);
        int k = 0;
        if (pending_out) {
            in[k].userdata = 1; in[k].u.tag = __WASI_EVENTTYPE_FD_WRITE;
            in[k].u.u.fd_write.file_descriptor = 1; k++;
        }
        if (pending_err) {
            in[k].userdata = 2; in[k].u.tag = __WASI_EVENTTYPE_FD_WRITE;
            in[k].u.u.fd_write.file_descriptor = 2; k++;
        }
        in[k].userdata = CLOCK_UD; in[k].u.tag = __WASI_EVENTTYPE_CLOCK;
        in[k].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
        in[k].u.u.clock.timeout = 200000000ull; k++;
        __wasi_event_t out[3];
        __wasi_size_t n = 0;
        if (__wasi_poll_oneoff(in, out, (__wasi_size_t)k, &n) != 0) break;
        for (__wasi_size_t i = 0; i < n; i++) {
            if (out[i].userdata == CLOCK_UD) timed_out = 1;
            else if (out[i].userdata == 1 && out[i].type == __WASI_EVENTTYPE_FD_WRITE && !out[i].error) pending_out = 0;
            else if (out[i].userdata == 2 && out[i].type == __WASI_EVENTTYPE_FD_WRITE && !out[i].error) pending_err = 0;
        }
        if (timed_out) break;
    }
    printf("stdout and stderr writable: %d timed out: %d\n", !pending_out && !pending_err, timed_out);
}

static void poll_edges(void) {
    __wasi_subscription_t in[2];
    __wasi_event_t out[2];
    __wasi_size_t n = 99;
    wts_e("poll zero subscriptions", __wasi_poll_oneoff(in, out, 0, &n));
    memset(in, 0, sizeof in);
    in[0].userdata = 7; in[0].u.tag = __WASI_EVENTTYPE_CLOCK;
    in[0].u.u.clock.id = __WASI_CLOCKID_MONOTONIC; in[0].u.u.clock.timeout = 1000000;
    __wasi_errno_t e = __wasi_poll_oneoff(in, out, 1, &n);
    printf("poll 1ms clock: %s(%d) n=%u ud=%llu type=%d err=%d\n", errname(e), (int)e, (unsigned)n,
           (unsigned long long)out[0].userdata, out[0].type, out[0].error);
    in[0].u.u.clock.id = __WASI_CLOCKID_REALTIME; in[0].u.u.clock.timeout = 0;
    e = __wasi_poll_oneoff(in, out, 1, &n);
    printf("poll realtime 0: %s(%d) n=%u ud=%llu\n", errname(e), (int)e, (unsigned)n, (unsigned long long)out[0].userdata);
    __wasi_timestamp_t now;
    __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &now);
    in[0].u.u.clock.id = __WASI_CLOCKID_MONOTONIC; in[0].u.u.clock.timeout = now + 1000000;
    in[0].u.u.clock.flags = __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME;
    e = __wasi_poll_oneoff(in, out, 1, &n);
    printf("poll absolute: %s(%d) n=%u ud=%llu\n", errname(e), (int)e, (unsigned)n, (unsigned long long)out[0].userdata);
    memset(in, 0, sizeof in);
    in[0].userdata = 8; in[0].u.tag = __WASI_EVENTTYPE_FD_READ; in[0].u.u.fd_read.file_descriptor = 999;
    e = __wasi_poll_oneoff(in, out, 1, &n);
    printf("poll bad fd: %s(%d) n=%u ud=%llu err=%s\n", errname(e), (int)e, (unsigned)n,
           (unsigned long long)out[0].userdata, errname(out[0].error));
}

static void clocks(void) {
    __wasi_clockid_t ids[2] = {__WASI_CLOCKID_REALTIME, __WASI_CLOCKID_MONOTONIC};
    const char *names[2] = {"realtime", "monotonic"};
    for (int i = 0; i < 2; i++) {
        __wasi_timestamp_t res = 0, a = 0, b = 0;
        __wasi_errno_t e1 = __wasi_clock_res_get(ids[i], &res);
        __wasi_errno_t e2 = __wasi_clock_time_get(ids[i], 0, &a);
        __wasi_errno_t e3 = __wasi_clock_time_get(ids[i], 1000000, &b);
        printf("%s: res %s(%d) positive=%d; time %s %s; nonzero=%d; later>=earlier=%d\n", names[i],
               errname(e1), (int)e1, res > 0, errname(e2), errname(e3), a > 0, ids[i] == __WASI_CLOCKID_REALTIME || b >= a);
    }
    __wasi_timestamp_t t;
    __wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 0, &t);
    printf("realtime after 2020: %d\n", t > 1577836800000000000ull);
}

static void randoms(void) {
    static uint8_t big[65536];
    wts_e("random 1 byte", __wasi_random_get(big, 1));
    wts_e("random 2048 bytes", __wasi_random_get(big, 2048));
    wts_e("random 65536 bytes", __wasi_random_get(big, sizeof big));
    int nonzero = 0;
    for (size_t i = 0; i < sizeof big; i++) nonzero += big[i] != 0;
    printf("random mostly nonzero: %d\n", nonzero > 60000);
    wts_e("random 0 bytes", __wasi_random_get(big, 0));
}

int main(void) {
    poll_stdin();
    poll_writable();
    poll_edges();
    for (int i = 0; i < 3; i++) wts_e("sched_yield", __wasi_sched_yield());
    clocks();
    randoms();
    return 0;
}
