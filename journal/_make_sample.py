"""Generate ``corpus/journals/v1-sample.wrr``, the frozen format-1.0 sample.

The committed file is read by tests/journal/test_sample.py on every run: if a
change to the reader stops it from reading journals written by format 1.0, that
test fails. Regenerate it only when the format's *major* version changes (and
then keep the old file too). ``expected_entries()`` is what the file holds.

    python -m wasi_rr.journal._make_sample corpus/journals/v1-sample.wrr
"""

from __future__ import annotations

import sys
from pathlib import Path

from .entries import (
    Entry,
    ExitEvent,
    InputDigest,
    JournalHeader,
    Preopen,
    StartEvent,
    SyscallEntry,
)
from .writer import JournalWriter

P1 = "wasi_snapshot_preview1"
MODULE = b"\x00asm\x01\x00\x00\x00"  # the smallest valid module: header only
BIG_INPUT = bytes(range(256)) * 20  # 5120 bytes > 4096: stored as a digest


def sample_header() -> JournalHeader:
    return JournalHeader(
        module_sha256="",
        argv=["sample.wasm", "--flag", "héllo"],
        env=[("HOME", "/home/guest"), ("TOKEN", "xxxxxxxx")],
        preopens=[Preopen("/data", "read-only", "/srv/data"), Preopen("/tmp", "tmpfs", None)],
        options={"trap_unknown_imports": True},
        meta={"ticket": "WRR-1"},
        module_name="sample.wasm",
        redacted_env=["TOKEN"],
        wasi_rr_version="0.1.0",
        created_unix_ns=1_790_000_000_000_000_000,
    )


def _calls() -> list[tuple[str, tuple[int, ...], list[bytes], int, list[tuple[int, bytes]]]]:
    calls: list[tuple[str, tuple[int, ...], list[bytes], int, list[tuple[int, bytes]]]] = [
        ("args_sizes_get", (1000, 1004), [], 0, [(1000, b"\x03\x00\x00\x00"),
                                               (1004, b"\x1e\x00\x00\x00")]),
        ("fd_prestat_get", (3, 2000), [], 0, [(2000, b"\x00\x00\x00\x00\x05\x00\x00\x00")]),
        ("fd_prestat_get", (5, 2000), [], 8, []),
        ("path_open", (3, 1, 2100, 8, 0, 0xFFFF, 0xFFFF, 0, 2200), [b"a.txt"], 0,
         [(2200, b"\x06\x00\x00\x00")]),
        ("fd_read", (6, 2300, 1, 2400), [b"\x00\x30\x00\x00\x10\x00\x00\x00"], 0,
         [(0x3000, b"hello, journal!\n"), (2400, b"\x10\x00\x00\x00")]),
        ("random_get", (0x3100, 16), [], 0, [(0x3100, bytes(range(16)))]),
        ("fd_write", (6, 2300, 1, 2400), [b"\x00\x40\x00\x00\x00\x14\x00\x00", BIG_INPUT],
         0, [(2400, b"\x00\x14\x00\x00")]),
        ("fd_write", (1, 2300, 1, 2400), [b"\x00\x40\x00\x00\x00\x14\x00\x00", BIG_INPUT],
         0, [(2400, b"\x00\x14\x00\x00")]),
    ]
    t = 1_790_000_000_000_000_000
    for i in range(40):
        t += 2000 + (i * 37) % 500
        calls.append(("clock_time_get", (1, 1000, 2500), [], 0, [(2500, t.to_bytes(8, "little"))]))
    calls.append(("proc_exit", (3,), [], 0, []))
    return calls


def expected_entries() -> list[Entry]:
    """The entries the sample holds, as a reader must return them."""
    out: list[Entry] = [StartEvent(1, ("sample.wasm", "--flag", "héllo"), 1_790_000_000_000_000_000)]
    for seq, (name, params, inputs, errno, writes) in enumerate(_calls()):
        full = name == "fd_write" and params[0] == 1
        ins = tuple(b if (full or len(b) <= 4096) else InputDigest.of(b) for b in inputs)
        out.append(SyscallEntry(seq, P1, name, params, ins, errno, tuple(writes), 1))
    out.append(ExitEvent(1, 3, 123_456))
    return out


def write_sample(path: Path) -> None:
    with JournalWriter(path, sample_header(), module=MODULE, background=False,
                       frame_bytes=256, check_every=4) as w:
        w.write_event(StartEvent(1, ("sample.wasm", "--flag", "héllo"),
                                 1_790_000_000_000_000_000))
        for name, params, inputs, errno, writes in _calls():
            w.write_syscall(P1, name, params, inputs, errno, writes,
                            full_inputs=name == "fd_write" and params[0] == 1)
        w.write_event(ExitEvent(1, 3, 123_456))


if __name__ == "__main__":
    write_sample(Path(sys.argv[1] if len(sys.argv) > 1 else "corpus/journals/v1-sample.wrr"))
