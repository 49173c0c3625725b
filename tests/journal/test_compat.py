"""Format versions: the frozen v1 sample stays readable; newer minors are skipped over,
newer majors are refused clearly."""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest

from wasi_rr.journal import (
    FORMAT_MAJOR,
    FORMAT_MINOR,
    JournalHeader,
    JournalVersionError,
    Call,
    open_journal,
)
from wasi_rr.journal._make_sample import MODULE, expected_entries, sample_header
from wasi_rr.journal.framing import FILE_MAGIC, PREFIX, Codec, FrameKind, encode_frame_header
from wasi_rr.journal.header import header_to_wire

SAMPLE = Path(__file__).resolve().parents[2] / "corpus" / "journals" / "v1-sample.wrr"
P1 = "wasi_snapshot_preview1"


def test_v1_sample_is_still_readable() -> None:
    with open_journal(SAMPLE) as r:
        assert r.format_version == (1, 0)
        want = sample_header()
        h = r.header
        assert (h.argv, h.env, h.preopens, h.options, h.meta, h.redacted_env,
                h.module_name, h.created_unix_ns) == (
            want.argv, want.env, want.preopens, want.options, want.meta, want.redacted_env,
            want.module_name, want.created_unix_ns)
        assert r.module_bytes() == MODULE
        assert list(r) == expected_entries()
        assert r.stats.frames > 3


def _frame(kind: int, raw: bytes, count: int = 0, first: int = 0) -> bytes:
    return encode_frame_header(kind, Codec.STORED, count, first, len(raw), raw) + raw


def _handmade(path: Path, major: int, minor: int) -> None:
    header = JournalHeader(module_sha256="00" * 32)
    wire = header_to_wire(header)
    wire["format"] = [major, minor]
    wire["from_the_future"] = {"x": 1}
    objs = [
        ("fn", 0, P1, "sched_yield"),
        ("snapshot", {"id": 1, "memory": b"\0" * 8}),  # an entry kind of a later minor
        ("blob-ref", msgpack.ExtType(9, b"an ext type of a later minor")),
        (0, (), 0, (), (), "a sixth field a later minor might add"),
        (0, (), 52, (), ()),
    ]
    raw = b"".join(msgpack.packb(o, use_bin_type=True) for o in objs)
    data = (PREFIX.pack(FILE_MAGIC, major, minor)
            + _frame(FrameKind.HEADER, msgpack.packb(wire, use_bin_type=True))
            + _frame(FrameKind.ENTRIES, raw, count=len(objs))
            + _frame(77, b"a frame kind of a later minor")
            + _frame(FrameKind.END, msgpack.packb({"objects": len(objs)}), first=len(objs)))
    path.write_bytes(data)


def test_newer_minor_skips_unknown_kinds(tmp_path: Path) -> None:
    path = tmp_path / "future.wrr"
    _handmade(path, FORMAT_MAJOR, FORMAT_MINOR + 1)
    with open_journal(path) as r:
        assert r.header.extra == {"from_the_future": {"x": 1}}
        got = list(r)
        assert got == [Call(0, P1, "sched_yield", (), (), 0, (), 0),
                       Call(1, P1, "sched_yield", (), (), 52, (), 0)]
        assert r.stats.skipped_entries == 2


def test_newer_major_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.wrr"
    _handmade(path, FORMAT_MAJOR + 1, 0)
    with pytest.raises(JournalVersionError, match="newer than this wasi-rr supports"):
        open_journal(path)


SAMPLE_1_1 = SAMPLE.parent / "v1.1-sample.wrr"


def test_v1_1_sample_is_still_readable() -> None:
    from wasi_rr.journal._make_sample import expected_entries_v1_1

    with open_journal(SAMPLE_1_1) as r:
        assert r.format_version == (1, 1)
        assert r.header.argv == ["forker.wasm"] and r.module_bytes() == MODULE
        assert list(r) == expected_entries_v1_1()


def test_reading_and_dumping_never_import_wasmtime() -> None:
    """A journal can be read and dumped on a machine without a wasm runtime."""
    import subprocess
    import sys

    code = (
        "import io, sys\n"
        "from wasi_rr.journal import open_journal\n"
        "from wasi_rr.dump import dump\n"
        f"list(open_journal({str(SAMPLE_1_1)!r}))\n"
        f"dump({str(SAMPLE_1_1)!r}, out=io.StringIO())\n"
        f"dump({str(SAMPLE_1_1)!r}, as_json=True, out=io.StringIO())\n"
        "assert 'wasmtime' not in sys.modules, 'wasmtime was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
