"""Truncated and damaged journals: a correct prefix, then one clear error; never wrong data."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from journal_helpers import call, clock_ops, make_header, read_prefix, write_stream

from wasi_rr.journal import (
    BadEntry,
    CtxEvent,
    ExitEvent,
    JournalCorrupt,
    JournalError,
    JournalReader,
    JournalTruncated,
    JournalVersionError,
    SnapshotEvent,
    StartEvent,
)


def _ops() -> list[object]:
    ops: list[object] = [StartEvent(1, ("prog", "x"), 9)]
    for i in range(30):
        ops.append(call("fd_write", (1, 100 + i, 1, 200),
                        ((100 + i, b"\x10\0\0\0\x05\0\0\0"), (16, b"line %d\n" % i)), 0,
                        ((200, bytes([6 + i % 10, 0, 0, 0])),), stdio=1))
        if i % 10 == 7:
            ops.append(CtxEvent(1, i + 1))
        if i == 15:
            ops.append(SnapshotEvent(1, 1, 16, "every", bytes(range(40)), b"fs", None))
        if i % 9 == 3:  # a digested input
            ops.append(call("fd_write", (3, 100, 1, 200), ((100, b"\x10\0\0\0\x00\x01\0\0"),
                                                          (16, bytes(range(100)))), 0,
                            ((200, b"\0\1\0\0"),)))
    ops.append(ExitEvent(1, 0, 1))
    return ops


@pytest.fixture(scope="module")
def small_journal(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, list[object]]:
    """A multi-frame journal (tiny frames) and the entries it holds."""
    path = tmp_path_factory.mktemp("j") / "small.wrr"
    model = write_stream(path, _ops(), frame_bytes=120,
                         header=make_header(argv=["prog", "x"]))
    data = path.read_bytes()
    with JournalReader(path) as r:
        assert r.stats.frames == 0
        assert list(r) == model.entries
        assert r.stats.frames >= 10  # really multi-frame
    return data, list(model.entries)


def test_every_truncation_gives_a_prefix_then_truncated(
        small_journal: tuple[bytes, list[object]], tmp_path: Path) -> None:
    data, entries = small_journal
    path = tmp_path / "t.wrr"
    seen_counts = set()
    for cut in range(len(data)):
        path.write_bytes(data[:cut])
        got, exc = read_prefix(path)
        assert got == entries[: len(got)], f"wrong data after cutting at {cut}"
        assert isinstance(exc, JournalTruncated), f"cut at {cut}: {exc!r}"
        assert exc.entries == len(got)
        assert "truncated after entry" in str(exc)
        seen_counts.add(len(got))
    assert len(seen_counts) > 10  # the cuts really landed in many frames
    path.write_bytes(data)
    assert read_prefix(path) == (entries, None)


def test_random_bit_flips_are_detected(small_journal: tuple[bytes, list[object]],
                                       tmp_path: Path) -> None:
    data, entries = small_journal
    path = tmp_path / "f.wrr"
    rng = random.Random(1234)
    positions = list(range(len(data)))
    rng.shuffle(positions)
    for pos in positions:  # every byte, one random bit each
        flipped = bytearray(data)
        flipped[pos] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(flipped))
        got, exc = read_prefix(path)
        assert got == entries[: len(got)], f"wrong data with a flip at byte {pos}"
        # every byte of a journal is covered by a magic, a checksum or a cross-check
        assert isinstance(exc, (JournalCorrupt, JournalVersionError)), f"flip at {pos}: {exc!r}"
        assert not isinstance(exc, BadEntry), f"flip at {pos} passed a checksum: {exc!r}"


def test_corrupt_reports_the_frame_offset(small_journal: tuple[bytes, list[object]],
                                          tmp_path: Path) -> None:
    data, _ = small_journal
    pos = len(data) * 2 // 3
    flipped = bytearray(data)
    flipped[pos] ^= 0x40
    path = tmp_path / "c.wrr"
    path.write_bytes(bytes(flipped))
    got, exc = read_prefix(path)
    assert isinstance(exc, JournalCorrupt)
    assert exc.offset <= pos and exc.entries == len(got)
    assert f"corrupt at byte {exc.offset}" in str(exc)


def test_truncated_and_corrupt_are_both_journal_errors() -> None:
    assert issubclass(JournalTruncated, JournalError)
    assert issubclass(JournalCorrupt, JournalError)


def test_not_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "x.wrr"
    path.write_bytes(b"\0asm\x01\0\0\0 definitely not a journal")
    with pytest.raises(JournalCorrupt, match="not a wasi-rr journal"):
        JournalReader(path)
    path.write_bytes(b"")
    with pytest.raises(JournalTruncated):
        JournalReader(path)


def test_trailing_garbage_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "g.wrr"
    write_stream(path, clock_ops(10))
    with open(path, "ab") as f:
        f.write(b"junk")
    got, exc = read_prefix(path)
    assert len(got) == 12 and isinstance(exc, JournalCorrupt)
    assert "after the end" in str(exc)


def test_dropped_frame_is_corrupt(small_journal: tuple[bytes, list[object]],
                                  tmp_path: Path) -> None:
    """Removing a whole middle frame keeps every checksum valid; sequencing catches it."""
    from wasi_rr.journal.framing import FRAME_HEADER_SIZE, PREFIX, decode_frame_header

    data, entries = small_journal
    offsets = []
    off = PREFIX.size
    while off < len(data):
        fh = decode_frame_header(data[off:off + FRAME_HEADER_SIZE])
        assert not isinstance(fh, str)
        offsets.append((off, FRAME_HEADER_SIZE + fh.plen, fh.kind))
        off += FRAME_HEADER_SIZE + fh.plen
    entry_frames = [o for o in offsets if o[2] == 3]
    start, length, _ = entry_frames[len(entry_frames) // 2]
    path = tmp_path / "d.wrr"
    path.write_bytes(data[:start] + data[start + length:])
    got, exc = read_prefix(path)
    assert got == entries[: len(got)]
    assert isinstance(exc, JournalCorrupt) and "out of sequence" in str(exc)
