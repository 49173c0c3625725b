"""The journal read once, as the debugger's map of the run.

A position is a global call index (``Position.index``: the n-th syscall record
of the journal, whatever process made it). Everything that depends only on the
journal is answered from here without running the guest: which call is at a
position and what it is about to get (``info``), where the next or previous
breakpoint hit is, what reached stdout/stderr before a position (``output``).

A damaged journal is read up to the damage: ``damage`` says where, and every
position before it stays usable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from wasi_rr.host.boundary.memory import GuestMemory
from wasi_rr.host.table import SIGNATURES, Signature
from wasi_rr.host.table.validate import validate_call
from wasi_rr.journal import (
    Call,
    ExitEvent,
    ForkEvent,
    InputDigest,
    JournalError,
    JournalHeader,
    SnapshotEvent,
    TrapEvent,
    open_journal,
)
from wasi_rr.journal.records import FLAG_STDERR, FLAG_STDOUT

from ..answer import stdio_bytes

__all__ = ["Ending", "JournalIndex", "SnapshotMark"]

_NO_MEMORY = GuestMemory.over(bytearray())
"""``stdio_bytes`` reads memory only for digested inputs, which stdio records never have."""


@dataclass(frozen=True, slots=True)
class Ending:
    """How a process ended in the journal."""

    pid: int
    status: int | None
    trap: str | None
    interrupted: bool = False

    def text(self) -> str:
        if self.trap is not None:
            return f"trapped: {self.trap}"
        if self.interrupted:
            return "the recording was interrupted here"
        return f"exited with status {self.status}"


@dataclass(frozen=True, slots=True)
class SnapshotMark:
    """A snapshot the journal holds: before call ``index`` (process ``pid``, ``seq``)."""

    id: int
    pid: int
    seq: int
    index: int


@dataclass(slots=True)
class JournalIndex:
    """Every call of a journal, in order, and what happened around them."""

    path: str
    header: JournalHeader
    calls: list[Call] = field(default_factory=list)
    endings: dict[int, Ending] = field(default_factory=dict)
    snapshots: list[SnapshotMark] = field(default_factory=list)
    forks: list[ForkEvent] = field(default_factory=list)
    damage: str | None = None
    """Why the journal could not be read further (None: intact to its end)."""
    digested: frozenset[int] = frozenset()
    """Indexes of calls with an input stored as a digest (its bytes are not in the journal)."""
    max_address: int = 0
    """One past the highest guest address any recorded input or write touches."""
    _output_at: list[int] = field(default_factory=list)
    """For each stdio call: its index (parallel to ``_output_chunks``)."""
    _output_chunks: list[tuple[int, bytes]] = field(default_factory=list)

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> JournalIndex:
        """Read the whole journal (``JournalError`` only if not even its header is
        readable; later damage is kept in ``damage``)."""
        with open_journal(path) as reader:
            index = cls(str(path), reader.header)
            index._walk(reader)
        return index

    def _walk(self, reader: object) -> None:
        digested: set[int] = set()
        top = 0
        try:
            for entry in reader.entries(validate_call):  # type: ignore[attr-defined]
                if isinstance(entry, Call):
                    n = len(self.calls)
                    self.calls.append(entry)
                    for addr, data in entry.inputs:
                        top = max(top, addr + len(data))
                        if isinstance(data, InputDigest):
                            digested.add(n)
                    for addr, data in entry.writes:
                        top = max(top, addr + len(data))
                    if entry.stdio:
                        self._add_output(n, entry)
                elif isinstance(entry, (ExitEvent, TrapEvent)):
                    self.endings[entry.pid] = _ending(entry)
                elif isinstance(entry, SnapshotEvent):
                    self.snapshots.append(SnapshotMark(entry.id, entry.pid, entry.seq,
                                                       len(self.calls)))
                elif isinstance(entry, ForkEvent):
                    self.forks.append(entry)
        except JournalError as exc:
            self.damage = str(exc)
        self.digested = frozenset(digested)
        self.max_address = top

    def _add_output(self, n: int, call: Call) -> None:
        sig = SIGNATURES.get((call.module, call.name))
        if sig is None:
            return
        data = stdio_bytes(sig, call.params, call, _NO_MEMORY)  # type: ignore[arg-type]
        if data:
            self._output_at.append(n)
            self._output_chunks.append((call.stdio, data))

    # -- questions -----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.calls)

    @property
    def multi(self) -> bool:
        """More than one process (WASIX fork)."""
        return bool(self.forks)

    def signature(self, index: int) -> Signature | None:
        call = self.calls[index]
        return SIGNATURES.get((call.module, call.name))

    def output(self, before: int) -> tuple[bytes, bytes]:
        """(stdout, stderr) the guest produced before call ``before``."""
        out, err = bytearray(), bytearray()
        for n, (stream, data) in zip(self._output_at, self._output_chunks, strict=True):
            if n >= before:
                break
            if stream == FLAG_STDOUT:
                out += data
            elif stream == FLAG_STDERR:
                err += data
        return bytes(out), bytes(err)

    def interleaved_output(self, start: int, stop: int) -> list[tuple[int, int, bytes]]:
        """``(index, stream, bytes)`` of every stdio chunk of calls in [start, stop)."""
        return [(n, stream, data)
                for n, (stream, data) in zip(self._output_at, self._output_chunks, strict=True)
                if start <= n < stop]

    def find(self, pid: int, seq: int) -> int | None:
        """The index of process ``pid``'s call ``seq``."""
        for n, call in enumerate(self.calls):
            if call.pid == pid and call.seq == seq:
                return n
        return None

    def first_pid(self) -> int:
        return self.calls[0].pid if self.calls else 1

    def ending_of(self, pid: int) -> Ending | None:
        return self.endings.get(pid)


def _ending(event: ExitEvent | TrapEvent) -> Ending:
    if isinstance(event, TrapEvent):
        return Ending(event.pid, None, event.message)
    return Ending(event.pid, event.status, None, bool(event.interrupted))
