"""Args, env, clocks, random, stdio and simple file I/O on a tmpfs."""

from __future__ import annotations

import os

import pytest
from kernel_helpers import create, make_kernel, open_file, read_all

from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.kernel.sources import SeededRandom, SystemClock, VirtualClock
from wasi_rr.host.kernel.wasi_types import (
    ClockId,
    Errno,
    FdFlags,
    Filestat,
    Filetype,
    OFlags,
    ProcExit,
    Rights,
    WasiError,
    Whence,
)
from wasi_rr.host.kernel.wasifs import WasiFs


def errno_of(fn, *args) -> Errno:  # type: ignore[no-untyped-def]
    with pytest.raises(WasiError) as info:
        fn(*args)
    return info.value.errno


def test_args_env() -> None:
    k = WasiKernel(args=["p", b"x\xff"], env=["A=1", b"B=2"])
    assert k.args_get() == [b"p", b"x\xff"]
    assert k.environ_get() == [b"A=1", b"B=2"]
    k2 = WasiKernel(env={"K": "V", "Z": ""})
    assert k2.environ_get() == [b"K=V", b"Z="]


def test_args_and_environ_sizes() -> None:
    """(count, bytes of the strings with their NULs): what the guest allocates
    before args_get/environ_get."""
    k = WasiKernel(args=["prog", b"x\xff", ""], env={"K": "V", "\u00e9": "1"})
    assert k.args_sizes_get() == (3, 5 + 3 + 1)
    assert k.environ_sizes_get() == (2, 4 + len("\u00e9=1".encode()) + 1)
    assert WasiKernel().args_sizes_get() == (0, 0) == WasiKernel().environ_sizes_get()
    for strings, sizes in (
        (k.args_get(), k.args_sizes_get()),
        (k.environ_get(), k.environ_sizes_get()),
    ):
        assert sizes == (len(strings), len(b"".join(s + b"\0" for s in strings)))


def test_clocks(k: WasiKernel) -> None:
    t0 = k.clock_time_get(ClockId.MONOTONIC, 0)
    k.clock.sleep(5)
    assert k.clock_time_get(ClockId.MONOTONIC, 0) == t0 + 5
    assert k.clock_time_get(ClockId.REALTIME, 0) > 10**18
    assert k.clock_res_get(ClockId.MONOTONIC) == 1
    # CPU-time clocks: EBADF like wasmtime, unless explicitly enabled
    assert errno_of(k.clock_res_get, ClockId.PROCESS_CPUTIME_ID) is Errno.BADF
    assert errno_of(k.clock_time_get, ClockId.THREAD_CPUTIME_ID, 0) is Errno.BADF
    assert VirtualClock(cpu_clocks=True).now(ClockId.PROCESS_CPUTIME_ID) == 0
    for cid in (4, 99):
        assert errno_of(k.clock_time_get, cid, 0) is Errno.INVAL
        assert errno_of(k.clock_res_get, cid) is Errno.INVAL


def test_system_clock_ids() -> None:
    c = SystemClock(cpu_clocks=True)
    for cid in range(4):
        assert c.now(cid) >= 0 and c.resolution(cid) >= 1
    assert errno_of(c.now, 4) is Errno.INVAL
    assert errno_of(SystemClock().now, 2) is Errno.BADF


def test_random_is_injected() -> None:
    a = WasiKernel(random=SeededRandom(3)).random_get(16)
    b = WasiKernel(random=SeededRandom(3)).random_get(16)
    assert a == b and len(a) == 16
    assert WasiKernel().random_get(0) == b""


def test_proc_exit_and_raise(k: WasiKernel) -> None:
    with pytest.raises(ProcExit) as info:
        k.proc_exit(3)
    assert info.value.code == 3
    assert errno_of(k.proc_raise, 9) is Errno.NOSYS
    assert k.sched_yield() is None


def test_sockets(k: WasiKernel) -> None:
    assert errno_of(k.sock_accept, 1, 0) is Errno.NOTSOCK
    assert errno_of(k.sock_recv, 3, 10, 0) is Errno.NOTSOCK
    assert errno_of(k.sock_send, 0, b"x", 0) is Errno.NOTSOCK
    assert errno_of(k.sock_shutdown, 99, 0) is Errno.BADF


def test_stdio(k: WasiKernel) -> None:
    assert k.fd_write(1, b"out") == 3
    assert k.fd_write(2, b"err") == 3
    assert k.fs.stdio.streams[1].getvalue() == b"out"  # type: ignore[union-attr]
    assert k.fs.stdio.streams[2].getvalue() == b"err"  # type: ignore[union-attr]
    assert k.fd_read(0, 10) == b""
    assert errno_of(k.fd_seek, 1, 0, Whence.SET) is Errno.SPIPE
    assert errno_of(k.fd_tell, 0) is Errno.SPIPE
    st = k.fd_fdstat_get(1)
    # like wasmtime: a character device only when the host stream is a tty
    assert st.filetype is Filetype.UNKNOWN
    assert not st.rights_base & (Rights.FD_SEEK | Rights.FD_TELL)
    assert k.fd_fdstat_get(0).rights_base & Rights.FD_READ
    assert not k.fd_fdstat_get(0).rights_base & Rights.FD_WRITE
    assert k.fd_filestat_get(2) == Filestat(0, 0, Filetype.UNKNOWN, 0, 0, 0, 0, 0)
    assert errno_of(k.fd_write, 0, b"x") is Errno.BADF


def test_stdin_reads() -> None:
    k = make_kernel(stdin=b"hello world")
    assert k.fd_read(0, 5) == b"hello"
    assert k.fd_read(0, 100) == b" world"
    assert k.fd_read(0, 100) == b""


def test_stdout_none_discards() -> None:
    k = WasiKernel()
    assert k.fd_write(1, b"gone") == 4


def test_file_roundtrip(k: WasiKernel) -> None:
    fd = open_file(k, "f", OFlags.CREAT)
    assert k.fd_write(fd, b"hello ") == 6
    assert k.fd_write(fd, b"world") == 5
    assert k.fd_tell(fd) == 11
    assert k.fd_seek(fd, 0, Whence.SET) == 0
    assert k.fd_read(fd, 5) == b"hello"
    assert k.fd_seek(fd, -3, Whence.END) == 8
    assert k.fd_read(fd, 100) == b"rld"
    assert k.fd_read(fd, 100) == b""
    assert errno_of(k.fd_seek, fd, -100, Whence.CUR) is Errno.INVAL
    assert errno_of(k.fd_seek, fd, 0, 7) is Errno.INVAL
    # seeking past the end then writing leaves a zero-filled hole
    k.fd_seek(fd, 15, Whence.SET)
    k.fd_write(fd, b"!")
    assert k.fd_pread(fd, 100, 0) == b"hello world\0\0\0\0!"
    assert k.fd_filestat_get(fd).size == 16
    k.fd_close(fd)
    assert errno_of(k.fd_close, fd) is Errno.BADF
    assert read_all(k, "f") == b"hello world\0\0\0\0!"


def test_append_and_pwrite(k: WasiKernel) -> None:
    create(k, "f", b"abc")
    fd = open_file(k, "f", fdflags=FdFlags.APPEND)
    k.fd_write(fd, b"de")
    assert k.fd_tell(fd) == 5
    # pwrite on an APPEND fd appends whatever the offset (Linux, so wasmtime)
    # and leaves the fd offset alone
    assert k.fd_pwrite(fd, b"X", 0) == 1
    assert k.fd_tell(fd) == 5
    k.fd_seek(fd, 0, Whence.SET)
    k.fd_write(fd, b"f")
    assert read_all(k, "f") == b"abcdeXf"
    k.fd_fdstat_set_flags(fd, 0)
    k.fd_seek(fd, 0, Whence.SET)
    k.fd_write(fd, b"Y")
    assert k.fd_pwrite(fd, b"Z", 1) == 1
    assert read_all(k, "f") == b"YZcdeXf"
    # empty writes past the end do not extend the file
    assert k.fd_pwrite(fd, b"", 100) == 0
    k.fd_seek(fd, 50, Whence.SET)
    assert k.fd_write(fd, b"") == 0
    assert k.fd_filestat_get(fd).size == 7
    assert k.fd_fdstat_get(fd).flags == FdFlags(0)
    assert errno_of(k.fd_fdstat_set_flags, fd, 1 << 7) is Errno.INVAL


def test_write_performance_smoke(k: WasiKernel) -> None:
    fd = open_file(k, "big", OFlags.CREAT)
    for _ in range(10000):
        k.fd_write(fd, b"0123456789abcdef")
    assert k.fd_filestat_get(fd).size == 160000


def test_stdio_on_a_terminal_is_a_character_device() -> None:
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    try:
        with open(slave, "wb", buffering=0, closefd=False) as tty:
            k = WasiKernel(stdout=tty)
            assert k.fd_fdstat_get(1).filetype is Filetype.CHARACTER_DEVICE
            assert k.fd_fdstat_get(2).filetype is Filetype.UNKNOWN
    finally:
        os.close(master)
        os.close(slave)


def test_hostile_sizes_and_offsets(k: WasiKernel) -> None:
    """Guest-chosen numbers never become host exceptions or huge allocations."""
    fd = open_file(k, "f", OFlags.CREAT)
    k.fd_seek(fd, 1 << 60, Whence.SET)
    assert errno_of(k.fd_write, fd, b"x") is Errno.FBIG
    assert errno_of(k.fd_pwrite, fd, b"x", 1 << 40) is Errno.FBIG
    assert errno_of(k.fd_pwrite, fd, b"x", 1 << 63) is Errno.INVAL
    assert errno_of(k.fd_pread, fd, 1, (1 << 64) - 1) is Errno.INVAL
    assert errno_of(k.fd_filestat_set_size, fd, 1 << 40) is Errno.FBIG
    assert errno_of(k.fd_seek, fd, (1 << 63) - 1, Whence.CUR) is Errno.INVAL
    assert k.fd_read(fd, (1 << 32) - 1) == b""
    assert k.fd_filestat_get(fd).size == 0


def test_hostile_offsets_on_a_host_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from wasi_rr.host.kernel.wasifs import MountSpec

    k = WasiKernel(fs=WasiFs([MountSpec("/h", tmp_path)]))
    fd = open_file(k, "f", OFlags.CREAT)
    k.fd_write(fd, b"abc")
    assert errno_of(k.fd_pread, fd, 1, 1 << 63) is Errno.INVAL
    assert errno_of(k.fd_filestat_set_size, fd, 1 << 63) is Errno.INVAL
    assert k.fd_pread(fd, (1 << 32) - 1, 0) == b"abc"
    k.fs.close()
    k.fs.close_mounts()
