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
from journal_helpers import FUNCTIONS, call, make_header, read_prefix

from wasi_rr.journal import (
    Call,
    InputDigest,
    JournalTruncated,
    JournalWriteError,
    JournalWriter,
    StartEvent,
    open_journal,
)
from wasi_rr.journal.records import append_call

CHILD = textwrap.dedent("""
    import sys
    from wasi_rr.host.table import function_names
    from wasi_rr.journal import Call, JournalHeader, JournalWriter, StartEvent
    w = JournalWriter(sys.argv[1], JournalHeader(module_sha256="", functions=function_names()),
                      module=b"\\0asm\\1\\0\\0\\0", flush_interval=0.01, frame_bytes=4096)
    w.write_event(StartEvent(1, ("loop",), 0))
    i = 0
    while True:
        w.write_call(Call(0, "wasi_snapshot_preview1", "fd_pwrite", (3, i, 1, i * 7),
                          ((i, b"data %d" % i),), 0, ((i * 7, i.to_bytes(8, "little")),)))
        i += 1
""")


def _loop_call(i: int) -> Call:
    return call("fd_pwrite", (3, i, 1, i * 7), ((i, b"data %d" % i),), 0,
                ((i * 7, i.to_bytes(8, "little")),))


def _check_loop_entries(entries: list[Any]) -> None:
    assert isinstance(entries[0], StartEvent)
    for i, e in enumerate(entries[1:]):
        assert isinstance(e, Call)
        assert (e.seq, e.name, e.params, e.inputs, e.writes, e.pid) == (
            i, "fd_pwrite", (3, i, 1, i * 7), ((i, b"data %d" % i),),
            ((i * 7, i.to_bytes(8, "little")),), 1)


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
    w = JournalWriter(path, make_header(), background=False, frame_bytes=256)
    w.write_event(StartEvent(1, ("loop",), 0))
    w._f = _FailingFile(w._f, 3000)  # type: ignore[assignment]  # a full disk
    with pytest.raises(JournalWriteError, match="No space left"):
        for i in range(10_000):
            w.write_call(_loop_call(i))
    assert w.failed is not None and "No space left" in str(w.failed)
    with pytest.raises(JournalWriteError):  # every later write says so too
        w.write_event(StartEvent(2))
    with pytest.raises(JournalWriteError):
        w.close()
    got, exc = read_prefix(path)
    assert isinstance(exc, JournalTruncated) and len(got) > 10
    _check_loop_entries(got)


def test_unwritable_path_is_a_write_error(tmp_path: Path) -> None:
    with pytest.raises(JournalWriteError, match="cannot write journal"):
        JournalWriter(tmp_path, make_header())
    with pytest.raises(JournalWriteError, match="cannot write journal"):
        JournalWriter(tmp_path / "no" / "such" / "dir.wrr", make_header())
    if Path("/dev/full").exists():
        with pytest.raises(JournalWriteError, match="No space left"):
            JournalWriter("/dev/full", make_header(), module=b"m" * 100)


MEMORY_CHILD = textwrap.dedent("""
    import sys
    from wasi_rr.host.table import function_names
    from wasi_rr.journal import JournalHeader, JournalWriter, open_journal
    from wasi_rr.journal.records import append_call
    path, n = sys.argv[1], int(sys.argv[2])

    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise SystemExit("no VmHWM")

    names = function_names()
    w = JournalWriter(path, JournalHeader(module_sha256="", functions=names))
    fid = names.index("wasi_snapshot_preview1::clock_time_get")
    buf, limit, full = w.buf, w.limit, w.flush_full
    t = 1_700_000_000_000_000_000
    for i in range(n):  # the recorder's path: append records, cut a frame at the limit
        t += 2000 + (i & 1023)
        append_call(buf, fid, 0, (1, 1000, 4096), 0, (), ((4096, t.to_bytes(8, "little")),))
        if len(buf) >= limit:
            full()
    w.close(syscalls=n)
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
    """Peak RSS writing+reading 1e6 records is within a few MB of doing 20k records."""
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
    w = JournalWriter(path, make_header(), flush_interval=0.05)
    try:
        w.write_event(StartEvent(1, ("loop",), 0))

        def calls(lo: int, hi: int) -> None:
            for i in range(lo, hi):
                w.write_call(_loop_call(i))

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


def _mixed(i: int) -> tuple[int, int, tuple[int, ...], tuple[tuple[int, Any], ...],
                            tuple[tuple[int, bytes], ...]]:
    """Records of many shapes (0-6 params, digests, stdout, big writes), as the
    recorder's ``append_call`` gets them: (fid, flags, params, inputs, writes)."""
    k = i % 7
    params = tuple(range(i, i + k))
    if k == 0:
        return FID["sched_yield"], 0, (), (), ()
    if k == 1:
        return FID["fd_close"], 0, (i & 0xFFFF,), (), ()
    if k == 2:
        return FID["random_get"], 0, (64, 2), (), ((64, bytes([i & 255]) * (i % 3000)),)
    if k == 3:
        return (FID["fd_write"], 1, (1, 0, 1, 8), ((0, b"iovecs!!"), (16, b"x" * (i % 97))),
                ((8, (i % 97).to_bytes(4, "little")),))
    if k == 4:
        return (FID["fd_write"], 0, (3, 0, 1, 8),
                ((0, b"iovecs!!"), (16, InputDigest(5000 + i, bytes(32)))), ((8, b"1234"),))
    if k == 5:
        inputs = ((100, b"a/b/c%d" % i),)
        return FID["path_open"], 0, params + (0,) * 4, inputs, ((200, b"\1\0\0\0"),)
    return FID["clock_time_get"], 0, (1, 1000, 64), (), ((64, i.to_bytes(8, "little")),)


FID = {f.split("::")[1]: n for n, f in enumerate(FUNCTIONS) if f.startswith("wasi_snapshot")}


def _expected(i: int) -> tuple[Any, ...]:
    fid, flags, params, inputs, writes = _mixed(i)
    return (FUNCTIONS[fid].split("::")[1], flags, params, inputs, writes)


def _append(w: JournalWriter, lo: int, hi: int) -> None:
    buf, limit, full = w.buf, w.limit, w.flush_full
    for i in range(lo, hi):
        fid, flags, params, inputs, writes = _mixed(i)
        append_call(buf, fid, flags, params, 0, inputs, writes)
        if len(buf) >= limit:
            full()


def _check_mixed(got: list[Any], n: int) -> None:
    calls = [e for e in got if isinstance(e, Call)]
    assert len(calls) == n
    for i, c in enumerate(calls):
        assert (c.seq, c.name, c.stdio, c.params, c.inputs, c.writes) == (i, *_expected(i)), i


@pytest.mark.parametrize("frame_bytes", [1 << 20, 1 << 16])
def test_timer_never_splits_a_record(tmp_path: Path, frame_bytes: int) -> None:
    """Records are appended with several ``extend``s (header and params, descriptors,
    bytes) while the timer thread writes out what is complete: with thread switches
    forced every microsecond the timer meets half-appended records all the time,
    and every frame must still hold whole records, each exactly once."""
    path = tmp_path / "race.wrr"
    n = 30_000
    partial = [0, 0]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        w = JournalWriter(path, make_header(), flush_interval=0.0002, frame_bytes=frame_bytes)
        complete_end = w._complete_end

        def spy() -> int:
            whole = complete_end()
            partial[0] += 1
            partial[1] += whole < len(w.buf)
            return whole

        w._complete_end = spy  # type: ignore[method-assign]
        w.write_event(StartEvent(1, ("race",)))
        _append(w, 0, n)
        w.close(syscalls=n)
    finally:
        sys.setswitchinterval(old)
    with open_journal(path) as r:
        got = list(r)
        frames = r.stats.frames
    _check_mixed(got, n)
    assert frames > 20 and partial[0] > 5, (frames, partial)  # the timer really ran
    if frame_bytes > 1 << 16:  # the timer cut most frames itself...
        assert partial[0] > 20 and partial[1] > 0, partial  # ...meeting half records


@pytest.mark.parametrize("cut", [1, 3, 15, 16, 40, 57])
def test_timer_leaves_a_half_appended_record_in_the_buffer(tmp_path: Path, cut: int) -> None:
    """Deterministically: a record of which only the first ``cut`` bytes are in the
    buffer (a recorder preempted between its extends) is not written by the timer;
    the complete ones before it are, and once finished it is written exactly once."""
    path = tmp_path / "half.wrr"
    w = JournalWriter(path, make_header(), flush_interval=0.01)
    try:
        w.write_event(StartEvent(1, ("half",)))
        _append(w, 0, 10)
        rec = bytearray()
        fid, flags, params, inputs, writes = _mixed(5)  # a path_open: 64+ bytes
        append_call(rec, fid, flags, params, 0, inputs, writes)
        assert len(rec) > 57
        w.buf += rec[:cut]
        got = _wait_for_entries(path, 11)
        time.sleep(0.05)  # several more timer ticks: still nothing of the half record
        got, exc = read_prefix(path)
        assert isinstance(exc, JournalTruncated) and len(got) == 11
        _check_mixed(got, 10)
        w.buf += rec[cut:]
        _append(w, 11, 20)
    finally:
        w.close(syscalls=20)
    got, exc = read_prefix(path)
    assert exc is None
    calls = [e for e in got if isinstance(e, Call)]
    assert len(calls) == 20 and calls[10].name == "path_open"
    assert calls[10].inputs == _mixed(5)[3]
    _check_mixed(got[:11], 10)


def test_end_frame_counts_the_recorders_calls(tmp_path: Path) -> None:
    """Recorders count their own records (``close(syscalls=N)``); a count that does
    not match what the journal holds is reported, not believed."""
    path = tmp_path / "count.wrr"
    w = JournalWriter(path, make_header(), background=False)
    _append(w, 0, 50)
    w.close(syscalls=50)
    _check_mixed(list(open_journal(path)), 50)
    w = JournalWriter(path, make_header(), background=False)
    _append(w, 0, 50)
    w.close()  # forgot syscalls=: the END frame says 0
    got, exc = read_prefix(path)
    assert len(got) == 50 and exc is not None
    assert "end frame counts 0 syscalls, the journal holds 50" in str(exc)
