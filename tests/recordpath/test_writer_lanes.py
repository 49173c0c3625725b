"""``JournalWriter.write_call``/``repeat_lane``: the recorder's split-field API
writes the same bytes as ``write_syscall`` (the format does not change)."""

from __future__ import annotations

from pathlib import Path

from wasi_rr.journal import JournalHeader, JournalWriter, SyscallEntry, open_journal
from wasi_rr.journal.framing import FRAME_HEADER_SIZE, PREFIX, FrameKind, decode_frame_header

P1 = "wasi_snapshot_preview1"
PARAMS = (1, 1000, 0x40)


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
    lane = b.repeat_lane(fid)
    used = 0
    for seq, (params, ptr, data) in enumerate(_calls()):
        if lane(seq, params, (), ptr, data):
            used += 1
        else:
            b.write_call(fid, seq, params, (), 0, ((ptr, data),))
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


def test_lane_declines_what_it_cannot_encode(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path / "c.wrr", JournalHeader(module_sha256=""), background=False)
    fid = w.function_id(P1, "clock_time_get")
    lane = w.repeat_lane(fid)
    assert not lane(0, PARAMS, (), 0x40, b"x" * 8)  # no previous entry
    w.write_call(fid, 0, PARAMS, (), 0, ((0x40, b"a" * 8),))
    assert not lane(5, PARAMS, (), 0x40, b"x" * 8)  # not the next seq
    assert not lane(1, (1, 1000, 0x48), (), 0x40, b"x" * 8)  # other params
    assert not lane(1, PARAMS, (), 0x48, b"x" * 8)  # other address
    assert lane(1, PARAMS, (), 0x40, b"b" * 8)
    w.write_call(fid, 2, PARAMS, (b"in",), 0, ((0x40, b"c" * 8),))
    assert not lane(3, PARAMS, (), 0x40, b"x" * 8)  # last entry had inputs
    w.write_call(fid, 3, PARAMS, (), 28, ())
    assert not lane(4, PARAMS, (), 0x40, b"x" * 8)  # last entry failed
    w.close()
    entries = _entries_payload(tmp_path / "c.wrr")
    assert [(e.seq, e.inputs, e.errno, e.writes) for e in entries] == [
        (0, (), 0, ((0x40, b"a" * 8),)), (1, (), 0, ((0x40, b"b" * 8),)),
        (2, (b"in",), 0, ((0x40, b"c" * 8),)), (3, (), 28, ())]


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
    lane, lane2 = b.repeat_lane(fw), b.repeat_lane2(fr)
    used = 0
    for seq, (name, params, inputs, writes) in enumerate(_io_calls()):
        if name == "fd_write":
            ok = lane(seq, params, inputs, *writes[0])
        else:
            ok = lane2(seq, params, inputs, *writes[0], *writes[1])
        if ok:
            used += 1
        else:
            b.write_call(fw if name == "fd_write" else fr, seq, params, inputs, 0, writes)
    b.close()
    assert used > 300
    assert _entries_payload(tmp_path / "a.wrr") == _entries_payload(tmp_path / "b.wrr")
    assert _entry_frames(tmp_path / "a.wrr") == _entry_frames(tmp_path / "b.wrr")
