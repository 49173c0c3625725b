"""Snapshots and processes in journals: recording them, listing them, loading one.

The glue between ``host.procs`` (which produces ``Capture``s, forks and
process switches) and the journal (``SnapshotEvent``, ``ForkEvent``,
``StartEvent``/``ExitEvent`` per process, ``ctx`` entries through
``JournalWriter.set_process``).

A snapshot's memory is stored as a delta against the previous snapshot of the
same process (``Snapshot.to_bytes(base=previous)``), so loading snapshot K
decodes the chain from the first one; each link is a few milliseconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgpack

from wasi_rr.host.runtime.policy import SnapshotPolicy
from wasi_rr.host.table import SIGNATURES, Startup

from .argtypes import positive_int
from .errors import ConfigError, WasiRrError
from .exitcodes import ExitStatus
from .journal import (
    Call,
    ExitEvent,
    ForkEvent,
    JournalError,
    JournalHeader,
    JournalTruncated,
    JournalWriteError,
    SnapshotEvent,
    StartEvent,
    TrapEvent,
    open_journal,
)

if TYPE_CHECKING:  # the asyncify machinery loads only when a snapshot is decoded
    from wasi_rr.host.runtime.process import Outcome
    from wasi_rr.host.runtime.procs import Capture, Member
    from wasi_rr.host.runtime.snapshot import Snapshot

    from .record import JournalRecorder

__all__ = [
    "JournalProcessEvents",
    "LoadedSnapshot",
    "ProcInfo",
    "SnapshotInfo",
    "SnapshotNotFound",
    "add_snapshot_options",
    "first_call_before",
    "list_snapshots",
    "load_snapshot",
    "policy_from_args",
    "process_tree",
    "rebind_mounts",
]


class SnapshotNotFound(WasiRrError):
    """The journal has no (such) snapshot."""

    status = ExitStatus.TOOL_ERROR


class JournalProcessEvents:
    """``host.procs.ProcessEvents`` writing into a ``JournalWriter``."""

    def __init__(self, recorder: JournalRecorder, *, first_id: int = 1,
                 base: tuple[int, int, Snapshot] | None = None) -> None:
        self.recorder = recorder
        self.writer = recorder.writer
        self.next_id = first_id
        self._previous: dict[int, tuple[int, Snapshot]] = {}
        """Per pid: (id, snapshot) of its last snapshot, the base of the next delta."""
        if base is not None:  # (pid, id, snapshot) already in the journal
            self._previous[base[0]] = (base[1], base[2])
        self.taken: list[tuple[int, int, str]] = []
        """(id, seq, trigger) of every snapshot written."""

    def on_snapshot(self, capture: Capture) -> None:
        previous = self._previous.get(capture.pid)
        data = capture.snapshot.to_bytes(base=previous[1] if previous else None)
        sid = self.next_id
        self.next_id += 1
        extra: dict[str, Any] = {"capture_ns": capture.capture_ns}
        if capture.family:
            extra["family"] = [member_to_wire(m, capture.snapshot) for m in capture.family]
            extra["order"] = list(capture.order)
        self.writer.write_event(SnapshotEvent(
            capture.pid, sid, capture.seq, capture.trigger.value, data,
            absolute_mounts(capture.fs),
            base=previous[0] if previous else None,
            module_sha256=capture.snapshot.module_sha256, time_unix_ns=time.time_ns(),
            extra=extra))
        self._previous[capture.pid] = (sid, capture.snapshot)
        self.taken.append((sid, capture.seq, capture.trigger.value))

    def on_fork(self, parent: int, child: int, seq: int, argv: list[bytes]) -> None:
        r = self.recorder
        r.event(ForkEvent(parent, child, seq))
        names = tuple(a.decode("utf-8", "replace") for a in argv)
        r.event(StartEvent(child, r.redacted(names), time.time_ns()))
        r.set_process(parent, seq)  # the group switches explicitly to the child

    def on_exit(self, pid: int, outcome: Outcome) -> None:
        if outcome.trap is not None:
            self.recorder.event(TrapEvent(pid, outcome.trap))
        else:
            self.recorder.event(ExitEvent(pid, outcome.exit_code))


def member_to_wire(m: Member, main: Snapshot) -> list[Any]:
    """A family member: its own snapshot in full (``b""`` for the snapshot's
    own process, whose state is the entry's main, delta-encoded snapshot)."""
    state = None if m.snapshot is None else b"" if m.snapshot is main else m.snapshot.to_bytes()
    return [m.pid, m.ppid, m.seq, state, m.fork_answer, m.parked, m.exit_code, m.trap,
            m.reaped, list(m.argv)]


def _member_from_wire(w: Any, main: Snapshot) -> Member:
    from wasi_rr.host.runtime.procs import Member
    from wasi_rr.host.runtime.snapshot import Snapshot

    pid, ppid, seq, state, fork_answer, parked, exit_code, trap, reaped, argv = w[:10]
    snapshot = None if state is None else main if state == b"" else Snapshot.from_bytes(state)
    return Member(int(pid), int(ppid), int(seq), snapshot, fork_answer, bool(parked),
                  exit_code, trap, bool(reaped), tuple(bytes(a) for a in argv))


def absolute_mounts(frozen: bytes) -> bytes:
    """The frozen ``WasiFs`` with relative host mount paths made absolute (against
    the current directory), so a resume elsewhere finds the same directories."""
    image = msgpack.unpackb(frozen, raw=False, strict_map_key=False)
    changed = False
    for mount in image["mounts"]:
        if mount[1] is not None and not os.path.isabs(mount[1]):
            mount[1] = os.path.abspath(mount[1])
            changed = True
    if not changed:
        return frozen
    packed: bytes = msgpack.packb(image, use_bin_type=True)
    return packed


# -- command-line options -----------------------------------------------------------

SNAPSHOT_ON = {"stdin": "on_stdin", "exit": "on_exit", "signal": "on_signal"}


def add_snapshot_options(parser: argparse.ArgumentParser) -> None:
    """``--snapshot-every N`` and ``--snapshot-on stdin|exit|signal``."""
    parser.add_argument(
        "--snapshot-every", type=positive_int, default=0, metavar="N",
        help="journal a snapshot before every N-th syscall (resume/fork from it later)")
    parser.add_argument(
        "--snapshot-on", action="append", default=[], choices=sorted(SNAPSHOT_ON),
        help="journal a snapshot at the first stdin read, at proc_exit, or at the next "
             "syscall after SIGUSR1 reaches wasi-rr (repeatable)")


def policy_from_args(args: argparse.Namespace) -> SnapshotPolicy:
    """The snapshot triggers the options ask for (``--snapshot-every`` is
    already >= 1 when given: ``argtypes.positive_int``)."""
    every = getattr(args, "snapshot_every", 0) or 0
    on = {SNAPSHOT_ON[name]: True for name in getattr(args, "snapshot_on", [])}
    return SnapshotPolicy(every=every, **on)


# -- reading snapshots back ------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """One snapshot of a journal, for listings."""

    id: int
    pid: int
    seq: int
    trigger: str
    base: int | None
    snapshot_bytes: int
    fs_bytes: int
    time_unix_ns: int


def _open(path: str | os.PathLike[str]) -> Any:
    """``open_journal`` with an unreadable file as a one-line tool error."""
    try:
        return open_journal(path)
    except OSError as exc:
        raise WasiRrError(f"cannot open journal {path}: {exc.strerror or exc}") from None


def _snapshot_events(path: str | os.PathLike[str]) -> Iterator[SnapshotEvent]:
    with _open(path) as reader:
        yield from _read_snapshots(reader, path)


def _read_snapshots(reader: Any, path: str | os.PathLike[str]) -> Iterator[SnapshotEvent]:
    """The snapshot entries; a *truncated* journal (a recording that was killed,
    e.g. after a SIGUSR1 snapshot) still yields every snapshot before the cut,
    with a warning on stderr. Corruption is an error."""
    seen = False
    try:
        for entry in reader:
            if isinstance(entry, SnapshotEvent):
                seen = True
                yield entry
    except JournalTruncated as exc:
        if not seen:
            raise
        print(f"wasi-rr: warning: {path}: {exc}; using the snapshots before that point",
              file=sys.stderr, flush=True)


def list_snapshots(path: str | os.PathLike[str]) -> list[SnapshotInfo]:
    """Every snapshot of the journal, in order (``JournalError`` if unreadable)."""
    return [SnapshotInfo(e.id, e.pid, e.seq, e.trigger, e.base, len(e.snapshot), len(e.fs),
                         e.time_unix_ns) for e in _snapshot_events(path)]


@dataclass(frozen=True)
class LoadedSnapshot:
    """A snapshot decoded from a journal, with what a resume needs."""

    id: int
    pid: int
    seq: int
    trigger: str
    snapshot: Snapshot
    fs: bytes
    header: JournalHeader
    module: bytes | None
    family: list[Member] = field(default_factory=list)
    """Every process when the snapshot was taken after a fork (else empty)."""
    order: list[int] = field(default_factory=list)


def load_snapshot(path: str | os.PathLike[str], snapshot_id: int | None = None
                  ) -> LoadedSnapshot:
    """Decode snapshot ``snapshot_id`` (default: the last one) of the journal.

    Raises ``SnapshotNotFound`` (none / no such id), ``JournalError``."""
    from wasi_rr.host.runtime.snapshot import Snapshot, SnapshotError

    decoded: dict[int, Snapshot] = {}
    chosen: SnapshotEvent | None = None
    with _open(path) as reader:
        header = reader.header
        module = reader.module_bytes()
        events = list(_read_snapshots(reader, path))
    if not events:
        raise SnapshotNotFound(f"{path}: the journal holds no snapshot "
                               "(record with --snapshot-every N or --snapshot-on ...)")
    for event in events:
        base = decoded.get(event.base) if event.base is not None else None
        if event.base is not None and base is None:
            raise SnapshotNotFound(f"{path}: snapshot {event.id} is a delta against "
                                   f"missing snapshot {event.base}")
        try:
            decoded[event.id] = Snapshot.from_bytes(event.snapshot, base=base)
        except SnapshotError as exc:
            raise SnapshotNotFound(f"{path}: snapshot {event.id}: {exc}") from None
        if snapshot_id is None or event.id == snapshot_id:
            chosen = event
            if snapshot_id is not None:
                break
    if chosen is None:
        ids = ", ".join(str(e.id) for e in events)
        raise SnapshotNotFound(f"{path}: no snapshot {snapshot_id} (it has {ids})")
    main = decoded[chosen.id]
    try:
        family = [_member_from_wire(w, main) for w in chosen.extra.get("family") or []]
    except (SnapshotError, ValueError, TypeError) as exc:
        raise SnapshotNotFound(f"{path}: snapshot {chosen.id}: bad process family: {exc}"
                               ) from None
    return LoadedSnapshot(chosen.id, chosen.pid, chosen.seq, chosen.trigger, main,
                          chosen.fs, header, module, family,
                          [int(p) for p in chosen.extra.get("order") or []])


def first_call_before(path: str | os.PathLike[str], snapshot_id: int,
                      startup: Startup) -> Call | None:
    """The first call handing the guest ``startup`` data (the table's
    ``Signature.startup``) made by any process before snapshot ``snapshot_id``
    was taken, or None. ``resume`` asks it before letting an option change what
    the guest may already have read (``--env``: the environ calls)."""
    with _open(path) as reader:
        for entry in reader:
            if isinstance(entry, SnapshotEvent) and entry.id == snapshot_id:
                return None
            if isinstance(entry, Call):
                sig = SIGNATURES.get((entry.module, entry.name))
                if sig is not None and sig.startup is startup:
                    return entry
    return None


# -- mounts -------------------------------------------------------------------------

def rebind_mounts(frozen: bytes, dirs: dict[str, Path]) -> bytes:
    """The frozen ``WasiFs`` with host mounts re-bound by guest path (``resume``'s
    docstring: a mount comes back at its guest path, from ``--dir`` or from the
    recorded host path)."""
    try:
        image = msgpack.unpackb(frozen, raw=False, strict_map_key=False)
        mounts = image["mounts"]
    except (ValueError, KeyError, TypeError, msgpack.UnpackException) as exc:
        raise ConfigError(f"snapshot holds an unreadable filesystem image: {exc}") from None
    unused = dict(dirs)
    for mount in mounts:
        guest, host = mount[0], mount[1]
        if host is None:
            if guest in unused:
                raise ConfigError(
                    f"--dir for {guest}: that guest path was an in-memory "
                    "(tmpfs) mount when the snapshot was taken"
                )
            continue
        chosen = unused.pop(guest, None)
        path = Path(chosen) if chosen is not None else Path(host)
        if not path.is_dir():
            hint = (
                f"--dir {path}::{guest}: not a directory"
                if chosen is not None
                else (
                    f"the snapshot needs a host directory for guest path {guest} (recorded "
                    f"from {host}, missing here): pass --dir HOST::{guest}"
                )
            )
            raise ConfigError(hint)
        mount[1] = str(path.resolve())
    if unused:
        raise ConfigError(
            f"--dir for {', '.join(sorted(unused))}: the snapshot has no host "
            "mount at that guest path"
        )
    return msgpack.packb(image, use_bin_type=True)  # type: ignore[no-any-return]


# -- process tree ---------------------------------------------------------------------


@dataclass(slots=True)
class ProcInfo:
    pid: int
    ppid: int
    argv: tuple[str, ...]
    status: int | None = None
    trap: str | None = None
    syscalls: int = 0


def process_tree(path: str | os.PathLike[str]) -> list[ProcInfo]:
    """Every process of the journal (pid order) with its parent and ending."""
    procs: dict[int, ProcInfo] = {}
    parents: dict[int, int] = {}
    with _open(path) as reader:
        for entry in reader:
            if isinstance(entry, Call):
                info = procs.get(entry.pid)
                if info is not None:
                    info.syscalls += 1
            elif isinstance(entry, ForkEvent):
                parents[entry.child] = entry.pid
            elif isinstance(entry, StartEvent):
                procs[entry.pid] = ProcInfo(entry.pid, parents.get(entry.pid, 0), entry.argv)
            elif isinstance(entry, ExitEvent) and entry.pid in procs:
                procs[entry.pid].status = entry.status
            elif isinstance(entry, TrapEvent) and entry.pid in procs:
                procs[entry.pid].trap = entry.message
    return [procs[p] for p in sorted(procs)]


def journal_error(path: Any, exc: JournalError | JournalWriteError) -> WasiRrError:
    err = WasiRrError(f"{path}: {exc}")
    err.status = ExitStatus.JOURNAL_ERROR
    return err
