"""fd table: shared descriptions (dup, dup2, renumber, fork), pipes, poll."""

from __future__ import annotations

import io
import os

import pytest
from kernel_helpers import create, make_kernel, open_file, read_all

from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.kernel.sources import VirtualClock
from wasi_rr.host.kernel.wasi_types import (
    Errno,
    EventRwFlags,
    EventType,
    FdFlags,
    SubclockFlags,
    Subscription,
    WasiError,
    Whence,
)


def errno_of(fn, *args) -> Errno:  # type: ignore[no-untyped-def]
    with pytest.raises(WasiError) as info:
        fn(*args)
    return info.value.errno


def test_dup_shares_offset_and_flags(k: WasiKernel) -> None:
    create(k, "f", b"0123456789")
    fd = open_file(k, "f")
    dup = k.fd_dup(fd)
    assert dup == fd + 1
    k.fd_read(fd, 3)
    assert k.fd_tell(dup) == 3
    k.fd_fdstat_set_flags(dup, FdFlags.APPEND)
    assert k.fd_fdstat_get(fd).flags == FdFlags.APPEND
    k.fd_close(fd)
    assert k.fd_read(dup, 2) == b"34"
    assert errno_of(k.fd_dup, 99) is Errno.BADF


def test_dup2_lowest_free_at_or_above(k: WasiKernel) -> None:
    create(k, "f")
    fd = open_file(k, "f")
    assert k.fd_dup2(fd, 10, 0) == 10
    assert k.fd_dup2(fd, 10, 1) == 11
    assert k.fd_dup2(fd, 0, 0) == fd + 1
    k.fd_write(10, b"abc")
    assert k.fd_tell(11) == 3


def test_renumber(k: WasiKernel) -> None:
    create(k, "a", b"A")
    create(k, "b", b"B")
    fa, fb = open_file(k, "a"), open_file(k, "b")
    k.fd_renumber(fa, fb)
    assert k.fd_read(fb, 1) == b"A"
    assert errno_of(k.fd_read, fa, 1) is Errno.BADF
    assert errno_of(k.fd_renumber, fb, 50) is Errno.BADF
    assert errno_of(k.fd_renumber, 50, fb) is Errno.BADF
    k.fd_renumber(fb, fb)
    assert k.fd_tell(fb) == 1
    # renumbering a preopen moves the preopen
    k.fd_renumber(3, 1)
    assert k.fd_prestat_dir_name(1) == b"/tmp"


def test_stdio_of(k: WasiKernel) -> None:
    """Which fds are the guest's stdout (1) and stderr (2) consoles right now."""
    assert [k.stdio_of(fd) for fd in (0, 1, 2, 3, 99)] == [0, 1, 2, 0, 0]
    dup = k.fd_dup(1)
    high = k.fd_dup2(2, 40, 0)
    assert (k.stdio_of(dup), k.stdio_of(high)) == (1, 2)
    create(k, "f")
    fd = open_file(k, "f")
    k.fd_renumber(1, fd)  # stdout moved to fd; fd 1 is closed
    assert (k.stdio_of(fd), k.stdio_of(1)) == (1, 0)
    _, w = k.fd_pipe()
    k.fd_renumber(w, 2)  # a pipe at fd 2 is not the console
    assert (k.stdio_of(2), k.stdio_of(high)) == (0, 2)
    child = k.fork()
    k.fd_close(high)
    assert (k.stdio_of(high), child.stdio_of(high), child.stdio_of(fd)) == (0, 2, 1)


def test_pipe_semantics(k: WasiKernel) -> None:
    r, w = k.fd_pipe()
    assert errno_of(k.fd_read, r, 10) is Errno.AGAIN
    assert k.fd_write(w, b"hello") == 5
    assert k.fd_read(r, 3) == b"hel"
    assert errno_of(k.fd_seek, r, 0, Whence.CUR) is Errno.SPIPE
    assert errno_of(k.fd_pread, r, 1, 0) is Errno.SPIPE
    assert errno_of(k.fd_write, r, b"x") is Errno.BADF
    w2 = k.fd_dup(w)
    k.fd_close(w)
    assert k.fd_read(r, 10) == b"lo"
    assert errno_of(k.fd_read, r, 10) is Errno.AGAIN  # a writer (w2) is still open
    k.fd_close(w2)
    assert k.fd_read(r, 10) == b""  # EOF: all writers closed
    r2, w3 = k.fd_pipe()
    k.fd_close(r2)
    assert errno_of(k.fd_write, w3, b"x") is Errno.PIPE


def test_pipe_capacity(k: WasiKernel) -> None:
    r, w = k.fd_pipe()
    assert k.fd_write(w, b"x" * 70000) == 65536
    assert errno_of(k.fd_write, w, b"y") is Errno.AGAIN
    k.fd_read(r, 10)
    assert k.fd_write(w, b"yyyyyyyyyyyy") == 10


def test_fork_shares_tree_and_descriptions(k: WasiKernel) -> None:
    create(k, "f", b"0123456789")
    fd = open_file(k, "f")
    child = k.fork()
    assert child.fs.tree is k.fs.tree and child.fs.stdio is k.fs.stdio
    # the description (offset) is shared
    assert child.fd_read(fd, 4) == b"0123"
    assert k.fd_tell(fd) == 4
    # the fd tables are separate
    child.fd_close(fd)
    assert k.fd_read(fd, 2) == b"45"
    newfd = child.fd_dup2(3, 20, 0)
    assert errno_of(k.fd_fdstat_get, newfd) is Errno.BADF
    child.fd_write(1, b"child out")
    assert k.fs.stdio.streams[1].getvalue() == b"child out"  # type: ignore[union-attr]
    # the filesystem is shared: a file the child creates is seen by the parent
    create(child, "from_child", b"c")
    assert read_all(k, "from_child") == b"c"
    # pipe across fork: the read end sees EOF only when both processes closed the write end
    r, w = k.fd_pipe()
    c2 = k.fork()
    k.fd_close(w)
    c2.fd_write(w, b"hi")
    assert k.fd_read(r, 10) == b"hi"
    assert errno_of(k.fd_read, r, 10) is Errno.AGAIN
    c2.fd_close(w)
    assert k.fd_read(r, 10) == b""


def test_poll_clocks() -> None:
    k = make_kernel()
    clock = k.clock
    assert isinstance(clock, VirtualClock)
    assert errno_of(k.poll_oneoff, []) is Errno.INVAL
    subs = [
        Subscription(1, EventType.CLOCK, clock_id=1, timeout=5000),
        Subscription(2, EventType.CLOCK, clock_id=1, timeout=9000),
    ]
    events = k.poll_oneoff(subs)
    assert [(e.userdata, e.type, e.error) for e in events] == [(1, EventType.CLOCK, Errno.SUCCESS)]
    assert clock.elapsed == 5000
    absolute = Subscription(3, EventType.CLOCK, clock_id=1, timeout=1000,
                            flags=SubclockFlags.SUBSCRIPTION_CLOCK_ABSTIME)
    assert [e.userdata for e in k.poll_oneoff([absolute])] == [3]
    assert clock.elapsed == 5000  # deadline already passed: no sleep
    future = Subscription(
        4, EventType.CLOCK, clock_id=1, timeout=8000, flags=SubclockFlags.SUBSCRIPTION_CLOCK_ABSTIME
    )
    assert [e.userdata for e in k.poll_oneoff([future])] == [4]
    assert clock.elapsed == 8000
    # a clock that does not exist (or is not provided) fails the call, as in wasmtime
    for cid in (9, 2):
        assert (
            errno_of(k.poll_oneoff, [Subscription(5, EventType.CLOCK, clock_id=cid, timeout=1)])
            is Errno.INVAL
        )


def test_poll_fds() -> None:
    k = make_kernel()
    create(k, "f", b"abc")
    fd = open_file(k, "f")
    r, w = k.fd_pipe()
    subs = [
        Subscription(10, EventType.FD_READ, fd=fd),
        Subscription(11, EventType.FD_WRITE, fd=1),
        Subscription(12, EventType.FD_READ, fd=r),
        Subscription(14, EventType.CLOCK, clock_id=1, timeout=10**9),
    ]
    events = k.poll_oneoff(subs)
    # a file: bytes left to read; a stream: 1 (an unknown amount, like wasmtime)
    assert [(e.userdata, e.error, e.nbytes) for e in events] == [
        (10, Errno.SUCCESS, 3),
        (11, Errno.SUCCESS, 1),
    ]
    # subscriptions that can never be served fail the whole call (wasmtime)
    for bad in [
        Subscription(13, EventType.FD_READ, fd=77),
        Subscription(13, EventType.FD_READ, fd=3),
        Subscription(13, EventType.FD_READ, fd=1),
        Subscription(13, EventType.FD_WRITE, fd=0),
    ]:
        assert errno_of(k.poll_oneoff, [bad, subs[0]]) is Errno.BADF
    assert k.clock.elapsed == 0  # type: ignore[attr-defined]
    k.fd_write(w, b"xy")
    events = k.poll_oneoff(
        [Subscription(12, EventType.FD_READ, fd=r), Subscription(15, EventType.FD_WRITE, fd=w)]
    )
    assert [(e.userdata, e.nbytes) for e in events] == [(12, 2), (15, 65534)]
    k.fd_read(r, 2)
    # only a pipe nobody can fill: a single-threaded host would block forever
    assert errno_of(k.poll_oneoff, [Subscription(12, EventType.FD_READ, fd=r)]) is Errno.AGAIN
    k.fd_close(w)
    (ev,) = k.poll_oneoff([Subscription(12, EventType.FD_READ, fd=r)])
    assert ev.flags & EventRwFlags.FD_READWRITE_HANGUP


def test_poll_stdin_real_fd() -> None:
    rfd, wfd = os.pipe()
    with os.fdopen(rfd, "rb", buffering=0) as stdin:
        k = WasiKernel(stdin=stdin, clock=VirtualClock())
        sub = Subscription(1, EventType.FD_READ, fd=0)
        clock = Subscription(2, EventType.CLOCK, clock_id=1, timeout=1000)
        # nothing to read: the clock fires (select waited for its timeout)
        assert [e.userdata for e in k.poll_oneoff([sub, clock])] == [2]
        os.write(wfd, b"x")
        assert [e.userdata for e in k.poll_oneoff([sub, clock])] == [1]
        assert k.fd_read(0, 10) == b"x"
        os.close(wfd)
        assert [e.userdata for e in k.poll_oneoff([sub])] == [1]
        assert k.fd_read(0, 10) == b""


def test_poll_stdin_without_fileno_is_ready() -> None:
    k = WasiKernel(stdin=io.BytesIO(b"abc"))
    (ev,) = k.poll_oneoff([Subscription(1, EventType.FD_READ, fd=0)])
    assert ev.error is Errno.SUCCESS


def test_stdin_reads_are_visible_to_poll() -> None:
    rfd, wfd = os.pipe()
    with os.fdopen(rfd, "rb") as stdin:
        k = WasiKernel(stdin=stdin)
        # like wasmtime, status flags cannot be set on stdio
        assert errno_of(k.fd_fdstat_set_flags, 0, FdFlags.NONBLOCK) is Errno.BADF
        os.write(wfd, b"abc")
        assert k.fd_read(0, 2) == b"ab"
        # nothing is hidden in a Python buffer: poll still sees the rest
        (ev,) = k.poll_oneoff([Subscription(1, EventType.FD_READ, fd=0)])
        assert ev.error is Errno.SUCCESS
        assert k.fd_read(0, 10) == b"c"
        os.close(wfd)
