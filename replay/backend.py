"""The verbatim replay ``Backend``: answer every call from the journal.

For each incoming call it takes the next journal entry, checks that the guest
asks the same question (function, params, input bytes: ``compare_call``),
then makes the guest observe exactly the recorded answer: every recorded
``(address, bytes)`` write is applied to guest memory and the recorded errno is
returned; ``proc_exit`` raises ``ProcExit`` with the recorded code. No kernel
exists, so no file, clock, environment, stdin or network is touched, and
recorded sleeps/poll timeouts cost nothing.

An optional ``Verifier`` (``--verify``) additionally re-executes the call on a
real kernel and compares its answer with the journal before the recorded
answer is applied.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, NoReturn, Protocol

from wasi_rr.host.boundary.adapter import PendingCall
from wasi_rr.host.kernel.wasi_types import ProcExit, WasiError
from wasi_rr.journal import SyscallEntry

from .cursor import JournalCursor
from .divergence import (
    HISTORY,
    Divergence,
    DivergenceError,
    DivergenceKind,
    compare_call,
    format_entry,
    format_question,
)
from .output import StdioTracker

__all__ = ["JournalBackend", "Verifier"]


class Verifier(Protocol):
    """Re-executes a call that matched its entry; returns a divergence if the
    re-executed answer differs from the recorded one."""

    def check(self, call: PendingCall, entry: SyscallEntry) -> Divergence | None: ...

    def close(self) -> None: ...


class JournalBackend:
    """``Backend`` answering from a ``JournalCursor`` (see module docstring)."""

    def __init__(self, cursor: JournalCursor, tracker: StdioTracker,
                 verifier: Verifier | None = None) -> None:
        self.cursor = cursor
        self.tracker = tracker
        self.verifier = verifier
        self.history: deque[SyscallEntry | tuple[Any, ...]] = deque(maxlen=HISTORY)
        """The last matching entries (formatted only if a divergence needs them),
        kept only for a cursor that cannot tell them itself: a ``JournalCursor``
        rebuilds them from its batches (``recent``), so no path pays per call."""
        self._recent: Callable[[int, int], list[SyscallEntry]] | None = \
            getattr(cursor, "recent", None)
        self._taken = False
        """Whether the call being answered consumed its entry (``history_lines``
        then leaves that entry out: the history is what matched before it)."""
        self.divergence: Divergence | None = None

    def call(self, call: PendingCall) -> int:
        sig = call.signature
        inputs = list(call.inputs)
        self._taken = False
        entry = self.cursor.guarded_next()
        if entry is None:
            self._diverge(Divergence(
                DivergenceKind.EXTRA_CALL, call.seq,
                f"the guest called {sig.name} after the last recorded syscall",
                expected=self._ending_text(),
                actual=format_question(call.seq, sig.module, sig.name, call.params, inputs)))
        self._taken = True
        # fast path: identical question (digests never compare equal to bytes,
        # so a journal with digests takes the precise comparison)
        same = (entry.name == sig.name and entry.params == call.params
                and entry.inputs == tuple(inputs) and entry.module == sig.module)
        diffs = [] if same else compare_call(entry, sig.module, sig.name, call.params, inputs)
        if diffs:
            what = ", ".join(d.what for d in diffs)
            self._diverge(Divergence(
                DivergenceKind.CALL_MISMATCH, call.seq,
                f"the guest's call differs from the journal in {what}",
                expected=format_entry(entry),
                actual=format_question(call.seq, sig.module, sig.name, call.params, inputs),
                fields=diffs))
        if self.verifier is not None:
            failure = self.verifier.check(call, entry)
            if failure is not None:
                self._diverge(failure)
        try:
            for addr, data in entry.writes:
                call.memory.write(addr, data)
        except WasiError as exc:
            self._diverge(Divergence(
                DivergenceKind.CALL_MISMATCH, call.seq,
                f"a recorded write of {entry.name} falls outside guest memory ({exc})",
                expected=format_entry(entry)))
        self.tracker.observe(entry, inputs)
        self._taken = False
        if self._recent is None:
            self.history.append(entry)
        if entry.name == "proc_exit":
            raise ProcExit(entry.params[0])
        return entry.errno

    def _ending_text(self) -> str:
        ending = self.cursor.ending
        if ending is None:
            return "no more syscalls"
        from .engine import describe_ending

        return f"no more syscalls, then {describe_ending(ending)}"

    def history_lines(self) -> list[str]:
        """The last ``HISTORY`` calls that matched, as report lines."""
        if self._recent is not None:
            entries = self._recent(HISTORY, 1 if self._taken else 0)
        else:
            entries = [SyscallEntry(*e) if isinstance(e, tuple) else e for e in self.history]
        return [f"#{e.seq} {format_entry(e)}" for e in entries]

    def _diverge(self, divergence: Divergence) -> NoReturn:
        divergence.history = self.history_lines()
        self.divergence = divergence
        raise DivergenceError(divergence)
