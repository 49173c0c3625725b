"""Shared helpers for the journal tests: hypothesis strategies and file builders."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from hypothesis import strategies as st

from wasi_rr.journal import (
    Entry,
    ExitEvent,
    ForkEvent,
    InputDigest,
    JournalHeader,
    JournalReader,
    JournalTruncated,
    JournalWriter,
    Preopen,
    SnapshotEvent,
    StartEvent,
    Call,
    TrapEvent,
)

P1 = "wasi_snapshot_preview1"
WASIX = "wasix_32v1"
THRESHOLD = 64  # small hash threshold so hypothesis reaches the digest path

u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
names = st.sampled_from(["fd_write", "fd_read", "clock_time_get", "path_open", "fd_dup",
                         "random_get", "proc_exit", "poll_oneoff"])
modules = st.sampled_from([P1, WASIX])
small_bytes = st.binary(max_size=96)


@st.composite
def syscall_args(draw: st.DrawFn) -> tuple[str, str, tuple[int, ...], list[bytes], int,
                                           list[tuple[int, bytes]], bool]:
    module = draw(modules)
    name = draw(names)
    params = tuple(draw(st.lists(st.one_of(u32, u64), max_size=9)))
    inputs = draw(st.lists(small_bytes, max_size=3))
    errno = draw(st.integers(0, 76))
    writes = draw(st.lists(st.tuples(u32, small_bytes), max_size=3))
    full = draw(st.booleans())
    return module, name, params, inputs, errno, writes, full


events = st.one_of(
    st.builds(StartEvent, st.integers(0, 2**31), st.lists(st.text(max_size=8), max_size=3)
              .map(tuple), u64),
    st.builds(ExitEvent, st.integers(0, 2**31), u32, u64),
    st.builds(TrapEvent, st.integers(0, 2**31), st.text(max_size=40), u64),
    st.builds(ForkEvent, st.integers(0, 2**31), st.integers(0, 2**31), u32),
    st.builds(SnapshotEvent, st.integers(0, 2**31), st.integers(1, 99), u32,
              st.sampled_from(["every", "stdin", "exit"]), st.binary(max_size=64),
              st.binary(max_size=64), st.one_of(st.none(), st.integers(1, 99)),
              st.text(max_size=8), u64,
              st.dictionaries(st.text(max_size=4), st.integers(0, 9), max_size=2)),
)

headers = st.builds(
    JournalHeader,
    module_sha256=st.just(""),
    argv=st.lists(st.text(max_size=10), max_size=4),
    env=st.lists(st.tuples(st.text(min_size=1, max_size=6), st.text(max_size=10)), max_size=4),
    preopens=st.lists(st.builds(Preopen, st.text(min_size=1, max_size=8),
                                st.sampled_from(["ro", "rw", "tmpfs"]),
                                st.one_of(st.none(), st.text(max_size=8))), max_size=3),
    options=st.dictionaries(st.text(max_size=6), st.one_of(st.booleans(), st.integers(0, 99),
                                                           st.text(max_size=5)), max_size=3),
    meta=st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=3),
    module_name=st.text(max_size=10),
    redacted_env=st.lists(st.text(max_size=5), max_size=2),
)


class Model:
    """What a reader must return for a sequence of writer calls."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.pid = 0
        self.seq = 0

    def syscall(self, module: str, name: str, params: tuple[int, ...], inputs: list[bytes],
                errno: int, writes: list[tuple[int, bytes]], full: bool,
                threshold: int | None = THRESHOLD) -> None:
        ins = tuple(b if (full or threshold is None or len(b) <= threshold
                          or sum(map(len, inputs)) <= threshold) else InputDigest.of(b)
                    for b in inputs)
        self.entries.append(Call(self.seq, module, name, tuple(params), ins, errno,
                                         tuple((a, d) for a, d in writes), self.pid))
        self.seq += 1

    def event(self, ev: Entry) -> None:
        if isinstance(ev, StartEvent):
            self.pid, self.seq = ev.pid, 0
        self.entries.append(ev)


def write_stream(path: Path, ops: Iterable[object], *, header: JournalHeader | None = None,
                 module: bytes | None = b"\x00asm\x01\x00\x00\x00", **kw: object) -> Model:
    """Write ``ops`` (syscall arg tuples or events) and return the model of the result."""
    model = Model()
    kw.setdefault("background", False)
    kw.setdefault("input_hash_threshold", THRESHOLD)
    with JournalWriter(path, header or JournalHeader(module_sha256=""), module=module,
                       **kw) as w:  # type: ignore[arg-type]
        for op in ops:
            if isinstance(op, tuple) and len(op) == 7:
                w.write_syscall(*op[:6], full_inputs=op[6])
                model.syscall(*op, threshold=kw["input_hash_threshold"])  # type: ignore[arg-type]
            else:
                w.write_event(op)
                model.event(op)  # type: ignore[arg-type]
    return model


def read_prefix(path: Path) -> tuple[list[Entry], BaseException | None]:
    """Read every entry; return (entries, the exception that stopped the read or None)."""
    got: list[Entry] = []
    try:
        with JournalReader(path) as r:
            for e in r:
                got.append(e)
    except Exception as exc:  # noqa: BLE001 - the caller checks the kind
        return got, exc
    return got, None


def clock_ops(n: int, start: int = 1_700_000_000_000_000_000) -> list[object]:
    """A clock-heavy stream like a guest timing a loop: (clock_id, precision, out_ptr)."""
    ops: list[object] = [StartEvent(1, ("prog",), 0)]
    t = start
    for i in range(n):
        t += 2000 + (i * 7919) % 1000
        ops.append((P1, "clock_time_get", (1, 1000, 0x1230), [], 0,
                    [(0x1230, t.to_bytes(8, "little"))], False))
    ops.append(ExitEvent(1, 0, 5))
    return ops


__all__ = ["JournalTruncated", "Model", "clock_ops", "events", "headers", "read_prefix",
           "syscall_args", "write_stream", "P1"]
