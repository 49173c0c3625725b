"""The recorder's fused callbacks (``host.recordpath``) journal exactly what the
generic observed path journals: same entries, byte for byte, including faults,
kernel errors, multi-iovec calls and memory growth.

Each guest is recorded twice with a deterministic clock: once plainly (the
fused callbacks serve the hot calls) and once with an extra observer teed in,
which makes the adapter take the generic observed path for every call.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wasi_rr.api import RunConfig
from wasi_rr.host.boundary import recordpath
from wasi_rr.host.table.abi import SyscallRecord
from wasi_rr.host.kernel.sources import VirtualClock
from wasi_rr.journal import SyscallEntry, open_journal
from wasi_rr.record import record
from wasi_rr.replay import replay

Guest = Callable[[str], Path]

# Every fused call at its edges: out-of-range pointers (array, buffer, result),
# bad clock id / whence, a bad fd (kernel error), 0, 1 and 3 iovecs, a partial
# read, memory growth between calls, and runs of identical calls (repeat entries).
WAT = r"""
(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_seek" (func $seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $open
    (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "f.txt")
  (data (i32.const 100) "hello, recorder!")
  ;; iovecs at 200: (100,5) (105,0) (105,11); read iovecs at 300: (400,4) (404,0) (404,64)
  (data (i32.const 200) "\64\00\00\00\05\00\00\00\69\00\00\00\00\00\00\00\69\00\00\00\0b\00\00\00")
  (data (i32.const 300) "\90\01\00\00\04\00\00\00\94\01\00\00\00\00\00\00\94\01\00\00\40\00\00\00")
  (func (export "_start") (local $i i32) (local $fd i32)
    ;; open /t/f.txt (preopen fd 3) read-write, create
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 5) (i32.const 1)
                      (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 8)))
    (local.set $fd (i32.load (i32.const 8)))
    (local.set $i (i32.const 0))
    (loop $l
      (drop (call $clock (i32.const 1) (i64.const 1000) (i32.const 32)))
      (drop (call $write (local.get $fd) (i32.const 200) (i32.const 1) (i32.const 40)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 20))))
    (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 32)))
    (drop (call $clock (i32.const 9) (i64.const 1) (i32.const 32)))        ;; EINVAL
    (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 65532)))     ;; EFAULT
    (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 65536)))     ;; grows below
    (drop (call $write (local.get $fd) (i32.const 200) (i32.const 3) (i32.const 40)))
    (drop (call $write (local.get $fd) (i32.const 200) (i32.const 0) (i32.const 40)))
    (drop (call $write (local.get $fd) (i32.const 65530) (i32.const 1) (i32.const 40)))
    (drop (call $write (local.get $fd) (i32.const 200) (i32.const 1) (i32.const 65534)))
    (drop (call $write (i32.const 77) (i32.const 200) (i32.const 1) (i32.const 40)))  ;; EBADF
    (drop (call $write (i32.const 1) (i32.const 200) (i32.const 3) (i32.const 40)))   ;; stdout
    (drop (call $seek (local.get $fd) (i64.const 0) (i32.const 0) (i32.const 48)))
    (drop (call $seek (local.get $fd) (i64.const 3) (i32.const 0) (i32.const 48)))
    (drop (call $seek (local.get $fd) (i64.const -2) (i32.const 1) (i32.const 48)))
    (drop (call $seek (local.get $fd) (i64.const 0) (i32.const 7) (i32.const 48)))   ;; EINVAL
    (drop (call $seek (local.get $fd) (i64.const -100) (i32.const 0) (i32.const 48)))
    (drop (call $seek (local.get $fd) (i64.const 0) (i32.const 0) (i32.const 65530)))
    (drop (call $read (local.get $fd) (i32.const 300) (i32.const 3) (i32.const 56)))
    (drop (call $read (local.get $fd) (i32.const 300) (i32.const 3) (i32.const 56)))
    (drop (call $seek (local.get $fd) (i64.const 0) (i32.const 0) (i32.const 48)))
    (local.set $i (i32.const 0))
    (loop $r
      (drop (call $read (local.get $fd) (i32.const 300) (i32.const 1) (i32.const 56)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $r (i32.lt_u (local.get $i) (i32.const 30))))
    (drop (call $read (local.get $fd) (i32.const 65530) (i32.const 1) (i32.const 56)))
    (drop (call $read (i32.const 77) (i32.const 300) (i32.const 1) (i32.const 56)))
    (drop (memory.grow (i32.const 1)))
    (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 65536)))
    (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 65536)))
    (drop (call $close (local.get $fd)))
    (drop (call $close (local.get $fd)))))                                  ;; EBADF
"""


class _Null:
    def on_syscall(self, record: SyscallRecord) -> None:
        pass


def _entries(path: Path) -> list[tuple[Any, ...]]:
    with open_journal(path) as r:
        return [(e.seq, e.module, e.name, e.params, e.inputs, e.errno, e.writes)
                for e in r if isinstance(e, SyscallEntry)]


def _record_both(config: Callable[[], RunConfig], tmp: Path,
                 **kw: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], Path]:
    fused, generic = tmp / "fused.wrr", tmp / "generic.wrr"
    a = record(config(), fused, **kw)
    cfg = config()
    cfg.observer = _Null()  # a tee: the adapter then observes every call generically
    b = record(cfg, generic, **kw)
    assert a == b
    return _entries(fused), _entries(generic), fused


def test_fused_calls_journal_like_the_observed_path(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    real = recordpath.recording_callback

    def spy(adapter: Any, sig: Any, handler: Any, sink: Any) -> Any:
        cb = real(adapter, sig, handler, sink)
        if cb is not None:
            built.append(sig.name)
        return cb
    monkeypatch.setattr(recordpath, "recording_callback", spy)
    wat = tmp_path / "edges.wat"
    wat.write_text(WAT)
    (tmp_path / "t").mkdir()

    def config() -> RunConfig:
        return RunConfig(module=wat, tmpfs=["/t"], stdout=io.BytesIO(),
                         clock=VirtualClock(tick=1500))

    fused, generic, journal = _record_both(config, tmp_path)
    assert sorted(built) == ["clock_time_get", "fd_close", "fd_read", "fd_seek", "fd_write"]
    assert fused == generic
    names = {e[2] for e in fused}
    assert {"clock_time_get", "fd_write", "fd_read", "fd_seek", "fd_close"} <= names
    errnos = {e[5] for e in fused}
    assert {0, 8, 21, 28} <= errnos  # EBADF, EFAULT, EINVAL seen
    result = replay(journal, stdout=io.BytesIO(), stderr=io.BytesIO())
    assert result.divergence is None, result.divergence


@pytest.mark.parametrize("name,args,threshold", [
    ("bench_files", ["300", "/t"], 4096),
    ("bench_clock", ["500"], 4096),
    ("stdio_bulk", [], 16),
    ("fs_files", ["/t"], None),
])
def test_corpus_guests_journal_alike(guest: Guest, tmp_path: Path, name: str,
                                     args: list[str], threshold: int | None) -> None:
    wasm = guest(name)

    def config() -> RunConfig:
        return RunConfig(module=wasm, args=args, tmpfs=["/t"], stdout=io.BytesIO(),
                         stderr=io.BytesIO(), stdin=io.BytesIO(b"some input\n" * 50),
                         clock=VirtualClock(tick=1000))

    fused, generic, journal = _record_both(config, tmp_path, input_hash_threshold=threshold)
    assert fused == generic
    assert len(fused) > 5
    result = replay(journal, stdout=io.BytesIO(), stderr=io.BytesIO())
    assert result.divergence is None, result.divergence


def test_lanes_across_many_small_frames(guest: Guest, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Lanes fold their lazily counted entries at every journal check: with tiny
    frames and checks every 50 entries, a long clock loop followed by file I/O
    still journals exactly what the generic path journals, frame counts and
    sequence numbers included, and replays."""
    import wasi_rr.record as record_module
    from wasi_rr.journal import JournalWriter

    def small_frames(*args: Any, **kwargs: Any) -> JournalWriter:
        return JournalWriter(*args, **kwargs, frame_bytes=2048, check_every=50)
    monkeypatch.setattr(record_module, "JournalWriter", small_frames)

    for name, args in (("bench_clock", ["3000"]), ("bench_files", ["1500", "/t"])):
        wasm = guest(name)

        def config() -> RunConfig:
            return RunConfig(module=wasm, args=args, tmpfs=["/t"], stdout=io.BytesIO(),
                             stderr=io.BytesIO(), clock=VirtualClock(tick=700))

        fused, generic, journal = _record_both(config, tmp_path)
        assert fused == generic
        assert [e[0] for e in fused] == list(range(len(fused)))
        assert _entry_frame_count(journal) > 5
        result = replay(journal, stdout=io.BytesIO(), stderr=io.BytesIO())
        assert result.divergence is None, result.divergence


def test_lanes_serve_the_hot_loops(guest: Guest, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The lanes really take the repeats in line (not only the full recorders):
    nearly every call of bench_files' loop is accounted through ``lane_account``."""
    from wasi_rr.journal import JournalWriter

    counted: list[int] = []
    real = JournalWriter.lane_account

    def spy(self: JournalWriter, count: int, check: bool) -> int:
        counted.append(count)
        return real(self, count, check)
    monkeypatch.setattr(JournalWriter, "lane_account", spy)
    wasm = guest("bench_files")
    journal = tmp_path / "j.wrr"
    record(RunConfig(module=wasm, args=["400", "/t"], tmpfs=["/t"], stdout=io.BytesIO()),
           journal)
    assert sum(counted) > 790  # of 800 loop calls
    result = replay(journal, stdout=io.BytesIO(), stderr=io.BytesIO())
    assert result.divergence is None, result.divergence


def _entry_frame_count(path: Path) -> int:
    from wasi_rr.journal.framing import FRAME_HEADER_SIZE, PREFIX, FrameKind, decode_frame_header

    raw = path.read_bytes()
    pos, n = PREFIX.size, 0
    while pos < len(raw):
        fh = decode_frame_header(raw[pos:pos + FRAME_HEADER_SIZE])
        assert not isinstance(fh, str), fh
        n += fh.kind == FrameKind.ENTRIES
        pos += FRAME_HEADER_SIZE + fh.plen
    return n


BLOCKING_WAT = r"""
(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "\00\01\00\00\10\00\00\00")  ;; one iovec: 16 bytes at 256
  (func (export "_start") (local $i i32)
    ;; a read of stdin (a full entry), a clock loop (the clock lane's column), then
    ;; the same read again: served by the read lane, it blocks in the kernel
    (drop (call $read (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 48)))
    (loop $l
      (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 32)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 300))))
    (drop (call $read (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 48)))))
"""


def test_a_guest_blocked_in_a_lane_has_its_calls_on_disk(tmp_path: Path) -> None:
    """The clock lane's column reaches the writer's buffer before any other call
    runs the kernel: a guest blocked on stdin after a clock loop has every clock
    call on disk (the writer's timer thread writes it out), so a recorder killed
    while waiting loses nothing the guest did."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from wasi_rr.journal import JournalError, JournalReader

    wat = tmp_path / "blocking.wat"
    wat.write_text(BLOCKING_WAT)
    journal = tmp_path / "blocked.wrr"
    proc = subprocess.Popen([sys.executable, "-m", "wasi_rr", "record", "-o", str(journal),
                             str(wat)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert proc.stdin is not None
    names: list[str] = []
    try:
        proc.stdin.write(b"0123456789abcdef")  # the first read; the second one blocks
        proc.stdin.flush()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            names = []
            try:
                with JournalReader(journal) as r:
                    for e in r:
                        if isinstance(e, SyscallEntry):
                            names.append(e.name)
            except (OSError, JournalError):
                pass  # not there yet, or (still being written) truncated: a prefix
            if names.count("clock_time_get") == 300:
                break
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert names == ["fd_read"] + ["clock_time_get"] * 300, names[-5:]
