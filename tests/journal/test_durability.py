"""A killed writer, a full disk, a huge journal: the file stays readable, memory bounded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from journal_helpers import P1, read_prefix

from wasi_rr.journal import (
    JournalHeader,
    JournalTruncated,
    JournalWriteError,
    JournalWriter,
    StartEvent,
    Call,
)

CHILD = textwrap.dedent("""
    import sys
    from wasi_rr.journal import JournalHeader, JournalWriter, StartEvent
    w = JournalWriter(sys.argv[1], JournalHeader(module_sha256=""), module=b"\\0asm\\1\\0\\0\\0",
                      flush_interval=0.01, check_every=64, frame_bytes=4096)
    w.write_event(StartEvent(1, ("loop",), 0))
    i = 0
    while True:
        w.write_syscall("wasi_snapshot_preview1", "fd_pwrite", (3, i, 1, i * 7),
                        [b"data %d" % i], 0, [(i * 7, i.to_bytes(8, "little"))])
        i += 1
""")


def _check_loop_entries(entries: list[Any]) -> None:
    assert isinstance(entries[0], StartEvent)
    for i, e in enumerate(entries[1:]):
        assert isinstance(e, Call)
        assert (e.seq, e.name, e.params, e.inputs, e.writes) == (
            i, "fd_pwrite", (3, i, 1, i * 7), (b"data %d" % i,),
            ((i * 7, i.to_bytes(8, "little")),))


def test_sigkilled_writer_leaves_a_clean_prefix(tmp_path: Path) -> None:
    path = tmp_path / "killed.wrr"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if path.exists() and path.stat().st_size > 64 * 1024:
                break
            if proc.poll() is not None:
                pytest.fail(f"writer child exited early with {proc.returncode}")
            time.sleep(0.02)
        else:
            pytest.fail("writer child wrote nothing")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    got, exc = read_prefix(path)
    assert isinstance(exc, JournalTruncated)
    assert exc.entries == len(got) > 100
    _check_loop_entries(got)


class _FailingFile:
    """Wraps a real file; the write that crosses ``limit`` bytes writes half, then fails."""

    def __init__(self, f: Any, limit: int) -> None:
        self._f = f
        self._limit = limit

    def write(self, data: bytes) -> int:
        if self._f.tell() + len(data) > self._limit:
            self._f.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")
        return self._f.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


def test_disk_full_raises_and_keeps_the_prefix(tmp_path: Path) -> None:
    path = tmp_path / "full.wrr"
    w = JournalWriter(path, JournalHeader(module_sha256=""), background=False,
                      check_every=16, frame_bytes=256)
    w.write_event(StartEvent(1, ("loop",), 0))
    w._f = _FailingFile(w._f, 3000)  # the test's stand-in for a full disk
    with pytest.raises(JournalWriteError, match="No space left"):
        for i in range(10_000):
            w.write_syscall(P1, "fd_pwrite", (3, i, 1, i * 7), [b"data %d" % i], 0,
                            [(i * 7, i.to_bytes(8, "little"))])
    with pytest.raises(JournalWriteError):
        w.close()
    got, exc = read_prefix(path)
    assert isinstance(exc, JournalTruncated) and len(got) > 10
    _check_loop_entries(got)


def test_unwritable_path_is_a_write_error(tmp_path: Path) -> None:
    with pytest.raises(JournalWriteError, match="cannot write journal"):
        JournalWriter(tmp_path, JournalHeader(module_sha256=""))
    if Path("/dev/full").exists():
        with pytest.raises(JournalWriteError):
            JournalWriter("/dev/full", JournalHeader(module_sha256=""), module=b"m" * 100)


MEMORY_CHILD = textwrap.dedent("""
    import sys
    from wasi_rr.journal import JournalHeader, JournalWriter, open_journal
    path, n = sys.argv[1], int(sys.argv[2])
    P1 = "wasi_snapshot_preview1"

    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise SystemExit("no VmHWM")

    with JournalWriter(path, JournalHeader(module_sha256="")) as w:
        ws = w.write_syscall
        t = 1_700_000_000_000_000_000
        for i in range(n):
            t += 2000 + (i & 1023)
            ws(P1, "clock_time_get", (1, 1000, 4096), (), 0, ((4096, t.to_bytes(8, "little")),))
    after_write = hwm()
    count = sum(1 for _ in open_journal(path))
    assert count == n, count
    print(after_write, hwm())
""")


def _peak_rss(path: Path, n: int) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(path), str(n)],
                         check=True, capture_output=True, text=True).stdout.split()
    return int(out[0]), int(out[1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_memory_stays_bounded_for_a_million_entries(tmp_path: Path) -> None:
    """Peak RSS writing+reading 1e6 entries is within a few MB of doing 20k entries."""
    small_w, small_r = _peak_rss(tmp_path / "small.wrr", 20_000)
    big_w, big_r = _peak_rss(tmp_path / "big.wrr", 1_000_000)
    # retaining 1e6 entries would take hundreds of MB; frames and batches are ~1-2 MB
    assert big_w - small_w < 24 * 2**20, (small_w, big_w)
    assert big_r - small_r < 24 * 2**20, (small_r, big_r)
    assert (tmp_path / "big.wrr").stat().st_size < 4 * 1_000_000  # <= 4 bytes per clock call


def _wait_for_entries(path: Path, n: int, timeout: float = 10.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        got, exc = read_prefix(path)
        if len(got) >= n or time.monotonic() > deadline:
            assert isinstance(exc, JournalTruncated)  # the writer is still open
            return got
        time.sleep(0.02)


def test_quiet_guest_entries_reach_the_file_without_more_calls(tmp_path: Path) -> None:
    """The timer thread writes out a buffer the guest stopped adding to (blocked call)."""
    path = tmp_path / "quiet.wrr"
    w = JournalWriter(path, JournalHeader(module_sha256=""), flush_interval=0.05)
    try:
        w.write_event(StartEvent(1, ("loop",), 0))

        def calls(lo: int, hi: int) -> None:
            for i in range(lo, hi):
                w.write_syscall(P1, "fd_pwrite", (3, i, 1, i * 7), [b"data %d" % i], 0,
                                [(i * 7, i.to_bytes(8, "little"))])

        calls(0, 10)
        _check_loop_entries(_wait_for_entries(path, 11))
        calls(10, 25)  # same buffer: the timer must write only the new part
        _check_loop_entries(_wait_for_entries(path, 26))
        calls(25, 9000)
    finally:
        w.close()
    got, exc = read_prefix(path)
    assert exc is None and len(got) == 9001
    _check_loop_entries(got)


def test_timer_never_splits_an_entry(tmp_path: Path) -> None:
    """Entries whose pack calls back into Python (InputDigest via msgpack's ``default``
    hook) can be interrupted by the timer thread; frames must still hold whole entries."""
    from wasi_rr.journal import InputDigest, open_journal

    digest = InputDigest.of(b"x" * 5000)
    path = tmp_path / "race.wrr"
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with JournalWriter(path, JournalHeader(module_sha256=""), flush_interval=0.0005,
                           input_hash_threshold=None) as w:
            for i in range(20_000):
                w.write_syscall(P1, "fd_write", (3, i), [b"iov", digest], 0, [])
    finally:
        sys.setswitchinterval(old)
    got = list(open_journal(path))
    assert len(got) == 20_000
    assert all(e.params == (3, i) and e.inputs == (b"iov", digest) for i, e in enumerate(got))
