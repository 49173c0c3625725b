"""Format versions: the frozen 2.0 sample stays readable entry by entry; the frozen
1.x samples are refused with one clear line saying how to re-record; newer minors
are skipped over, newer majors are refused clearly."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import msgpack
import pytest

from wasi_rr.journal import (
    FORMAT_MAJOR,
    FORMAT_MINOR,
    Call,
    CtxEvent,
    ExitEvent,
    ForkEvent,
    InputDigest,
    JournalHeader,
    JournalVersionError,
    SnapshotEvent,
    StartEvent,
    TrapEvent,
    open_journal,
)
from wasi_rr.journal._make_sample import (
    BIG_INPUT,
    FS_BLOB,
    MODULE,
    SNAPSHOT_BLOB,
    expected_entries,
    sample_header,
)
from wasi_rr.journal.events import event_to_wire
from wasi_rr.journal.framing import (
    FILE_MAGIC,
    PREFIX,
    Codec,
    FrameKind,
    encode_frame_header,
)
from wasi_rr.journal.header import header_to_wire
from wasi_rr.journal.records import encode_call, encode_event

JOURNALS = Path(__file__).resolve().parents[2] / "corpus" / "journals"
SAMPLE = JOURNALS / "v2.0-sample.wrr"
V1 = [(JOURNALS / "v1-sample.wrr", "1.0"), (JOURNALS / "v1.1-sample.wrr", "1.1")]
P1 = "wasi_snapshot_preview1"
WASIX = "wasix_32v1"
T0 = 1_790_000_000_000_000_000


def _clock(seq: int, t: int, pid: int = 1) -> Call:
    return Call(seq, P1, "clock_time_get", (1, 1000, 2500), (), 0,
                ((2500, t.to_bytes(8, "little")),), pid, 0)


def test_v2_0_sample_reads_back_entry_by_entry() -> None:
    """Hard-coded, not derived from ``_make_sample``: a change there cannot hide a
    change in what the frozen file means."""
    with open_journal(SAMPLE) as r:
        assert r.format_version == (2, 0)
        h = r.header
        assert h.argv == ["sample.wasm", "--flag", "héllo"]
        assert h.env == [("HOME", "/home/guest"), ("TOKEN", "********")]
        assert h.redacted_env == ["TOKEN"] and h.meta == {"ticket": "WRR-2"}
        assert h.options == {"trap_unknown_imports": True}
        assert [(p.guest, p.mode, p.host) for p in h.preopens] == [
            ("/data", "read-only", "/srv/data"), ("/tmp", "tmpfs", None)]
        assert h.module_name == "sample.wasm" and h.created_unix_ns == T0
        assert h.wasi_rr_version == "0.2.0" and h.input_hash_threshold == 4096
        assert h.functions[:3] == [f"{P1}::clock_time_get", f"{WASIX}::proc_fork",
                                   f"{P1}::fd_write"] and len(h.functions) == 10
        assert h.module_embedded and h.module_sha256 == hashlib.sha256(MODULE).hexdigest()
        assert r.module_bytes() == b"\x00asm\x01\x00\x00\x00"
        got = list(r)
        assert r.stats.frames == 11 and r.stats.summary["syscalls"] == 26
        assert r.stats.summary["events"] == 9 and r.stats.skipped_entries == 0

    it = iter(got)
    assert next(it) == StartEvent(1, ("sample.wasm", "--flag", "héllo"), T0)
    assert next(it) == Call(0, P1, "args_sizes_get", (1000, 1004), (), 0,
                            ((1000, b"\x03\0\0\0"), (1004, b"\x1e\0\0\0")), 1, 0)
    assert next(it) == Call(1, P1, "fd_prestat_get", (3, 2000), (), 0,
                            ((2000, b"\0\0\0\0\x05\0\0\0"),), 1, 0)
    assert next(it) == Call(2, P1, "fd_prestat_get", (5, 2000), (), 8, (), 1, 0)
    assert next(it) == Call(3, P1, "path_open", (3, 1, 2100, 5, 0, 0xFFFF, 0xFFFF, 0, 2200),
                            ((2100, b"a.txt"),), 0, ((2200, b"\x06\0\0\0"),), 1, 0)
    assert next(it) == Call(4, P1, "fd_read", (6, 2300, 1, 2400),
                            ((2300, b"\x00\x30\0\0\x10\0\0\0"),), 0,
                            ((0x3000, b"hello, journal!\n"), (2400, b"\x10\0\0\0")), 1, 0)
    assert next(it) == Call(5, P1, "random_get", (0x3100, 16), (), 0,
                            ((0x3100, bytes(range(16))),), 1, 0)
    digested = next(it)
    assert isinstance(digested, Call) and digested.seq == 6 and digested.stdio == 0
    assert digested.params == (6, 2300, 1, 2400)
    iov, (addr, digest) = digested.inputs
    assert iov == (2300, b"\x00\x40\0\0\x00\x14\0\0") and addr == 0x4000
    assert digest == InputDigest(5120, bytes.fromhex(
        "4345361085c730756d843f13849c50a9"
        "96fe2f1fac3a7ac05fb063bb743a423e"))
    stdout_big = next(it)
    assert isinstance(stdout_big, Call) and stdout_big.stdio == 1 and stdout_big.seq == 7
    assert stdout_big.inputs[1] == (0x4000, bytes(range(256)) * 20)  # stdout: in full
    assert next(it) == Call(8, P1, "fd_write", (2, 2300, 1, 2400),
                            ((2300, b"\x00\x50\0\0\x05\0\0\0"), (0x5000, b"oops\n")), 0,
                            ((2400, b"\x05\0\0\0"),), 1, 2)
    t = T0
    for i in range(10):
        t += 2000 + (i * 37) % 500
        assert next(it) == _clock(9 + i, t)
    assert t == T0 + 21665
    snap = next(it)
    assert snap == SnapshotEvent(1, 1, 19, "every", bytes(range(256)) * 8, b"frozen-fs" * 10,
                                 None, "ab" * 32, T0 + 1, {"pids": [1]})
    assert next(it) == Call(19, WASIX, "proc_fork", (1, 2600), (), 0,
                            ((2600, b"\x02\0\0\0"),), 1, 0)
    assert next(it) == ForkEvent(1, 2, 19)
    assert next(it) == StartEvent(2, ("sample.wasm", "--flag", "héllo"), T0 + 2)
    assert next(it) == Call(0, WASIX, "proc_fork", (1, 2600), (), 0,
                            ((2600, b"\0\0\0\0"),), 2, 0)
    assert next(it) == _clock(1, T0 + 50_000, pid=2)
    assert next(it) == CtxEvent(1, 20)
    assert next(it) == _clock(20, T0 + 60_000)
    assert next(it) == CtxEvent(2, 2)
    assert next(it) == Call(2, P1, "sched_yield", (), (), 0, (), 2, 0)
    assert next(it) == Call(3, P1, "proc_exit", (0,), (), 0, (), 2, 0)
    assert next(it) == ExitEvent(2, 0, 10)
    assert next(it) == CtxEvent(1, 21)
    assert next(it) == Call(21, P1, "fd_write", (1, 2300, 1, 2400),
                            ((2300, b"\x00\x50\0\0\x04\0\0\0"), (0x5000, b"bye\n")), 0,
                            ((2400, b"\x04\0\0\0"),), 1, 1)
    assert next(it) == TrapEvent(1, "wasm trap: wasm `unreachable` instruction executed",
                                 123_456)
    assert next(it, None) is None
    # and the generator's own expectations agree with the file
    assert got == expected_entries()
    assert (BIG_INPUT, SNAPSHOT_BLOB, FS_BLOB) == (bytes(range(256)) * 20,
                                                   bytes(range(256)) * 8, b"frozen-fs" * 10)
    want = sample_header()
    assert (want.argv, want.env, want.functions) == (h.argv, h.env, h.functions)


@pytest.mark.parametrize("path,version", V1, ids=["v1.0", "v1.1"])
def test_v1_samples_are_refused_with_a_re_record_message(path: Path, version: str) -> None:
    with pytest.raises(JournalVersionError) as info:
        open_journal(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert f"journal format {version} " in msg and "re-record it with `wasi-rr record`" in msg
    assert info.value.major == 1 and info.value.status == 126


@pytest.mark.parametrize("path,version", V1, ids=["v1.0", "v1.1"])
@pytest.mark.parametrize("command", [["replay"], ["replay", "--verify"], ["dump"],
                                     ["dump", "--json"], ["dump", "--stats"], ["dump", "--header"]])
def test_v1_samples_are_refused_by_the_cli(path: Path, version: str,
                                           command: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "wasi_rr", *command, str(path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 126, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("wasi-rr: error: ")
    assert f"journal format {version} " in proc.stderr and "re-record" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def _frame(kind: int, raw: bytes, first: int = 0) -> bytes:
    return encode_frame_header(kind, Codec.STORED, 0, first, len(raw), raw) + raw


def _handmade(path: Path, major: int, minor: int) -> None:
    functions = [f"{P1}::sched_yield"]
    header = JournalHeader(module_sha256="00" * 32, functions=functions)
    wire = header_to_wire(header)
    wire["format"] = [major, minor]
    wire["from_the_future"] = {"x": 1}
    records = [
        encode_call(0, (), (), 0, ()),
        # an event kind of a later minor, with fields no one knows
        encode_event(msgpack.packb(["hologram", {"pid": 1, "what": b"\0" * 8}])),
        # a known kind with an extra field a later minor might add
        encode_event(msgpack.packb(["exit", {"pid": 1, "status": 0, "color": "blue"}])),
        encode_call(0, (), (), 52, ()),
    ]
    end = {"frames": 1, "syscalls": 2, "events": 2, "raw_bytes": 0, "wall_ns": 1}
    data = (PREFIX.pack(FILE_MAGIC, major, minor)
            + _frame(FrameKind.HEADER, msgpack.packb(wire, use_bin_type=True))
            + _frame(FrameKind.ENTRIES, b"".join(records))
            + _frame(77, b"a frame kind of a later minor")
            + _frame(FrameKind.END, msgpack.packb(end), first=1))
    path.write_bytes(data)


def test_newer_minor_skips_unknown_kinds(tmp_path: Path) -> None:
    path = tmp_path / "future.wrr"
    _handmade(path, FORMAT_MAJOR, FORMAT_MINOR + 1)
    with open_journal(path) as r:
        assert r.header.extra == {"from_the_future": {"x": 1}}
        got = list(r)
        assert got == [Call(0, P1, "sched_yield", (), (), 0, (), 0, 0), ExitEvent(1, 0),
                       Call(1, P1, "sched_yield", (), (), 52, (), 0, 0)]
        assert r.stats.skipped_entries == 1


def test_newer_major_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.wrr"
    _handmade(path, FORMAT_MAJOR + 1, 0)
    with pytest.raises(JournalVersionError, match="newer than this wasi-rr supports"):
        open_journal(path)


def test_event_wire_form_is_a_kind_and_a_map() -> None:
    """The frozen wire form of events: ``[kind, {fields}]`` (docs/journal-format.md)."""
    assert msgpack.unpackb(event_to_wire(CtxEvent(2, 7))) == ["ctx", {"pid": 2, "seq": 7}]
    assert msgpack.unpackb(event_to_wire(ExitEvent(1, 3, 9))) == [
        "exit", {"pid": 1, "status": 3, "elapsed_ns": 9}]
    assert msgpack.unpackb(event_to_wire(ExitEvent(1, 3, 9, True)))[1]["interrupted"] is True


def test_reading_and_dumping_never_import_wasmtime() -> None:
    """A journal can be read and dumped on a machine without a wasm runtime."""
    code = (
        "import io, sys\n"
        "from wasi_rr.journal import open_journal\n"
        "from wasi_rr.dump import dump\n"
        f"list(open_journal({str(SAMPLE)!r}))\n"
        f"dump({str(SAMPLE)!r}, out=io.StringIO())\n"
        f"dump({str(SAMPLE)!r}, as_json=True, out=io.StringIO())\n"
        f"dump({str(SAMPLE)!r}, stats=True, out=io.StringIO())\n"
        f"dump({str(SAMPLE)!r}, header=True, out=io.StringIO())\n"
        "assert 'wasmtime' not in sys.modules, 'wasmtime was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
