"""Round trips: what the writer is given is exactly what the reader returns."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from journal_helpers import (
    FUNCTIONS,
    P1,
    THRESHOLD,
    WASIX,
    call,
    calls,
    events,
    headers,
    make_header,
    read_prefix,
    write_stream,
)

from wasi_rr.journal import (
    Call,
    CtxEvent,
    InputDigest,
    JournalHeader,
    JournalReader,
    JournalTruncated,
    JournalWriteError,
    JournalWriter,
    StartEvent,
    open_journal,
)
from wasi_rr.journal.records import append_call, encode_call, parse_call, record_size

ops = st.lists(st.one_of(calls(), events), max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops, header=headers, frame_bytes=st.sampled_from([16, 64, 512, 1 << 20]),
       embed=st.booleans(), threshold=st.sampled_from([THRESHOLD, None]))
def test_round_trip_every_entry_kind(ops: list[object], header: JournalHeader,
                                     frame_bytes: int, embed: bool,
                                     threshold: int | None) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "j.wrr"
        module = b"\x00asm\x01\x00\x00\x00" + bytes(frame_bytes % 7) if embed else None
        model = write_stream(path, ops, header=header, module=module,
                             frame_bytes=frame_bytes, input_hash_threshold=threshold)
        with open_journal(path) as r:
            assert list(r) == model.entries
            assert r.stats.summary["syscalls"] == model.calls
            assert r.stats.summary["events"] == model.events
            h = r.header
            assert (h.argv, h.env, h.preopens, h.options, h.meta, h.module_name,
                    h.redacted_env, h.functions) == (
                header.argv, header.env, header.preopens, header.options, header.meta,
                header.module_name, header.redacted_env, FUNCTIONS)
            assert h.input_hash_threshold == threshold
            assert h.module_embedded is embed
            assert r.module_bytes() == module
            if module is not None:
                assert h.module_sha256 == hashlib.sha256(module).hexdigest()


@settings(max_examples=200, deadline=None)
@given(c=calls())
def test_append_call_is_the_reference_encoding(c: tuple[Call, bool]) -> None:
    """The recorders' path (``append_call``, several extends) makes the same bytes as
    ``encode_call``, and ``parse_call`` splits them back."""
    call_, _ = c
    fid = FUNCTIONS.index(f"{call_.module}::{call_.name}")
    ref = encode_call(fid, call_.params, call_.inputs, call_.errno, call_.writes, call_.stdio)
    buf = bytearray(b"pre")
    append_call(buf, fid, call_.stdio, call_.params, call_.errno, call_.inputs, call_.writes)
    assert bytes(buf[3:]) == ref
    assert record_size(ref, 0, len(ref)) == len(ref)
    raw = parse_call(ref, 0, len(ref), len(FUNCTIONS))
    assert (raw.fid, raw.flags, raw.params, raw.inputs, raw.errno, raw.writes) == (
        fid, call_.stdio, call_.params, call_.inputs, call_.errno, call_.writes)


def test_big_inputs_are_hashed_unless_stdio_or_kept(tmp_path: Path) -> None:
    big = bytes(5000)
    iov = (0, b"\x00\x10\0\0\x88\x13\0\0")
    nw = ((8, b"\x88\x13\0\0"),)
    with JournalWriter(tmp_path / "j.wrr", make_header(module_sha256="ab" * 32)) as w:
        w.write_call(call("fd_write", (3, 0, 1, 8), (iov, (0x1000, big)), 0, nw))
        w.write_call(call("fd_write", (1, 0, 1, 8), (iov, (0x1000, big)), 0, nw, stdio=1))
        w.write_call(call("fd_write", (2, 0, 1, 8), (iov, (0x1000, big)), 0, nw, stdio=2))
        w.write_call(call("fd_write", (3, 0, 1, 8), (iov, (0x1000, big)), 0, nw),
                     keep_inputs=True)
    with open_journal(tmp_path / "j.wrr") as r:
        a, b, c, d = list(r)
        assert r.module_bytes() is None and not r.header.module_embedded
        assert r.header.input_hash_threshold == 4096
    assert isinstance(a, Call) and isinstance(b, Call)
    assert a.inputs[0] == iov and a.inputs[1] == (0x1000, InputDigest.of(big))
    digest = a.inputs[1][1]
    assert isinstance(digest, InputDigest)
    assert digest.matches(big) and not digest.matches(bytes(4999))
    assert not digest.matches(b"\1" + bytes(4999)) and len(digest) == 5000
    assert (a.stdio, b.stdio, c.stdio, d.stdio) == (0, 1, 2, 0)
    for kept in (b, c, d):
        assert isinstance(kept, Call) and kept.inputs == (iov, (0x1000, big))
    # 40 bytes stand for the 5000: the digest record is small
    assert Path(tmp_path / "j.wrr").stat().st_size < 3 * 5000


def test_processes_and_ctx(tmp_path: Path) -> None:
    path = tmp_path / "j.wrr"
    with JournalWriter(path, make_header(), background=False) as w:
        w.write_call(call("sched_yield"))
        w.write_event(StartEvent(7, ("x",), 0))
        w.write_call(call("sched_yield"))
        w.set_process(7, 100)
        w.write_call(call("sched_yield"))
        w.write_call(call("sched_yield"))
        w.set_process(9, 5)
        w.write_call(call("sched_yield"))
        w.set_process(7, 102)
        w.write_call(call("sched_yield"))
    got = [(e.pid, e.seq) for e in open_journal(path) if isinstance(e, Call)]
    assert got == [(0, 0), (7, 0), (7, 100), (7, 101), (9, 5), (7, 102)]
    ctx = [e for e in open_journal(path) if isinstance(e, CtxEvent)]
    assert ctx == [CtxEvent(7, 100), CtxEvent(9, 5), CtxEvent(7, 102)]


def test_same_name_in_two_modules(tmp_path: Path) -> None:
    path = tmp_path / "j.wrr"
    with JournalWriter(path, make_header()) as w:
        for m in (WASIX, P1, WASIX, P1):
            w.write_call(call("fd_renumber" if m == P1 else "fd_dup", (1, 2) if m == P1
                              else (1, 64), module=m))
    assert [(e.module, e.name) for e in open_journal(path)] == [
        (WASIX, "fd_dup"), (P1, "fd_renumber"), (WASIX, "fd_dup"), (P1, "fd_renumber")]


def test_functions_are_numbered_by_the_header(tmp_path: Path) -> None:
    """Records carry the index in ``header.functions``: a journal with its own short
    list reads back by that list, and a function it does not list cannot be written."""
    path = tmp_path / "j.wrr"
    funcs = [f"{P1}::random_get", f"{P1}::sched_yield"]
    with JournalWriter(path, make_header(functions=funcs)) as w:
        w.write_call(call("sched_yield"))
        w.write_call(call("random_get", (64, 4), (), 0, ((64, b"abcd"),)))
        with pytest.raises(KeyError):
            w.write_call(call("fd_close", (3,)))
        assert w.function_id(P1, "sched_yield") == 1
    with open_journal(path) as r:
        assert r.header.functions == funcs
        assert [e.name for e in r] == ["sched_yield", "random_get"]


def test_module_hash_mismatch_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        JournalWriter(tmp_path / "j.wrr", make_header(module_sha256="00" * 32), module=b"x")


def test_write_after_close_raises(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path / "j.wrr", make_header())
    w.close()
    w.close()  # twice is harmless
    with pytest.raises(JournalWriteError, match="closed"):
        w.write_call(call("sched_yield"))
    with pytest.raises(JournalWriteError):
        w.write_event(StartEvent(1))
    with pytest.raises(JournalWriteError):
        w.set_process(1, 0)
    with pytest.raises(JournalWriteError):
        w.flush()


def test_reader_is_lazy_and_restartable(tmp_path: Path) -> None:
    path = tmp_path / "j.wrr"
    with JournalWriter(path, make_header(), frame_bytes=100, background=False) as w:
        for i in range(1000):
            w.write_call(call("fd_tell", (3, i), (), 0, ((i, b"\0" * 8),)))
    with JournalReader(path) as r:
        it = iter(r)
        first = next(it)
        assert isinstance(first, Call) and first.params == (3, 0)
        assert r.stats.frames == 1  # only the first frame has been read
        assert sum(1 for _ in r) == 1000  # a fresh iteration starts over
        assert r.stats.frames > 10
        frames = list(r.frames())
        assert len(frames) == r.stats.frames and [f.index for f in frames] == list(
            range(len(frames)))


def test_entries_read_back_can_be_written_again(tmp_path: Path) -> None:
    """A journal-rewriting tool passes InputDigests back in; they stay digests."""
    src = tmp_path / "a.wrr"
    with JournalWriter(src, make_header()) as w:
        w.write_call(call("fd_write", (3, 0, 1, 8), ((0, b"iov-iov!"), (16, bytes(5000))),
                          0, ((8, b"x\0\0\0"),)))
    (entry,) = list(open_journal(src))
    assert isinstance(entry, Call) and isinstance(entry.inputs[1][1], InputDigest)
    dst = tmp_path / "b.wrr"
    with JournalWriter(dst, make_header(), input_hash_threshold=None) as w:
        w.write_call(entry)
    assert list(open_journal(dst)) == [entry]


@pytest.mark.parametrize("bad", [
    call("fd_write", (1,), ((0, object()),)),  # not bytes
    call("fd_close", (2**64,)),  # a param beyond u64
    call("fd_close", (-1,)),
    call("fd_close", (3,), (), 0x1_0000),  # errno beyond 16 bits
    call("fd_close", (3,), (), -1),
    call("fd_close", tuple(range(33))),  # more params than a record holds
    call("fd_read", (3,), (), 0, ((2**32 - 2, b"abc"),)),  # write past 4 GiB
    call("fd_read", (3,), (), 0, ((2**32, b""),)),
    call("fd_write", (3,), ((2**32 - 1, b"ab"),)),  # input past 4 GiB
    call("fd_write", (3,), ((-5, b"ab"),)),
    call("fd_write", (3,), ((2**32 - 10, InputDigest(11, bytes(32))),)),
], ids=lambda c: "bad")
def test_unencodable_call_is_refused_and_the_journal_stays_readable(
        tmp_path: Path, bad: Call) -> None:
    """What the reader would refuse, the writer refuses first (``JournalWriteError``),
    appending nothing: the journal around it stays whole."""
    path = tmp_path / "bad.wrr"
    w = JournalWriter(path, make_header(), background=False)
    w.write_call(call("sched_yield"))
    w.flush()
    w.write_call(call("sched_yield"))
    with pytest.raises(JournalWriteError, match="could not be encoded"):
        w.write_call(bad)
    w.write_call(call("sched_yield"))
    w.close()
    got, exc = read_prefix(path)
    assert exc is None and [e.seq for e in got if isinstance(e, Call)] == [0, 1, 2]


def test_aborted_writer_reads_as_truncated(tmp_path: Path) -> None:
    path = tmp_path / "abort.wrr"
    w = JournalWriter(path, make_header(), background=False)
    w.write_event(StartEvent(1, ("a",)))
    w.write_call(call("sched_yield"))
    w.abort()
    w.abort()
    got, exc = read_prefix(path)
    assert isinstance(exc, JournalTruncated) and len(got) == 2  # appended records kept
