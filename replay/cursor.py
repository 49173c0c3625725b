"""Walking a journal's entries in replay order.

The reader yields entries lazily (bounded memory whatever the journal's
length), so a truncated or corrupt journal surfaces only when replay reaches
the damaged frame, i.e. inside a host call. A ``JournalError`` raised there
would look like a host bug to the adapter; the cursor wraps it in
``JournalAbort`` (a ``GuestAbort``), and the engine re-raises the original.
"""

from __future__ import annotations

from collections.abc import Iterator

from wasi_rr.host.adapter import GuestAbort
from wasi_rr.journal import (
    Entry,
    ExitEvent,
    JournalError,
    StartEvent,
    SyscallEntry,
    TrapEvent,
)

__all__ = ["JournalAbort", "JournalCursor", "UnsupportedJournal"]


class JournalAbort(GuestAbort):
    """The journal became unreadable mid-replay; ``error`` is the journal's exception."""

    def __init__(self, error: JournalError) -> None:
        super().__init__(str(error))
        self.error = error


class UnsupportedJournal(JournalError):
    """A well-formed journal this replay engine cannot re-drive (e.g. several processes)."""


class JournalCursor:
    """Hands out the syscall entries of the journal's first process, in order,
    and remembers how that process ended (``ending``: an ``ExitEvent`` or
    ``TrapEvent``, None if the journal has no ending)."""

    def __init__(self, entries: Iterator[Entry]) -> None:
        self._entries = entries
        self._peeked: SyscallEntry | None = None
        self._done = False
        self.pid: int | None = None
        self.ending: ExitEvent | TrapEvent | None = None
        self.consumed = 0
        """Syscall entries handed out so far."""

    def next_syscall(self) -> SyscallEntry | None:
        """The next syscall entry, or None once the process's ending is reached."""
        peeked = self._peeked
        if peeked is not None:
            self._peeked = None
            self.consumed += 1
            return peeked
        entry = self._advance()
        if entry is not None:
            self.consumed += 1
        return entry

    def peek(self) -> SyscallEntry | None:
        if self._peeked is None:
            self._peeked = self._advance()
        return self._peeked

    def remaining(self) -> int:
        """Count (and consume) every syscall entry left (for an early-end report)."""
        n = 0
        while self.peek() is not None:
            self._peeked = None
            n += 1
        return n

    def _advance(self) -> SyscallEntry | None:
        if self._done:
            return None
        for entry in self._entries:
            if type(entry) is SyscallEntry:
                if self.pid is not None and entry.pid not in (self.pid, 0):
                    raise UnsupportedJournal(
                        f"the journal holds syscalls of several processes (pid {entry.pid}); "
                        "replaying multi-process journals is not supported yet")
                return entry
            if isinstance(entry, StartEvent):
                if self.pid is None:
                    self.pid = entry.pid
                elif entry.pid != self.pid:
                    raise UnsupportedJournal(
                        f"the journal starts a second process (pid {entry.pid}); "
                        "replaying multi-process journals is not supported yet")
            elif isinstance(entry, (ExitEvent, TrapEvent)):
                if self.pid is None or entry.pid == self.pid:
                    self.ending = entry
                    self._done = True
                    return None
        self._done = True
        return None

    def drain(self) -> None:
        """Read to the end of the file, so a truncated or corrupt tail after the
        ending is still reported."""
        for _ in self._entries:
            pass

    def guarded_peek(self) -> SyscallEntry | None:
        """``peek`` with journal errors wrapped for use inside a host call."""
        try:
            return self.peek()
        except JournalError as exc:
            raise JournalAbort(exc) from exc

    def guarded_next(self) -> SyscallEntry | None:
        """``next_syscall`` with journal errors wrapped for use inside a host call."""
        try:
            return self.next_syscall()
        except JournalError as exc:
            raise JournalAbort(exc) from exc
