"""The journal as a tape: records in order, one frame at a time.

``Tape`` walks the binary records of a journal's ENTRIES frames (the bytes as
the writer made them, never re-encoded). Events are handled on the way
(``start``/``ctx`` set the process and sequence number, ``exit``/``trap``
end a process, snapshots are skipped), so ``next_call`` hands out only the
syscall record the guest's next call must match, or None where the journal
says the process has no more calls.

When the wasm replayer is attached (``replay/replayer``) it answers most
calls itself, moving a cursor in its own copy of the current frame; the tape
then follows it through ``sync_in``/``sync_out`` at every entry into Python,
and copies each new frame into the replayer's memory when it loads one.

Memory stays bounded whatever the journal's length: the current frame and the
one before it (kept for the history lines of a divergence report).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from wasi_rr.host.table.validate import validate_call
from wasi_rr.journal import (
    BadEntry,
    Call,
    CtxEvent,
    EntriesFrame,
    Event,
    ExitEvent,
    ForkEvent,
    JournalReader,
    StartEvent,
    TrapEvent,
)
from wasi_rr.journal.events import EventError, event_from_wire
from wasi_rr.journal.records import (
    RawRecord,
    RecordError,
    event_payload,
    is_event,
    parse_call,
    record_size,
)

Ending = ExitEvent | TrapEvent


class TapeMirror(Protocol):
    """The wasm replayer's side of the tape (``replayer.Replayer``)."""

    def load(self, payload: bytes, off: int) -> None:
        """Copy a new frame in; the cursor is at ``off``."""

    def take(self) -> tuple[int, int]:
        """(cursor offset in the frame, calls it answered since the last take)."""

    def put(self, off: int) -> None:
        """Set the cursor (after Python moved it)."""


@dataclass(slots=True)
class Position:
    """Where a syscall record is: ``size`` bytes at ``off`` of the current frame."""

    off: int
    size: int


@dataclass(slots=True)
class TapeState:
    pid: int = 0
    seqs: dict[int, int] = field(default_factory=dict)
    endings: dict[int, Ending] = field(default_factory=dict)
    forks: list[ForkEvent] = field(default_factory=list)
    entries: int = 0
    """Records consumed so far (for "entry N" in error messages)."""
    calls: int = 0


class Tape:
    """Records of one journal, consumed in order (see module docstring)."""

    def __init__(self, reader: JournalReader) -> None:
        self.reader = reader
        self.functions = reader.functions
        self.state = TapeState()
        self._frames: Iterator[EntriesFrame] = reader.frames(lambda: self.state.entries)
        self.payload = b""
        self.previous = b""
        self.frame_offset = 0
        self.off = 0
        self.finished = False
        """The END frame was reached (and checked)."""
        self.mirror: TapeMirror | None = None

    # -- the replayer's mirror --------------------------------------------------------
    def attach(self, mirror: TapeMirror) -> None:
        self.mirror = mirror
        mirror.load(self.payload, self.off)

    def sync_in(self) -> None:
        """Take over the cursor and the calls the replayer answered."""
        if self.mirror is None:
            return
        off, answered = self.mirror.take()
        if answered:
            st = self.state
            st.seqs[st.pid] = st.seqs.get(st.pid, 0) + answered
            st.entries += answered
            st.calls += answered
        self.off = off

    def sync_out(self) -> None:
        if self.mirror is not None:
            self.mirror.put(self.off)

    # -- walking -----------------------------------------------------------------------
    def _load(self) -> bool:
        """The next frame; False at the journal's END."""
        if self.finished:
            return False
        for frame in self._frames:
            self.previous = self.payload
            self.payload = frame.payload
            self.frame_offset = frame.offset
            self.off = 0
            if self.mirror is not None:
                self.mirror.load(self.payload, 0)
            if self.payload:
                return True
        self.finished = True
        self.payload = b""
        self.off = 0
        if self.mirror is not None:
            self.mirror.load(b"", 0)
        return False

    def _bad(self, exc: RecordError | EventError) -> BadEntry:
        field_, what = ((exc.field, exc.what) if isinstance(exc, RecordError)
                        else ("event", str(exc)))
        return BadEntry(self.state.entries, field_, what, self.frame_offset)

    def peek(self) -> Position | Event | None:
        """The next syscall record's position, or the next event (not consumed),
        or None at the end of the journal."""
        while self.off >= len(self.payload):
            if not self._load():
                return None
        try:
            size = record_size(self.payload, self.off, len(self.payload))
            if is_event(self.payload, self.off):
                event = event_from_wire(event_payload(self.payload, self.off, size))
                if event is None:  # a kind of a newer minor version: skipped
                    self.off += size
                    self.state.entries += 1
                    return self.peek()
                return event
        except (RecordError, EventError) as exc:
            raise self._bad(exc) from None
        return Position(self.off, size)

    def consume_event(self, event: Event) -> None:
        """Step over the event ``peek`` returned, applying it to the state."""
        st = self.state
        size = record_size(self.payload, self.off, len(self.payload))
        self.off += size
        st.entries += 1
        if isinstance(event, StartEvent):
            st.pid = event.pid
            st.seqs[event.pid] = 0
        elif isinstance(event, CtxEvent):
            st.pid = event.pid
            st.seqs[event.pid] = event.seq
        elif isinstance(event, (ExitEvent, TrapEvent)):
            st.endings[event.pid] = event
        elif isinstance(event, ForkEvent):
            st.forks.append(event)

    def next_call(self, pid: int | None = None) -> Position | None:
        """The next syscall record (events before it consumed), or None when the
        next thing is the end of ``pid`` (or of the journal)."""
        while True:
            item = self.peek()
            if item is None:
                return None
            if isinstance(item, Position):
                if pid is not None and self.state.pid != pid:
                    return None
                return item
            if isinstance(item, (ExitEvent, TrapEvent)) and (pid is None or item.pid == pid):
                return None
            self.consume_event(item)

    def parse(self, pos: Position) -> RawRecord:
        try:
            return parse_call(self.payload, pos.off, pos.size, len(self.functions))
        except RecordError as exc:
            raise self._bad(exc) from None

    def call(self, raw: RawRecord) -> Call:
        """The record as a ``Call`` at the current sequence number, checked
        against the signature table."""
        st = self.state
        module, name = self.functions[raw.fid]
        call = Call(st.seqs.get(st.pid, 0), module, name, raw.params, raw.inputs, raw.errno,
                    raw.writes, st.pid, raw.flags)
        problem = validate_call(call)
        if problem is not None:
            raise BadEntry(st.entries, *problem, self.frame_offset)
        return call

    def advance(self, pos: Position) -> None:
        """The call at ``pos`` was answered."""
        st = self.state
        self.off = pos.off + pos.size
        st.seqs[st.pid] = st.seqs.get(st.pid, 0) + 1
        st.entries += 1
        st.calls += 1

    @property
    def seq(self) -> int:
        return self.state.seqs.get(self.state.pid, 0)

    # -- looking back and ahead -------------------------------------------------------------
    def recent(self, count: int) -> list[Call]:
        """The last ``count`` calls of the current process before the cursor (for
        a divergence report), from this frame and the one before."""
        found: list[RawRecord] = []
        pid = self.state.pid
        for buf, end in ((self.previous, len(self.previous)), (self.payload, self.off)):
            off = 0
            while off < end:
                try:
                    size = record_size(buf, off, end)
                    if is_event(buf, off):
                        event = event_from_wire(event_payload(buf, off, size))
                        if isinstance(event, (StartEvent, CtxEvent)) and event.pid != pid:
                            found = []  # what came before belongs to another process
                    else:
                        found.append(parse_call(buf, off, size, len(self.functions)))
                except (RecordError, EventError):
                    break
                off += size
        found = found[-count:]
        seq0 = self.seq - len(found)
        out = []
        for k, raw in enumerate(found):
            module, name = self.functions[raw.fid]
            out.append(Call(seq0 + k, module, name, raw.params, raw.inputs, raw.errno,
                            raw.writes, pid, raw.flags))
        return out

    def count_remaining(self, pid: int) -> int:
        """Calls of ``pid`` left in the journal (consumes the tape: only for the
        report of a guest that ended early)."""
        n = 0
        while True:
            item = self.peek()
            if item is None:
                return n
            if isinstance(item, Position):
                if self.state.pid == pid:
                    n += 1
                self.off = item.off + item.size
                self.state.entries += 1
                self.state.calls += 1
            else:
                self.consume_event(item)

    def drain(self) -> None:
        """Read (and so check) the rest of the journal, up to its END frame."""
        while self.peek() is not None:
            item = self.peek()
            if isinstance(item, Position):
                self.off = item.off + item.size
                self.state.entries += 1
                self.state.calls += 1
            elif item is not None:
                self.consume_event(item)
        summary = self.reader.stats.summary.get("syscalls")
        if self.finished and type(summary) is int and summary != self.state.calls:
            raise BadEntry(self.state.entries, "end frame",
                           f"counts {summary} syscalls, the journal holds {self.state.calls}")
