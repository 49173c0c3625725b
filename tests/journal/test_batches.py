"""The decoder's batches (``JournalReader.batches``): compact repeats, runs of
repeats kept as bytes, sequence numbers derived from the batch, and typed
entries that are the same whichever way the decoder groups them."""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from journal_helpers import P1, write_stream

from wasi_rr.journal import (
    ExitEvent,
    JournalCorrupt,
    JournalHeader,
    JournalReader,
    JournalWriter,
    StartEvent,
    SyscallEntry,
)
from wasi_rr.journal import codec
from wasi_rr.journal.codec import FrameDecodeError, FrameDecoder, SyscallBatch
from wasi_rr.replay.cursor import JournalCursor


def _loop_ops() -> list[object]:
    """A journal shaped like real loops: long runs of repeats (same data, changing
    data, two writes), a template change in the middle of a loop, interleaved
    repeats (no run), a data length change, and a second process."""
    ops: list[object] = [StartEvent(1, ("prog",), 0)]
    iov = (0x2000).to_bytes(4, "little") + (16).to_bytes(4, "little")
    rec = b"0123456789abcdef"
    for _ in range(60):  # fd_write loop: same data every time (nwritten=16)
        ops.append((P1, "fd_write", (4, 0x1000, 1, 0x1ff0), [iov, rec], 0,
                    [(0x1ff0, (16).to_bytes(4, "little"))], False))
    for i in range(50):  # clock loop: data changes every time
        ops.append((P1, "clock_time_get", (1, 1000, 0x1230), [], 0,
                    [(0x1230, (10**18 + 977 * i).to_bytes(8, "little"))], False))
    for i in range(40):  # fd_read loop: two writes, the data changing
        ops.append((P1, "fd_read", (4, 0x1000, 1, 0x1ff4), [iov], 0,
                    [(0x2000, bytes([i % 256]) * 16), (0x1ff4, (16).to_bytes(4, "little"))],
                    False))
    for _ in range(30):  # the same loop, other params: a new template
        ops.append((P1, "fd_write", (5, 0x1000, 1, 0x1ff0), [iov, rec], 0,
                    [(0x1ff0, (16).to_bytes(4, "little"))], False))
    for i in range(40):  # interleaved: no run, compact repeats one by one
        ops.append((P1, "clock_time_get", (1, 1000, 0x1230), [], 0,
                    [(0x1230, i.to_bytes(8, "little"))], False))
        ops.append((P1, "fd_write", (5, 0x1000, 1, 0x1ff0), [iov, rec], 0,
                    [(0x1ff0, (16).to_bytes(4, "little"))], False))
    for i in range(40):  # a read loop reaching the end of the file: shorter data
        n = 16 if i < 25 else 3
        ops.append((P1, "fd_read", (4, 0x1000, 1, 0x1ff4), [iov], 0,
                    [(0x2000, b"z" * n), (0x1ff4, n.to_bytes(4, "little"))], False))
    ops.append(ExitEvent(1, 0, 0))
    ops.append(StartEvent(2, ("child",), 0))
    for i in range(20):
        ops.append((P1, "clock_time_get", (0, 1, 0x40), [], 0,
                    [(0x40, i.to_bytes(8, "little"))], False))
    ops.append(ExitEvent(2, 0, 0))
    return ops


@pytest.mark.parametrize("frame_bytes", [1 << 20, 300])
def test_typed_entries_are_what_was_written(tmp_path: Path, frame_bytes: int) -> None:
    path = tmp_path / "loops.wrr"
    model = write_stream(path, _loop_ops(), frame_bytes=frame_bytes, check_every=1)
    with JournalReader(path) as r:
        got = list(r)
    assert got == model.entries


def test_runs_change_nothing_but_the_grouping(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "loops.wrr"
    write_stream(path, _loop_ops(), frame_bytes=2000, check_every=1)
    with JournalReader(path) as r:
        with_runs = list(r)
    with JournalReader(path) as r:
        batches = [b for b in r.batches() if type(b) is SyscallBatch]
    monkeypatch.setattr(codec, "MIN_RUN", 10**9)
    with JournalReader(path) as r:
        without = list(r)
    assert with_runs == without
    runs = [b.run for b in batches if b.run is not None]
    assert runs, "the loops should decode as runs"
    assert any(run.same is not None for run in runs)   # the fd_write loop
    assert any(run.same is None for run in runs)       # the clock loop
    assert any(len(run.offsets) == 2 for run in runs)  # the fd_read loop


def test_item_k_of_a_batch_has_sequence_number_seq0_plus_k(tmp_path: Path) -> None:
    path = tmp_path / "loops.wrr"
    model = write_stream(path, _loop_ops(), frame_bytes=300, check_every=1)
    expected = iter([e for e in model.entries if isinstance(e, SyscallEntry)])
    compact = 0
    with JournalReader(path) as r:
        for batch in r.batches():
            if type(batch) is not SyscallBatch:
                continue
            for k, item in enumerate(batch.items):
                want = next(expected)
                assert batch.raw(k)[0] == batch.seq0 + k == want.seq
                assert batch.pid == want.pid
                assert batch.entry(k) == want
                if item[0] < 0:  # a compact repeat: its template is the batch's
                    compact += 1
                    t = batch.templates[item[0]]
                    assert (t.name, t.params, t.errno) == (want.name, want.params, want.errno)
    assert next(expected, None) is None
    assert compact > 100


def test_a_template_change_within_a_batch_gets_its_own_key() -> None:
    """Repeats of two different full entries of one function in one batch are
    told apart by their keys (so ``templates`` can be a plain map)."""
    fn = msgpack.packb(("fn", 0, P1, "clock_time_get"))
    payload = fn
    for p in ((1, 1, 16), (2, 1, 16), (3, 1, 16)):
        payload += msgpack.packb((0, p, 0, (), ((16, b"a" * 8),)))
        for i in range(3):  # below MIN_RUN: compact repeats
            payload += msgpack.packb((-1, bytes([i]) * 8))
    batches = list(FrameDecoder().decode_batches(payload, 13))
    assert len(batches) == 1
    batch = batches[0]
    assert type(batch) is SyscallBatch and batch.seq0 == 0 and len(batch.items) == 12
    keys = [batch.items[k][0] for k in (1, 5, 9)]
    assert keys[0] == -1 and len(set(keys)) == 3 and all(k < 0 for k in keys)
    assert [batch.templates[k].params for k in keys] == [(1, 1, 16), (2, 1, 16), (3, 1, 16)]
    for k in range(12):
        e = batch.entry(k)
        assert e.seq == k and e.params == ((1, 1, 16), (2, 1, 16), (3, 1, 16))[k // 4]
        assert e.writes == (((16, b"a" * 8),) if k % 4 == 0 else ((16, bytes([k % 4 - 1]) * 8),))


def test_bad_repeats_are_corrupt_frames() -> None:
    fn = msgpack.packb(("fn", 0, P1, "clock_time_get"))
    full = msgpack.packb((0, (1, 1, 16), 0, (), ((16, b"a" * 8),)))
    # one datum too many: caught while decoding
    with pytest.raises(FrameDecodeError, match="bad repeat"):
        list(FrameDecoder().decode_batches(fn + full + msgpack.packb((-1, b"x", b"y")), 3))
    # a repeat before any full entry of its function
    with pytest.raises(FrameDecodeError, match="without a previous call"):
        list(FrameDecoder().decode_batches(fn + msgpack.packb((-1, b"x")), 2))
    # data that are not bytes: caught when the item is built (decode() builds them all)
    bad = fn + full + msgpack.packb((-1, 5))
    with pytest.raises(FrameDecodeError, match="bad repeat data"):
        list(FrameDecoder().decode(bad, 3))


def test_reader_reports_bad_repeat_data_as_corruption(tmp_path: Path) -> None:
    path = tmp_path / "bad.wrr"
    with JournalWriter(path, JournalHeader(module_sha256=""), background=False) as w:
        w.write_event(StartEvent(1, ("p",), 0))
        w.write_syscall(P1, "clock_time_get", (1, 1, 16), [], 0, [(16, b"a" * 8)])
        # a caller bug the writer cannot see: str data pack fine, as a str
        w.write_syscall(P1, "clock_time_get", (1, 1, 16), [], 0, [(16, "not bytes")])  # type: ignore[list-item]
        w.write_event(ExitEvent(1, 0, 0))
    got = []
    with pytest.raises(JournalCorrupt, match="bad repeat data"):
        with JournalReader(path) as r:
            for e in r:
                got.append(e)
    assert [type(e).__name__ for e in got] == ["StartEvent", "SyscallEntry"]


def _segment_ops(kind: int, count: int, variant: int, salt: int) -> list[object]:
    iov = (0x2000).to_bytes(4, "little") + (16).to_bytes(4, "little")
    ops: list[object] = []
    for i in range(count):
        if kind == 0:  # same data every time
            ops.append((P1, "fd_write", (4 + variant, 0x1000, 1, 0x1ff0), [iov, b"x" * 16], 0,
                        [(0x1ff0, (16).to_bytes(4, "little"))], False))
        elif kind == 1:  # changing data
            ops.append((P1, "clock_time_get", (variant, 1000, 0x1230), [], 0,
                        [(0x1230, (salt * 1000 + i).to_bytes(8, "little"))], False))
        else:  # two writes, data changing every few calls
            ops.append((P1, "fd_read", (4, 0x1000, 1, 0x1ff4 + variant), [iov], 0,
                        [(0x2000, bytes([(i // 3) % 256]) * 16),
                         (0x1ff4 + variant, (16).to_bytes(4, "little"))], False))
    return ops


segments = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 40), st.integers(0, 1)),
                    max_size=12)


@settings(max_examples=40, deadline=None)
@given(segments, st.sampled_from([300, 2000, 1 << 20]))
def test_cursor_walks_the_entries_the_reader_gives(tmp_path_factory: pytest.TempPathFactory,
                                                   segs: list[tuple[int, int, int]],
                                                   frame_bytes: int) -> None:
    ops: list[object] = [StartEvent(1, ("p",), 0)]
    for n, (kind, count, variant) in enumerate(segs):
        ops += _segment_ops(kind, count, variant, n)
    ops.append(ExitEvent(1, 0, 0))
    path = tmp_path_factory.mktemp("walk") / "j.wrr"
    model = write_stream(path, ops, frame_bytes=frame_bytes, check_every=1)
    syscalls = [e for e in model.entries if isinstance(e, SyscallEntry)]
    with JournalReader(path) as r:
        assert list(r) == model.entries
    with JournalReader(path) as r:
        cursor = JournalCursor(batches=r.batches())
        for k, want in enumerate(syscalls):
            assert cursor.peek() == want
            assert cursor.consumed == k
            cursor.take()
            if k % 7 == 0:  # the history a report would show here
                assert cursor.recent(5) == syscalls[max(0, k - 4):k + 1]
                assert cursor.recent(5, skip=1) == syscalls[max(0, k - 5):k]
        assert cursor.peek() is None
        assert cursor.ending == ExitEvent(1, 0, 0)
