"""Generate the frozen sample journals under ``corpus/journals/``.

``v1-sample.wrr`` (format 1.0: syscalls, repeats, digests, start/exit) and
``v1.1-sample.wrr`` (format 1.1: interleaved processes, fork and snapshot
entries) are committed and read by tests/journal/test_compat.py on every run: if
a reader change stops reading files of an older minor version, that test fails.
Never regenerate a sample for a later version; add a new one.
``expected_entries()`` / ``expected_entries_v1_1()`` are what they hold.

    python -m wasi_rr.journal._make_sample 1.1 corpus/journals/v1.1-sample.wrr
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .entries import (
    Entry,
    ExitEvent,
    ForkEvent,
    InputDigest,
    JournalHeader,
    Preopen,
    SnapshotEvent,
    StartEvent,
    SyscallEntry,
)
from .writer import JournalWriter

P1 = "wasi_snapshot_preview1"
WASIX = "wasix_32v1"
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




# -- format 1.1: processes, fork and snapshot entries -------------------------------

SNAPSHOT_BLOB = bytes(range(256)) * 8
FS_BLOB = b"frozen-fs" * 10


_Call = tuple[str, str, tuple[int, ...], list[bytes], int, list[tuple[int, bytes]]]


def _v11_script() -> list[tuple[str, Any]]:
    """(what, value) steps; the writer and the expected entries both follow it."""
    clock: _Call = (P1, "clock_time_get", (1, 1000, 2500), [], 0, [(2500, (7).to_bytes(8, "little"))])
    return [
        ("event", StartEvent(1, ("forker.wasm",), 1_790_000_000_000_000_000)),
        ("call", clock),
        ("call", (P1, "random_get", (0x3100, 4), [], 0, [(0x3100, b"\x01\x02\x03\x04")])),
        ("event", SnapshotEvent(1, 1, 2, "every", SNAPSHOT_BLOB, FS_BLOB, None,
                                "ab" * 32, 1_790_000_000_000_000_001, {"pids": (1,)})),
        ("call", (WASIX, "proc_fork", (1, 2600), [], 0, [(2600, b"\x02\x00\x00\x00")])),
        ("event", ForkEvent(1, 2, 2)),
        ("event", StartEvent(2, ("forker.wasm",), 1_790_000_000_000_000_002)),
        ("call", (WASIX, "proc_fork", (1, 2600), [], 0, [(2600, b"\x00\x00\x00\x00")])),
        ("call", clock),
        ("process", (1, 3)),
        ("call", clock),
        ("process", (2, 2)),
        ("call", (P1, "proc_exit", (0,), [], 0, [])),
        ("event", ExitEvent(2, 0, 10)),
        ("process", (1, 4)),
        ("call", (P1, "proc_exit", (7,), [], 0, [])),
        ("event", ExitEvent(1, 7, 20)),
    ]


def expected_entries_v1_1() -> list[Entry]:
    """The entries ``corpus/journals/v1.1-sample.wrr`` holds."""
    out: list[Entry] = []
    pid, seq = 0, 0
    for what, value in _v11_script():
        if what == "event":
            assert isinstance(value, (StartEvent, ExitEvent, SnapshotEvent, ForkEvent))
            if isinstance(value, StartEvent):
                pid, seq = value.pid, 0
            out.append(value)
        elif what == "process":
            pid, seq = value
        else:
            module, name, params, inputs, errno, writes = value
            out.append(SyscallEntry(seq, module, name, params, tuple(inputs), errno,
                                    tuple(writes), pid))
            seq += 1
    return out


def write_sample_v1_1(path: Path) -> None:
    header = JournalHeader(module_sha256="", argv=["forker.wasm"], module_name="forker.wasm",
                           wasi_rr_version="0.1.0", created_unix_ns=1_790_000_000_000_000_000)
    with JournalWriter(path, header, module=MODULE, background=False, frame_bytes=256,
                       check_every=3) as w:
        for what, value in _v11_script():
            if what == "event":
                w.write_event(value)
            elif what == "process":
                w.set_process(*value)
            else:
                module, name, params, inputs, errno, writes = value
                w.write_syscall(module, name, params, inputs, errno, writes)


if __name__ == "__main__":
    # python -m wasi_rr.journal._make_sample [1.0|1.1] PATH
    which = sys.argv[1] if len(sys.argv) > 1 else "1.1"
    default = f"corpus/journals/v{'1' if which == '1.0' else '1.1'}-sample.wrr"
    target = Path(sys.argv[2] if len(sys.argv) > 2 else default)
    (write_sample if which == "1.0" else write_sample_v1_1)(target)
