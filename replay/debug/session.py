"""A debugging session: a position in a recorded run, and the moves between positions.

The session drives replays (``runner.Run``) and is their ``StopHandler``: the
command loop runs *inside* the host callback of the call the guest is stopped
at. A forward move sets the running replay's next stop and returns into the
guest; a backward move raises ``Rewind`` and the next replay, from the start,
stops at the earlier call (``drive``). The reply to a move is made when the
guest arrives (``_arrive``).

Going back re-replays from the start on the wasm replayer (measured in
bench/debug_cost.py: ~1.5 us per call, 20 ms for 15,000 QuickJS calls), which
meets the debugger's targets for journals of hundreds of thousands of calls
without keeping any checkpoint (docs/debugging.md, "Going backwards").
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from wasmtime import Engine, Module

from wasi_rr.host.boundary.adapter import GuestAbort, HostAdapter
from wasi_rr.journal import JournalReader

from .breakpoints import CallBreakpoint, Watchpoint
from .index import JournalIndex
from .kernelstate import KernelShadow
from .reply import DebugError, Reply
from .runner import Quit, Rewind, Run, RunEnd, RunTarget, Stop

__all__ = ["Frontend", "Move", "Session"]


class Frontend(Protocol):
    """Where commands come from and replies go (REPL, batch, DAP)."""

    def read(self, session: Session) -> str | None:
        """The next command line, or None at the end of input."""

    def emit(self, session: Session, command: str, reply: Reply) -> None: ...


@dataclass(slots=True)
class Move:
    """A command that moves the position: where to, and how to answer on arrival."""

    target: RunTarget
    arrive: Callable[[Session], Reply]
    backward: bool = False


@dataclass(slots=True)
class _Pending:
    command: str
    move: Move


@dataclass(eq=False)
class Session:
    """See module docstring."""

    index: JournalIndex
    reader: JournalReader
    engine: Engine
    compiled: Module
    wasm: bytes
    frontend: Frontend
    position: int = 0
    stop: Stop | None = None
    ended: RunEnd | None = None
    breakpoints: list[CallBreakpoint | Watchpoint] = field(default_factory=list)
    digests: dict[int, list[tuple[int, bytes]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    told: set[str] = field(default_factory=set)
    next_id: int = 1
    last_adapter: HostAdapter | None = None
    _run: Run | None = None
    _restart: RunTarget = field(default_factory=lambda: RunTarget(0))
    _pending: _Pending | None = None
    _shadow: KernelShadow | None = None
    runs: int = 0

    # -- driving replays ----------------------------------------------------------------
    def drive(self) -> None:
        """Serve commands until the front end is done."""
        if not self.index.calls:
            self._restart = RunTarget(None)
        while True:
            run = Run(self.index, self.reader, self.engine, self.compiled, self,
                      target=self._restart, digests=self.digests)
            self._run, self.stop, self.ended = run, None, None
            self.runs += 1
            try:
                end = run.execute()
            except Rewind:
                continue
            except Quit:
                return
            self.ended, self.stop = end, None
            self.position = end.calls
            try:
                self._arrive()
                self._serve()
            except Rewind:
                continue
            except Quit:
                return

    def at_stop(self, stop: Stop, run: Run) -> None:
        self.stop, self.position, self.last_adapter = stop, stop.index, stop.adapter
        self._arrive()
        self._serve()

    def _arrive(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            self.frontend.emit(self, pending.command, self._noted(pending.move.arrive(self)))

    def _serve(self) -> None:
        """Answer commands here until one moves (returns, or raises Rewind/Quit)."""
        from .commands import execute

        while True:
            line = self.frontend.read(self)
            if line is None:
                raise Quit("end of commands")
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                result = execute(self, line)
            except DebugError as exc:
                result = Reply.error(str(exc))
            except GuestAbort:
                raise
            except Exception as exc:  # a bug in one command must not end the session
                if os.environ.get("WASI_RR_DEBUG"):
                    traceback.print_exc()
                result = Reply.error(f"internal error in {line.split()[0]!r}: "
                                     f"{type(exc).__name__}: {exc} (a wasi-rr bug)")
            if isinstance(result, Reply):
                self.frontend.emit(self, line, self._noted(result))
                continue
            if self._go(line, result):
                return

    def _go(self, line: str, move: Move) -> bool:
        """Start ``move``; True when the guest must run on (return into it)."""
        target = move.target
        stay = target.predicate is None and target.index == self.position and not move.backward
        if stay or (self.ended is not None and not move.backward):
            self.frontend.emit(self, line, self._noted(move.arrive(self)))
            return False
        self._pending = _Pending(line, move)
        if move.backward:
            self._restart = target
            raise Rewind(target.index if target.index is not None else 0)
        assert self._run is not None
        self._run.target = target
        return True

    def _noted(self, reply: Reply) -> Reply:
        if self.notes:
            reply.notes = self.notes + reply.notes
            self.notes = []
        return reply

    def tell_once(self, key: str, message: str) -> None:
        """A remark shown with the next reply, only the first time it applies."""
        if key not in self.told:
            self.told.add(key)
            self.notes.append(message)

    # -- positions ----------------------------------------------------------------------
    @property
    def limit(self) -> int:
        """The last position reachable: the end, or where the journal is damaged."""
        return len(self.index)

    def here(self) -> dict[str, int | bool]:
        """The position as JSON fields: ``seq`` and ``pid`` (also ``index`` and ``end``)."""
        n = self.position
        if n < len(self.index):
            call = self.index.calls[n]
            return {"seq": call.seq, "pid": call.pid, "index": n, "end": False}
        pid = self.index.calls[-1].pid if self.index.calls else 1
        seq = sum(1 for c in self.index.calls if c.pid == pid)
        return {"seq": seq, "pid": pid, "index": n, "end": True}

    def resolve(self, text: str) -> int:
        """A position from the user: ``N`` (a call number of the journal, the
        sequence number in a one-process journal) or ``PID:SEQ``."""
        pid, colon, seq = text.rpartition(":")
        try:
            value = int(seq, 0)
            owner = int(pid, 0) if colon else None
        except ValueError:
            raise DebugError(f"{text!r} is not a sequence number") from None
        if owner is not None:
            found = self.index.find(owner, value)
            if found is None:
                raise DebugError(f"process {owner} has no syscall #{value}")
            return found
        if value < 0 or value > self.limit:
            raise DebugError(f"no syscall #{value}: the journal has {self.limit} "
                             f"(0-{max(self.limit - 1, 0)}, and {self.limit} = the end)")
        return value

    def memory_adapter(self) -> HostAdapter:
        """The adapter whose memory is the guest's at this position."""
        if self.stop is not None:
            return self.stop.adapter
        if self.last_adapter is not None:
            return self.last_adapter
        raise DebugError("no guest memory here")

    def shadow(self) -> KernelShadow:
        if self._shadow is None:
            self._shadow = KernelShadow(self.index, self.reader, self.digests)
        return self._shadow

    def close(self) -> None:
        if self._shadow is not None:
            self._shadow.close()
