"""``JournalWriter.write_call`` and the lane protocol (``repeat_state``,
``repeat_prefixes``, ``lane_buffer``, ``lane_account``, ``attach_lanes``): the
recorder's split-field API and its in-line repeat entries write the same bytes
as ``write_syscall`` (the format does not change)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from wasi_rr.journal import (
    ExitEvent,
    JournalHeader,
    JournalWriter,
    SyscallEntry,
    open_journal,
)
from wasi_rr.journal.framing import FRAME_HEADER_SIZE, PREFIX, FrameKind, decode_frame_header

P1 = "wasi_snapshot_preview1"
PARAMS = (1, 1000, 0x40)


class _Lane:
    """Appends repeats the way ``host.recordpath`` lanes do: through the buffer,
    counted lazily, folded by ``sync`` (registered with ``attach_lanes``)."""

    def __init__(self, w: JournalWriter) -> None:
        self.w = w
        self.pending = 0
        self.seq = 0  # the adapter's sequence number, folded lazily like the adapter's
        self.extend = w.lane_buffer().extend
        w.attach_lanes(self.sync)

    def sync(self) -> None:
        if self.pending:
            self.seq += self.pending
            self.w.lane_account(self.pending, False)
            self.pending = 0

    def offer(self, fid: int, params: Sequence[int], inputs: Sequence[Any],
              writes: Sequence[tuple[int, bytes]]) -> bool:
        st = self.w.repeat_state(fid)
        if st is None or st[0] != tuple(params) or st[1] != tuple(inputs) \
                or len(writes) not in (1, 2) or any(len(d) > 255 for _, d in writes):
            return False
        addrs = writes[0][0] if len(writes) == 1 else (writes[0][0], writes[1][0])
        if st[3] != addrs:
            return False
        prefixes = self.w.repeat_prefixes(fid, len(writes))
        entry = prefixes[len(writes[0][1])] + writes[0][1]
        if len(writes) == 2:
            entry += b"\xc4" + bytes([len(writes[1][1])]) + writes[1][1]
        self.extend(entry)
        self.pending += 1
        return True

    def full(self, fid: int, params: Sequence[int], inputs: Sequence[Any], errno: int,
             writes: Sequence[tuple[int, bytes]]) -> None:
        self.sync()
        self.w.write_call(fid, self.seq, params, inputs, errno, writes)
        self.seq += 1


def _calls() -> list[tuple[tuple[int, ...], int, bytes]]:
    out = []
    for i in range(300):
        ptr = 0x40 if i % 50 else 0x48  # a changed address breaks the run of repeats
        out.append(((1, 1000, ptr), ptr, (1000 + 7 * i).to_bytes(8, "little")))
    return out


def _entries_payload(path: Path) -> list[SyscallEntry]:
    with open_journal(path) as r:
        return [e for e in r if isinstance(e, SyscallEntry)]


def test_lane_and_write_call_write_what_write_syscall_writes(tmp_path: Path) -> None:
    header = JournalHeader(module_sha256="", created_unix_ns=1, wasi_rr_version="x")
    a = JournalWriter(tmp_path / "a.wrr", header, background=False)
    for params, ptr, data in _calls():
        a.write_syscall(P1, "clock_time_get", params, (), 0, ((ptr, data),))
    a.close()
    header = JournalHeader(module_sha256="", created_unix_ns=1, wasi_rr_version="x")
    b = JournalWriter(tmp_path / "b.wrr", header, background=False)
    fid = b.function_id(P1, "clock_time_get")
    lane = _Lane(b)
    used = 0
    for params, ptr, data in _calls():
        if lane.offer(fid, params, (), ((ptr, data),)):
            used += 1
        else:
            lane.full(fid, params, (), 0, ((ptr, data),))
    assert b.syscalls_written == len(_calls())  # folds the lane's pending entries
    b.close()
    assert used > 250  # the lane took the repeats
    assert _entries_payload(tmp_path / "a.wrr") == _entries_payload(tmp_path / "b.wrr")
    assert _entry_frames(tmp_path / "a.wrr") == _entry_frames(tmp_path / "b.wrr")


def _entry_frames(path: Path) -> list[bytes]:
    """The ENTRIES frames of a journal, byte for byte (headers included)."""
    raw = path.read_bytes()
    pos = PREFIX.size
    frames = []
    while pos < len(raw):
        fh = decode_frame_header(raw[pos:pos + FRAME_HEADER_SIZE])
        assert not isinstance(fh, str), fh
        end = pos + FRAME_HEADER_SIZE + fh.plen
        if fh.kind == FrameKind.ENTRIES:
            frames.append(raw[pos:end])
        pos = end
    assert frames
    return frames


def test_repeat_state_says_when_a_repeat_may_follow(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path / "c.wrr", JournalHeader(module_sha256=""), background=False,
                      keep_full_inputs={"fd_write": (1,)})
    fid = w.function_id(P1, "clock_time_get")
    assert w.repeat_state(fid) is None  # no previous entry
    w.write_call(fid, 0, PARAMS, (), 0, ((0x40, b"a" * 8),))
    assert w.repeat_state(fid) == (PARAMS, (), 0, 0x40, False)
    w.write_call(fid, 1, PARAMS, (), 0, ((0x40, b"a" * 8), (0x48, b"b"), (0x50, b"c")))
    assert w.repeat_state(fid) is None  # three writes: no repeat form
    w.write_call(fid, 2, PARAMS, (b"in",), 0, ((0x40, b"c" * 8), (0x48, b"d")))
    assert w.repeat_state(fid) == (PARAMS, (b"in",), 0, (0x40, 0x48), False)
    w.write_call(fid, 3, PARAMS, (), 28, ())
    assert w.repeat_state(fid) is None  # last entry failed
    wfid = w.function_id(P1, "fd_write")
    w.write_call(wfid, 4, (1, 0, 1, 8), (b"x",), 0, ((8, b"\1\0\0\0"),))
    assert w.repeat_state(wfid) == ((1, 0, 1, 8), (b"x",), 0, 8, True)  # kept in full
    w.write_syscall(P1, "fd_write", (3, 0, 1, 8), (b"x",), 0, ((8, b"\1\0\0\0"),),
                    full_inputs=True)
    assert w.repeat_state(wfid) is None  # forced full inputs: write_call would not repeat it
    with pytest.raises(ValueError):
        w.repeat_prefixes(fid, 3)
    w.close()


def test_cold_entry_points_fold_the_lanes_first(tmp_path: Path) -> None:
    """Events, flush and the counters see a lane's entries in order."""
    w = JournalWriter(tmp_path / "d.wrr", JournalHeader(module_sha256=""), background=False)
    fid = w.function_id(P1, "clock_time_get")
    lane = _Lane(w)
    lane.full(fid, PARAMS, (), 0, ((0x40, b"a" * 8),))
    for i in range(5):
        assert lane.offer(fid, PARAMS, (), ((0x40, bytes([i]) * 8),))
    w.write_event(ExitEvent(0, 3))  # must come after the five repeats
    w.close()
    with open_journal(tmp_path / "d.wrr") as r:
        items = list(r)
    assert [e.seq for e in items if isinstance(e, SyscallEntry)] == list(range(6))
    assert isinstance(items[-1], ExitEvent) and items[-1].status == 3


def _io_calls() -> list[tuple[str, tuple[int, ...], tuple[bytes, ...], tuple[tuple[int, bytes], ...]]]:
    """fd_write (inputs: iovec array, data; fd 1 kept in full) and fd_read (two writes)."""
    out = []
    arr = b"\x00\x10\x00\x00\x10\x00\x00\x00"
    for i in range(200):
        fd = 1 if i % 40 < 3 else 3
        data = b"0123456789abcdef" if i % 30 else b"x" * 16
        out.append(("fd_write", (fd, 0x200, 1, 0x300), (arr, data), ((0x300, b"\x10\0\0\0"),)))
        n = 16 if i % 25 else 5
        out.append(("fd_read", (3, 0x200, 1, 0x304), (arr,),
                    ((0x1000, bytes([i % 256]) * n), (0x304, bytes([n, 0, 0, 0])))))
    return out


def test_two_write_lane_and_inputs(tmp_path: Path) -> None:
    keep = {"fd_write": (1, 2)}
    header = JournalHeader(module_sha256="", created_unix_ns=1, wasi_rr_version="x")
    a = JournalWriter(tmp_path / "a.wrr", header, background=False, keep_full_inputs=keep,
                      input_hash_threshold=8)
    a.function_id(P1, "fd_write")  # same definition order as below
    a.function_id(P1, "fd_read")
    for name, params, inputs, writes in _io_calls():
        a.write_syscall(P1, name, params, inputs, 0, writes,
                        full_inputs=name == "fd_write" and params[0] == 1)
    a.close()
    header = JournalHeader(module_sha256="", created_unix_ns=1, wasi_rr_version="x")
    b = JournalWriter(tmp_path / "b.wrr", header, background=False, keep_full_inputs=keep,
                      input_hash_threshold=8)
    fw, fr = b.function_id(P1, "fd_write"), b.function_id(P1, "fd_read")
    lane = _Lane(b)
    used = 0
    for name, params, inputs, writes in _io_calls():
        fid = fw if name == "fd_write" else fr
        if lane.offer(fid, params, inputs, writes):
            used += 1
        else:
            lane.full(fid, params, inputs, 0, writes)
    b.close()
    assert used > 300
    assert _entries_payload(tmp_path / "a.wrr") == _entries_payload(tmp_path / "b.wrr")
    assert _entry_frames(tmp_path / "a.wrr") == _entry_frames(tmp_path / "b.wrr")
