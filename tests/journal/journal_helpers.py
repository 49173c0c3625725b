"""Shared helpers for the journal tests: hypothesis strategies and file builders (format 2)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from hypothesis import strategies as st

from wasi_rr.host.table import function_names
from wasi_rr.journal import (
    Call,
    CtxEvent,
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
    TrapEvent,
)

P1 = "wasi_snapshot_preview1"
WASIX = "wasix_32v1"
THRESHOLD = 64  # small hash threshold so hypothesis reaches the digest path
FUNCTIONS = function_names()
"""What a recorder puts in ``header.functions`` (the numbering of call records)."""

u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
small_bytes = st.binary(max_size=96)
addr = st.one_of(st.integers(0, 4096), st.integers(0, 2**32 - 96))
"""Addresses whose ``small_bytes`` still end below 4 GiB."""
function = st.sampled_from([tuple(f.split("::")) for f in FUNCTIONS])


def make_header(**kw: object) -> JournalHeader:
    """A header numbering the signature table's functions."""
    kw.setdefault("module_sha256", "")
    kw.setdefault("functions", list(FUNCTIONS))
    return JournalHeader(**kw)  # type: ignore[arg-type]


@st.composite
def calls(draw: st.DrawFn) -> tuple[Call, bool]:
    """A call as a recorder hands it to ``write_call`` (seq/pid are the reader's job),
    and whether its inputs are kept in full."""
    module, name = draw(function)
    params = tuple(draw(st.lists(st.one_of(u32, u64), max_size=9)))
    inputs = tuple(draw(st.lists(st.tuples(addr, small_bytes), max_size=3)))
    errno = draw(st.integers(0, 76))
    writes = tuple(draw(st.lists(st.tuples(addr, small_bytes), max_size=3)))
    stdio = draw(st.sampled_from([0, 0, 1, 2]))
    keep = draw(st.booleans())
    return Call(0, module, name, params, inputs, errno, writes, 0, stdio), keep


events = st.one_of(
    st.builds(StartEvent, st.integers(0, 2**31), st.lists(st.text(max_size=8), max_size=3)
              .map(tuple), u64),
    st.builds(ExitEvent, st.integers(0, 2**31), u32, u64, st.booleans()),
    st.builds(TrapEvent, st.integers(0, 2**31), st.text(max_size=40), u64),
    st.builds(ForkEvent, st.integers(0, 2**31), st.integers(0, 2**31), u32),
    st.builds(CtxEvent, st.integers(0, 2**31), u32),
    st.builds(SnapshotEvent, st.integers(0, 2**31), st.integers(1, 99), u32,
              st.sampled_from(["every", "stdin", "exit"]), st.binary(max_size=64),
              st.binary(max_size=64), st.one_of(st.none(), st.integers(1, 99)),
              st.text(max_size=8), u64,
              st.dictionaries(st.text(max_size=4), st.integers(0, 9), max_size=2)),
)

headers = st.builds(
    make_header,
    argv=st.lists(st.text(max_size=10), max_size=4),
    env=st.lists(st.tuples(st.text(min_size=1, max_size=6), st.text(max_size=10)), max_size=4),
    preopens=st.lists(st.builds(Preopen, st.text(min_size=1, max_size=8),
                                st.sampled_from(["read-only", "overlay", "tmpfs"]),
                                st.one_of(st.none(), st.text(max_size=8))), max_size=3),
    options=st.dictionaries(st.text(max_size=6), st.one_of(st.booleans(), st.integers(0, 99),
                                                           st.text(max_size=5)), max_size=3),
    meta=st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=3),
    module_name=st.text(max_size=10),
    redacted_env=st.lists(st.text(max_size=5), max_size=2),
)


class Model:
    """What a reader must return for a sequence of writer calls."""

    def __init__(self, threshold: int | None = THRESHOLD) -> None:
        self.entries: list[Entry] = []
        self.threshold = threshold
        self.pid = 0
        self.seqs: dict[int, int] = {}
        self.calls = 0
        self.events = 0

    def call(self, call: Call, keep: bool = False) -> None:
        keep = keep or call.stdio in (1, 2)
        ins = tuple((a, d if (keep or self.threshold is None or isinstance(d, InputDigest)
                              or len(d) <= self.threshold) else InputDigest.of(d))
                    for a, d in call.inputs)
        seq = self.seqs.get(self.pid, 0)
        self.seqs[self.pid] = seq + 1
        self.entries.append(Call(seq, call.module, call.name, tuple(call.params), ins,
                                 call.errno, tuple(call.writes), self.pid, call.stdio))
        self.calls += 1

    def event(self, ev: Entry) -> None:
        if isinstance(ev, StartEvent):
            self.pid = ev.pid
            self.seqs[ev.pid] = 0
        elif isinstance(ev, CtxEvent):
            self.pid = ev.pid
            self.seqs[ev.pid] = ev.seq
        self.entries.append(ev)
        self.events += 1


def write_stream(path: Path, ops: Iterable[object], *, header: JournalHeader | None = None,
                 module: bytes | None = b"\x00asm\x01\x00\x00\x00", **kw: object) -> Model:
    """Write ``ops`` (``(Call, keep)`` pairs, bare ``Call``s or events) and return the
    model of the result."""
    kw.setdefault("background", False)
    kw.setdefault("input_hash_threshold", THRESHOLD)
    model = Model(kw["input_hash_threshold"])  # type: ignore[arg-type]
    with JournalWriter(path, header or make_header(), module=module,
                       **kw) as w:  # type: ignore[arg-type]
        for op in ops:
            if isinstance(op, Call):
                op = (op, False)
            if isinstance(op, tuple):
                call, keep = op
                w.write_call(call, keep_inputs=keep)
                model.call(call, keep)
            else:
                w.write_event(op)  # type: ignore[arg-type]
                model.event(op)  # type: ignore[arg-type]
    return model


def read_prefix(path: Path) -> tuple[list[Entry], BaseException | None]:
    """Read every entry; return (entries, the exception that stopped the read or None)."""
    got: list[Entry] = []
    try:
        with JournalReader(path) as r:
            for e in r:
                got.append(e)  # keep what came before an error
    except Exception as exc:  # the caller checks the kind
        return got, exc
    return got, None


def call(name: str, params: tuple[int, ...] = (), inputs: tuple[tuple[int, object], ...] = (),
         errno: int = 0, writes: tuple[tuple[int, bytes], ...] = (), *, module: str = P1,
         stdio: int = 0) -> Call:
    """A ``Call`` to hand to ``write_call`` (seq and pid are decided by the reader)."""
    return Call(0, module, name, params, inputs, errno, writes, 0, stdio)  # type: ignore[arg-type]


def clock_ops(n: int, start: int = 1_700_000_000_000_000_000) -> list[object]:
    """A clock-heavy stream like a guest timing a loop: (clock_id, precision, out_ptr)."""
    ops: list[object] = [StartEvent(1, ("prog",), 0)]
    t = start
    for i in range(n):
        t += 2000 + (i * 7919) % 1000
        ops.append(call("clock_time_get", (1, 1000, 0x1230), (), 0,
                        ((0x1230, t.to_bytes(8, "little")),)))
    ops.append(ExitEvent(1, 0, 5))
    return ops


__all__ = [
    "FUNCTIONS",
    "P1",
    "THRESHOLD",
    "WASIX",
    "JournalTruncated",
    "Model",
    "call",
    "calls",
    "clock_ops",
    "events",
    "headers",
    "make_header",
    "read_prefix",
    "write_stream",
]
