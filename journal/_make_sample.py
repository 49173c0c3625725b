"""Generate the frozen format-2.0 sample journal under ``corpus/journals/``.

``v2.0-sample.wrr`` is committed and read by tests/journal/test_compat.py (entry
by entry, against hard-coded expectations) and tests/journal/test_dump.py on
every run: if a reader change stops reading files of an older minor version of
format 2, those tests fail. Never regenerate a committed sample for a later
version; add a new one. ``expected_entries()`` is what it holds, and ``write_sample``
is how it was written (kept so the file's making can be read and checked).

The v1 samples beside it (``v1-sample.wrr``, ``v1.1-sample.wrr``, msgpack
entries) were written by wasi-rr 0.1 and are frozen too: this wasi-rr refuses
them with a ``JournalVersionError`` that says how to re-record; nothing here can
write them any more.

    python -m wasi_rr.journal._make_sample 2.0 corpus/journals/v2.0-sample.wrr

What the sample holds: calls of both modules numbered by the header's own
``functions`` list (not the signature table's order), an input stored as a
digest, stdout and stderr writes kept in full (flags), a snapshot event, a
second process started by a fork, ``ctx`` switches between the two processes,
an exit, and a trap ending the first process.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .entries import Entry, JournalHeader, Preopen
from .events import CtxEvent, ExitEvent, ForkEvent, SnapshotEvent, StartEvent, TrapEvent
from .records import Call, InputDigest
from .writer import JournalWriter

P1 = "wasi_snapshot_preview1"
WASIX = "wasix_32v1"
MODULE = b"\x00asm\x01\x00\x00\x00"  # the smallest valid module: header only
BIG_INPUT = bytes(range(256)) * 20  # 5120 bytes > 4096: stored as a digest
SNAPSHOT_BLOB = bytes(range(256)) * 8
FS_BLOB = b"frozen-fs" * 10
T0 = 1_790_000_000_000_000_000

FUNCTIONS = [
    f"{P1}::clock_time_get", f"{WASIX}::proc_fork", f"{P1}::fd_write", f"{P1}::args_sizes_get",
    f"{P1}::fd_prestat_get", f"{P1}::path_open", f"{P1}::fd_read", f"{P1}::random_get",
    f"{P1}::proc_exit", f"{P1}::sched_yield",
]
"""The sample's own function numbering (deliberately not the table's order)."""


def sample_header() -> JournalHeader:
    return JournalHeader(
        module_sha256="",
        argv=["sample.wasm", "--flag", "héllo"],
        env=[("HOME", "/home/guest"), ("TOKEN", "********")],
        preopens=[Preopen("/data", "read-only", "/srv/data"), Preopen("/tmp", "tmpfs", None)],
        options={"trap_unknown_imports": True},
        meta={"ticket": "WRR-2"},
        module_name="sample.wasm",
        redacted_env=["TOKEN"],
        functions=list(FUNCTIONS),
        wasi_rr_version="0.2.0",
        created_unix_ns=T0,
    )


def _c(name: str, params: tuple[int, ...], inputs: tuple[tuple[int, Any], ...] = (),
       errno: int = 0, writes: tuple[tuple[int, bytes], ...] = (), *, module: str = P1,
       stdio: int = 0) -> Call:
    return Call(0, module, name, params, inputs, errno, writes, 0, stdio)


def _clock(t: int) -> Call:
    return _c("clock_time_get", (1, 1000, 2500), (), 0, ((2500, t.to_bytes(8, "little")),))


def _script() -> list[tuple[str, Any]]:
    """(what, value) steps: ("event", Event), ("ctx", (pid, seq)) or ("call", (Call, pid))."""
    iov_big = (2300, b"\x00\x40\x00\x00\x00\x14\x00\x00")
    steps: list[tuple[str, Any]] = [
        ("event", StartEvent(1, ("sample.wasm", "--flag", "héllo"), T0)),
        ("call", _c("args_sizes_get", (1000, 1004), (), 0,
                    ((1000, b"\x03\x00\x00\x00"), (1004, b"\x1e\x00\x00\x00")))),
        ("call", _c("fd_prestat_get", (3, 2000), (), 0,
                    ((2000, b"\x00\x00\x00\x00\x05\x00\x00\x00"),))),
        ("call", _c("fd_prestat_get", (5, 2000), (), 8)),
        ("call", _c("path_open", (3, 1, 2100, 5, 0, 0xFFFF, 0xFFFF, 0, 2200), ((2100, b"a.txt"),),
                    0, ((2200, b"\x06\x00\x00\x00"),))),
        ("call", _c("fd_read", (6, 2300, 1, 2400), ((2300, b"\x00\x30\x00\x00\x10\x00\x00\x00"),),
                    0, ((0x3000, b"hello, journal!\n"), (2400, b"\x10\x00\x00\x00")))),
        ("call", _c("random_get", (0x3100, 16), (), 0, ((0x3100, bytes(range(16))),))),
        ("call", _c("fd_write", (6, 2300, 1, 2400), (iov_big, (0x4000, BIG_INPUT)), 0,
                    ((2400, b"\x00\x14\x00\x00"),))),
        ("call", _c("fd_write", (1, 2300, 1, 2400), (iov_big, (0x4000, BIG_INPUT)), 0,
                    ((2400, b"\x00\x14\x00\x00"),), stdio=1)),
        ("call", _c("fd_write", (2, 2300, 1, 2400), ((2300, b"\x00\x50\x00\x00\x05\x00\x00\x00"),
                                                     (0x5000, b"oops\n")), 0,
                    ((2400, b"\x05\x00\x00\x00"),), stdio=2)),
    ]
    t = T0
    for i in range(10):
        t += 2000 + (i * 37) % 500
        steps.append(("call", _clock(t)))
    steps += [
        ("event", SnapshotEvent(1, 1, 19, "every", SNAPSHOT_BLOB, FS_BLOB, None, "ab" * 32,
                                T0 + 1, {"pids": [1]})),
        ("call", _c("proc_fork", (1, 2600), (), 0, ((2600, b"\x02\x00\x00\x00"),),
                    module=WASIX)),
        ("event", ForkEvent(1, 2, 19)),
        ("event", StartEvent(2, ("sample.wasm", "--flag", "héllo"), T0 + 2)),
        ("call", _c("proc_fork", (1, 2600), (), 0, ((2600, b"\x00\x00\x00\x00"),),
                    module=WASIX)),
        ("call", _clock(T0 + 50_000)),
        ("event", CtxEvent(1, 20)),
        ("call", _clock(T0 + 60_000)),
        ("event", CtxEvent(2, 2)),
        ("call", _c("sched_yield", ())),
        ("call", _c("proc_exit", (0,))),
        ("event", ExitEvent(2, 0, 10)),
        ("event", CtxEvent(1, 21)),
        ("call", _c("fd_write", (1, 2300, 1, 2400), ((2300, b"\x00\x50\x00\x00\x04\x00\x00\x00"),
                                                     (0x5000, b"bye\n")), 0,
                    ((2400, b"\x04\x00\x00\x00"),), stdio=1)),
        ("event", TrapEvent(1, "wasm trap: wasm `unreachable` instruction executed", 123_456)),
    ]
    return steps


def expected_entries() -> list[Entry]:
    """The entries ``v2.0-sample.wrr`` holds, as a reader must return them."""
    out: list[Entry] = []
    pid = 0
    seqs: dict[int, int] = {}
    for what, value in _script():
        if what == "event":
            if isinstance(value, StartEvent):
                pid, seqs[value.pid] = value.pid, 0
            elif isinstance(value, CtxEvent):
                pid, seqs[value.pid] = value.pid, value.seq
            out.append(value)
            continue
        c: Call = value
        seq = seqs.get(pid, 0)
        seqs[pid] = seq + 1
        keep = c.stdio != 0
        ins = tuple((a, d if keep or isinstance(d, InputDigest) or len(d) <= 4096
                    else InputDigest.of(d)) for a, d in c.inputs)
        out.append(Call(seq, c.module, c.name, c.params, ins, c.errno, c.writes, pid, c.stdio))
    return out


def write_sample(path: Path) -> None:
    """Small frames (several per process switch) and no timer: the layout is fixed."""
    with JournalWriter(path, sample_header(), module=MODULE, background=False,
                       frame_bytes=256) as w:
        for what, value in _script():
            if what == "event":
                w.write_event(value)
            else:
                w.write_call(value)


if __name__ == "__main__":
    # python -m wasi_rr.journal._make_sample 2.0 PATH
    which = sys.argv[1] if len(sys.argv) > 1 else "2.0"
    if which != "2.0":
        raise SystemExit(f"only the 2.0 sample can be written by this wasi-rr (asked: {which}); "
                         "the 1.x samples are frozen")
    write_sample(Path(sys.argv[2] if len(sys.argv) > 2 else "corpus/journals/v2.0-sample.wrr"))
