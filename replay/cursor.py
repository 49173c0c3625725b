"""Walking a journal's entries in replay order.

The reader yields entries lazily (bounded memory whatever the journal's
length), so a truncated or corrupt journal surfaces only when replay reaches
the damaged frame, i.e. inside a host call. A ``JournalError`` raised there
would look like a host bug to the adapter; the cursor wraps it in
``JournalAbort`` (a ``GuestAbort``), and the engine re-raises the original.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from wasi_rr.host.adapter import GuestAbort
from wasi_rr.journal import (
    Entry,
    ExitEvent,
    JournalError,
    StartEvent,
    SyscallEntry,
    TrapEvent,
)
from wasi_rr.journal.codec import RawItem

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
    ``TrapEvent``, None if the journal has no ending).

    It walks the reader's decoded batches (``JournalReader.batches``), where a
    syscall is a plain tuple in ``SyscallEntry`` field order: ``peek_raw``/``take``
    give the fast path that tuple without building an entry object per call;
    ``peek``/``next_syscall`` build the ``SyscallEntry`` on demand. Built from a
    plain entry iterator (``JournalCursor(entries)``) it works the same.
    """

    __slots__ = ("_batches", "_batch", "_i", "_raw", "_peeked", "_done", "pid", "ending",
                 "consumed")

    def __init__(self, entries: Iterator[Entry] | None = None, *,
                 batches: Iterator[list[RawItem]] | None = None) -> None:
        if batches is None:
            if entries is None:
                raise TypeError("JournalCursor needs entries or batches")
            batches = _as_batches(entries)
        self._batches = batches
        self._batch: list[RawItem] = []
        self._i = 0
        self._raw: tuple[Any, ...] | None = None
        """The next syscall (raw tuple) once peeked; the fast path reads it directly."""
        self._peeked: SyscallEntry | None = None
        """``_raw`` as an entry, once someone asked for one."""
        self._done = False
        self.pid: int | None = None
        self.ending: ExitEvent | TrapEvent | None = None
        self.consumed = 0
        """Syscall entries handed out so far."""

    def next_syscall(self) -> SyscallEntry | None:
        """The next syscall entry, or None once the process's ending is reached."""
        entry = self.peek()
        if entry is not None:
            self.take()
        return entry

    def peek(self) -> SyscallEntry | None:
        entry = self._peeked
        if entry is None:
            raw = self._raw
            if raw is None:
                raw = self._raw = self._advance()
                if raw is None:
                    return None
            entry = self._peeked = SyscallEntry(*raw)
        return entry

    def peek_raw(self) -> tuple[Any, ...] | None:
        """The next syscall as a raw tuple (``SyscallEntry`` field order), not consumed."""
        raw = self._raw
        if raw is None:
            raw = self._raw = self._advance()
        return raw

    def take(self) -> None:
        """Consume the peeked syscall."""
        self._raw = None
        self._peeked = None
        self.consumed += 1

    def remaining(self) -> int:
        """Count (and consume) every syscall entry left (for an early-end report)."""
        n = 0
        while self.peek_raw() is not None:
            self._raw = None
            self._peeked = None
            n += 1
        return n

    def _advance(self) -> tuple[Any, ...] | None:
        if self._done:
            return None
        while True:
            batch = self._batch
            i = self._i
            if i >= len(batch):
                for batch in self._batches:
                    if batch:
                        break
                else:
                    self._done = True
                    self._batch = []
                    self._i = 0
                    return None
                self._batch = batch
                i = 0
            entry = batch[i]
            self._i = i + 1
            if type(entry) is tuple:
                pid = entry[7]
                if self.pid is not None and pid != self.pid and pid != 0:
                    raise UnsupportedJournal(
                        f"the journal holds syscalls of several processes (pid {pid}); "
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

    def drain(self) -> None:
        """Read to the end of the file, so a truncated or corrupt tail after the
        ending is still reported."""
        for _ in self._batches:
            pass

    def guarded_peek(self) -> SyscallEntry | None:
        """``peek`` with journal errors wrapped for use inside a host call."""
        try:
            return self.peek()
        except JournalError as exc:
            raise JournalAbort(exc) from exc

    def guarded_peek_raw(self) -> tuple[Any, ...] | None:
        """``peek_raw`` with journal errors wrapped for use inside a host call."""
        try:
            return self.peek_raw()
        except JournalError as exc:
            raise JournalAbort(exc) from exc

    def guarded_next(self) -> SyscallEntry | None:
        """``next_syscall`` with journal errors wrapped for use inside a host call."""
        try:
            return self.next_syscall()
        except JournalError as exc:
            raise JournalAbort(exc) from exc


def _as_batches(entries: Iterator[Entry]) -> Iterator[list[RawItem]]:
    """Typed entries as one-item batches, syscalls as raw tuples."""
    for e in entries:
        if type(e) is SyscallEntry:
            yield [(e.seq, e.module, e.name, e.params, e.inputs, e.errno, e.writes, e.pid)]
        else:
            yield [e]
