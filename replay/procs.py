"""Verbatim replay of journals with several processes, or from a snapshot.

``replay.engine`` replays the first process of a journal from its start on the
plain module. Two cases need the asyncify-instrumented module and a
``host.procs.ProcessGroup`` instead, and are handled here:

* **several processes** (WASIX ``proc_fork``): every process answers from the
  one journal stream; a process whose next syscall is not the journal's next
  entry is parked (unwound) until it is, so the recorded interleaving is
  reproduced exactly;
* **from a snapshot** (``--from-snapshot ID``): the guest is restored from
  the snapshot (memory, globals, stack) and the journal is answered from the
  entries after it, with the usual divergence checks from there on.

Each call is answered by ``replay.backend.JournalBackend`` (same comparisons,
same divergence reports), through a per-process cursor over the shared stream.
Entries are read lazily; starting at a snapshot skips the entries before it.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from wasi_rr.host.table.abi import Signature
from wasi_rr.host.boundary.adapter import PendingCall
from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.runtime.process import Outcome, make_engine
from wasi_rr.host.runtime.procs import GuestProc, ProcessGroup, ProcKernel
from wasi_rr.exitcodes import ExitStatus
from wasi_rr.journal import (
    Entry,
    ExitEvent,
    JournalError,
    SnapshotEvent,
    SyscallEntry,
    TrapEvent,
    open_journal,
)

from .backend import JournalBackend
from .cursor import JournalAbort
from .divergence import Divergence, DivergenceError, DivergenceKind, format_entry, format_question
from .engine import ReplayResult, describe_ending
from .output import StdioTracker

__all__ = ["replay_group"]


class _Stream:
    """The journal's syscall entries in order, shared by every process; process
    endings are collected on the way."""

    def __init__(self, entries: Iterator[Entry]) -> None:
        self._entries = entries
        self._peeked: SyscallEntry | None = None
        self._done = False
        self.endings: dict[int, ExitEvent | TrapEvent] = {}
        self.consumed = 0

    def peek(self) -> SyscallEntry | None:
        if self._peeked is None and not self._done:
            for entry in self._entries:
                if type(entry) is SyscallEntry:
                    self._peeked = entry
                    break
                if isinstance(entry, (ExitEvent, TrapEvent)):
                    self.endings[entry.pid] = entry
            else:
                self._done = True
        return self._peeked

    def next(self) -> SyscallEntry | None:
        entry = self.peek()
        self._peeked = None
        if entry is not None:
            self.consumed += 1
        return entry

    def remaining(self) -> int:
        n = 0
        while self.next() is not None:
            n += 1
        return n


class _PidCursor:
    """What ``JournalBackend`` needs of a cursor, for one process."""

    def __init__(self, stream: _Stream, pid: int) -> None:
        self.stream = stream
        self.pid = pid

    @property
    def ending(self) -> ExitEvent | TrapEvent | None:
        return self.stream.endings.get(self.pid)

    def guarded_next(self) -> SyscallEntry | None:
        try:
            return self.stream.next()
        except JournalError as exc:
            raise JournalAbort(exc) from exc


class _PidBackend(JournalBackend):
    """``JournalBackend`` that first checks the next entry belongs to this process."""

    def __init__(self, cursor: _PidCursor, tracker: StdioTracker) -> None:
        super().__init__(cursor, tracker)  # type: ignore[arg-type]
        self.pid_cursor = cursor

    def call(self, call: PendingCall) -> int:
        try:
            entry = self.pid_cursor.stream.peek()
        except JournalError as exc:
            raise JournalAbort(exc) from exc
        if entry is not None and entry.pid not in (self.pid_cursor.pid, 0):
            sig = call.signature
            self._diverge(Divergence(
                DivergenceKind.CALL_MISMATCH, call.seq,
                f"process {self.pid_cursor.pid} made a syscall where the journal has one of "
                f"process {entry.pid}",
                expected=f"[pid {entry.pid}] {format_entry(entry)}",
                actual=format_question(call.seq, sig.module, sig.name, call.params,
                                       list(call.inputs))))
        return super().call(call)


def _inherit(parent: StdioTracker) -> StdioTracker:
    """A forked child's tracker: same output streams, a copy of the fd map."""
    child = copy.copy(parent)
    child._fds = dict(parent._fds)  # noqa: SLF001 - the map StdioTracker keeps per process
    return child


def replay_group(journal: str | os.PathLike[str], *, from_snapshot: int | None = None,
                 module: str | os.PathLike[str] | None = None,
                 stdout: BinaryIO | None = None, stderr: BinaryIO | None = None,
                 use_cache: bool = True) -> ReplayResult:
    """Replay ``journal`` with every process it holds, optionally starting at
    snapshot ``from_snapshot`` (see the module docstring)."""
    from wasi_rr.api import RunConfig, instrument_module
    from wasi_rr.snapshots import load_snapshot

    out = stdout if stdout is not None else sys.stdout.buffer
    err = stderr if stderr is not None else sys.stderr.buffer
    loaded = load_snapshot(journal, from_snapshot) if from_snapshot is not None else None
    with open_journal(journal) as reader:
        wasm = Path(module).read_bytes() if module is not None else reader.module_bytes()
        if wasm is None:
            from .engine import ReplayError

            raise ReplayError(f"{journal} does not embed its module: pass --module PATH")
        engine = make_engine()
        config = RunConfig(module=Path(reader.header.module_name or "module"),
                           use_cache=use_cache)
        im, compiled = instrument_module(wasm, config, engine)
        entries = reader.entries()
        if loaded is not None:
            for entry in entries:  # skip to the snapshot: the stream continues after it
                if isinstance(entry, SnapshotEvent) and entry.id == loaded.id:
                    break
        stream = _Stream(entries)
        tracker = StdioTracker(out, err)
        trackers: dict[int, StdioTracker] = {}

        def backend_for(pid: int, ppid: int, kernel: ProcKernel) -> Any:
            # Which guest fds are stdout/stderr is per process: a child inherits its
            # parent's map (then e.g. redirects its fd 1 into a pipe alone).
            parent = trackers.get(ppid)
            trackers[pid] = tracker if parent is None else _inherit(parent)
            return _PidBackend(_PidCursor(stream, pid), trackers[pid])

        def block_rule(proc: GuestProc, sig: Signature, params: tuple[int, ...]
                       ) -> Callable[[], bool] | None:
            def other_first() -> bool:
                entry = stream.peek()
                return entry is not None and entry.pid not in (proc.pid, 0)
            return other_first

        group = ProcessGroup(engine, im, compiled, backend_for=backend_for,
                             block_rule=block_rule,
                             trap_unknown_imports=bool(
                                 reader.header.options.get("trap_unknown_imports")),
                             name=config.module.name)
        kernel = WasiKernel(args=list(reader.header.argv))
        try:
            if loaded is not None and loaded.family:
                kernels = [WasiKernel(args=list(reader.header.argv))
                           for m in loaded.family if m.snapshot is not None]
                group.restore_family(loaded.family, loaded.order, kernels)
            elif loaded is not None:
                group.spawn(kernel, snapshot=loaded.snapshot, seq=loaded.seq, pid=loaded.pid)
            else:
                group.spawn(kernel)
            group.run()
        except DivergenceError as exc:
            tracker.flush()
            return ReplayResult(int(ExitStatus.DIVERGENCE), exc.divergence, stream.consumed)
        except JournalAbort as exc:
            tracker.flush()
            raise exc.error from None
        tracker.flush()
        divergence = _check_endings(group, stream)
    outcomes = group.outcomes()
    first = outcomes[min(outcomes)]
    if divergence is not None:
        return ReplayResult(int(ExitStatus.DIVERGENCE), divergence, stream.consumed,
                            trap=first.trap)
    code = int(ExitStatus.TRAP) if first.trap is not None else first.exit_code
    return ReplayResult(code, None, stream.consumed, trap=first.trap)


def _describe(outcome: Outcome) -> str:
    return f"trap: {outcome.trap}" if outcome.trap is not None \
        else f"exit status {outcome.exit_code}"


def _check_endings(group: ProcessGroup, stream: _Stream) -> Divergence | None:
    """Every entry consumed, and every process ended as recorded."""
    left = stream.peek()
    if left is not None:
        first = format_entry(left)
        remaining = stream.remaining()
        return Divergence(DivergenceKind.EARLY_END, left.seq,
                          f"the guests ended while the journal has {remaining} more syscall(s)",
                          expected=f"[pid {left.pid}] {first}", actual="no more calls",
                          remaining=remaining)
    for pid, outcome in sorted(group.outcomes().items()):
        ending = stream.endings.get(pid)
        if ending is None:
            continue
        if isinstance(ending, TrapEvent):
            same = outcome.trap is not None and outcome.trap == ending.message
        else:
            same = outcome.trap is None and (outcome.exit_code & 0xFFFF_FFFF) == ending.status
        if not same:
            return Divergence(DivergenceKind.END_MISMATCH, group.seq_of(pid),
                              f"process {pid} ended with {_describe(outcome)}, the journal "
                              f"recorded {describe_ending(ending)}",
                              expected=describe_ending(ending), actual=_describe(outcome))
    return None


def group_replay_needed(journal: str | os.PathLike[str]) -> tuple[bool, int | None]:
    """Whether ``journal`` must be replayed here: (needs a group, snapshot to start at).

    A journal written by ``resume -o`` starts at its snapshot 1; a module that
    imports WASIX ``proc_fork`` may have several processes (a byte search of the
    import name: a false positive only costs the instrumented replay)."""
    try:
        with open_journal(journal) as reader:
            if reader.header.meta.get("resumed_from_snapshot") is not None:
                return True, 1
            wasm = reader.module_bytes()
    except (OSError, JournalError):
        return False, None  # the plain replay reports it as usual
    return bool(wasm and b"wasix_32v1" in wasm and b"proc_fork" in wasm), None
