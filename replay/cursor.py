"""Walking a journal's entries in replay order.

The reader yields entries lazily (bounded memory whatever the journal's
length), so a truncated or corrupt journal surfaces only when replay reaches
the damaged frame, i.e. inside a host call. A ``JournalError`` raised there
would look like a host bug to the adapter; the cursor wraps it in
``JournalAbort`` (a ``GuestAbort``), and the engine re-raises the original.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from wasi_rr.host.boundary.adapter import GuestAbort
from wasi_rr.journal import (
    Entry,
    ExitEvent,
    JournalCorrupt,
    JournalError,
    StartEvent,
    SyscallEntry,
    TrapEvent,
)
from wasi_rr.journal.codec import FrameDecodeError, RawBatch, SyscallBatch

__all__ = ["JournalAbort", "JournalCursor", "UnsupportedJournal"]

_KEEP = 8
"""Past batches kept for ``recent`` (each holds at least one syscall, and a
divergence report shows ``divergence.HISTORY`` (5) calls plus the current one)."""


class JournalAbort(GuestAbort):
    """The journal became unreadable mid-replay; ``error`` is the journal's exception."""

    def __init__(self, error: JournalError) -> None:
        super().__init__(str(error))
        self.error = error


class UnsupportedJournal(JournalError):
    """A well-formed journal this replay engine cannot re-drive (e.g. several processes)."""


_EMPTY = SyscallBatch(0, 0, [], {})


class JournalCursor:
    """Hands out the syscall entries of the journal's first process, in order,
    and remembers how that process ended (``ending``: an ``ExitEvent`` or
    ``TrapEvent``, None if the journal has no ending).

    It walks the reader's batches (``JournalReader.batches``): the current
    batch's ``items`` and the index ``_i`` of the next unconsumed item are the
    whole position, so the replay fast path (``replay.fastpath``) may read the
    items and move ``_i`` itself (it must stay within the batch; moving to the
    next batch is the cursor's job, which also checks the process).
    ``peek_raw`` gives the next syscall as a plain tuple (``SyscallEntry`` field
    order), ``peek``/``next_syscall`` as a ``SyscallEntry``; both are built on
    demand, as an item may be a compact repeat (``codec.SyscallBatch``). Built
    from a plain entry iterator (``JournalCursor(entries)``) it works the same.
    """

    __slots__ = ("_batches", "_batch", "_items", "_i", "_before", "_past", "_done", "pid",
                 "ending")

    def __init__(self, entries: Iterator[Entry] | None = None, *,
                 batches: Iterator[RawBatch] | None = None) -> None:
        if batches is None:
            if entries is None:
                raise TypeError("JournalCursor needs entries or batches")
            batches = _as_batches(entries)
        self._batches = batches
        self._batch = _EMPTY
        self._items: list[tuple[Any, ...]] = _EMPTY.items
        """``_batch.items`` (read on the fast path)."""
        self._i = 0
        """Index in ``_items`` of the next syscall (every item before it is consumed)."""
        self._before = 0
        """Syscalls consumed in the batches before the current one."""
        self._past: deque[SyscallBatch] = deque(maxlen=_KEEP)
        """The last batches before the current one (for ``recent``)."""
        self._done = False
        self.pid: int | None = None
        self.ending: ExitEvent | TrapEvent | None = None

    @property
    def consumed(self) -> int:
        """Syscall entries handed out so far."""
        return self._before + self._i

    @property
    def batch(self) -> SyscallBatch:
        """The current batch (its ``items`` from index ``_i`` on are not consumed)."""
        return self._batch

    def next_syscall(self) -> SyscallEntry | None:
        """The next syscall entry, or None once the process's ending is reached."""
        entry = self.peek()
        if entry is not None:
            self._i += 1
        return entry

    def peek(self) -> SyscallEntry | None:
        raw = self.peek_raw()
        return None if raw is None else SyscallEntry(*raw)

    def peek_raw(self) -> tuple[Any, ...] | None:
        """The next syscall as a raw tuple (``SyscallEntry`` field order), not consumed."""
        if self._i >= len(self._items) and not self._advance():
            return None
        try:
            return self._batch.raw(self._i)
        except FrameDecodeError as exc:
            raise JournalCorrupt(self._batch.where, str(exc), self.consumed) from exc

    def take(self) -> None:
        """Consume the peeked syscall."""
        self._i += 1

    def remaining(self) -> int:
        """Count (and consume) every syscall entry left (for an early-end report)."""
        n = 0
        while self._i < len(self._items) or self._advance():
            n += len(self._items) - self._i
            self._i = len(self._items)
        return n

    def recent(self, count: int, skip: int = 0) -> list[SyscallEntry]:
        """The last ``count`` consumed syscalls before the last ``skip`` consumed
        ones, oldest first (what a divergence report shows as history). Rebuilt
        from the batches, so the fast path keeps no per-call history."""
        out: list[SyscallEntry] = []
        want = count + skip
        batches = [*self._past, self._batch]
        ends = [len(b.items) for b in self._past] + [self._i]
        for b, end in zip(reversed(batches), reversed(ends)):
            for k in range(end - 1, -1, -1):
                if want == 0:
                    break
                if want <= count:
                    out.append(b.entry(k))
                want -= 1
        out.reverse()
        return out

    def _advance(self) -> bool:
        """Move to the next batch holding a syscall of the process; False at its end."""
        if self._done:
            return False
        for batch in self._batches:
            if type(batch) is SyscallBatch:
                if not batch.items:
                    continue
                pid = batch.pid
                if self.pid is not None and pid != self.pid and pid != 0:
                    raise UnsupportedJournal(
                        f"the journal holds syscalls of several processes (pid {pid}); "
                        "replaying multi-process journals is not supported yet")
                if self._batch.items:
                    self._past.append(self._batch)
                self._before += self._i
                self._batch = batch
                self._items = batch.items
                self._i = 0
                return True
            if isinstance(batch, StartEvent):
                if self.pid is None:
                    self.pid = batch.pid
                elif batch.pid != self.pid:
                    raise UnsupportedJournal(
                        f"the journal starts a second process (pid {batch.pid}); "
                        "replaying multi-process journals is not supported yet")
            elif isinstance(batch, (ExitEvent, TrapEvent)):
                if self.pid is None or batch.pid == self.pid:
                    self.ending = batch
                    break
        self._done = True
        return False

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


def _as_batches(entries: Iterator[Entry]) -> Iterator[RawBatch]:
    """Typed entries as one-item batches."""
    for e in entries:
        if type(e) is SyscallEntry:
            yield SyscallBatch(e.seq, e.pid, [(e.seq, e.module, e.name, e.params, e.inputs,
                                               e.errno, e.writes, e.pid)], {})
        else:
            yield e
