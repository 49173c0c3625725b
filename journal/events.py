"""Process events (start, exit, trap, snapshot, fork, context switch) and their wire form.

An event record's bytes are one msgpack array ``[kind, {fields}]``: a map, so a
newer minor version can add fields that older readers ignore. Decoding checks
every field's type and range (``EventError`` names the field): journals are
untrusted input, and an event with a string where a pid belongs must become a
precise "corrupt" report, never an exception deep inside replay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import msgpack

KIND_START: Final = "start"
KIND_EXIT: Final = "exit"
KIND_TRAP: Final = "trap"
KIND_SNAPSHOT: Final = "snap"
KIND_FORK: Final = "fork"
KIND_CTX: Final = "ctx"

_U32_MAX: Final = 0xFFFF_FFFF
_U64_MAX: Final = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class StartEvent:
    """A process started: ``argv`` as the guest sees it."""

    pid: int
    argv: tuple[str, ...] = ()
    time_unix_ns: int = 0


@dataclass(frozen=True, slots=True)
class ExitEvent:
    """A process exited with ``status`` (``proc_exit`` code, 0 when ``_start`` returned)."""

    pid: int
    status: int
    elapsed_ns: int = 0
    interrupted: bool = False
    """The recording was stopped by the user (Ctrl-C): the journal ends here,
    not because the guest did."""


@dataclass(frozen=True, slots=True)
class TrapEvent:
    """A process trapped (unreachable, out of bounds, host bug turned into a trap...)."""

    pid: int
    message: str
    elapsed_ns: int = 0


@dataclass(frozen=True, slots=True)
class SnapshotEvent:
    """A snapshot of process ``pid`` stopped before its syscall ``seq``.

    ``snapshot`` is the host's serialized ``Snapshot`` (memory, globals, asyncify
    stack, interrupted call), its memory a delta against snapshot ``base`` of
    the same journal (None: a full image); ``fs`` is the frozen ``WasiFs``
    family. The journal does not interpret either blob. ``trigger`` says why it
    was taken (``every``, ``stdin``, ``exit``, ``signal``, ``debug``...).
    """

    pid: int
    id: int
    seq: int
    trigger: str
    snapshot: bytes
    fs: bytes
    base: int | None = None
    module_sha256: str = ""
    time_unix_ns: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ForkEvent:
    """Process ``pid`` forked ``child`` at its syscall ``seq`` (WASIX ``proc_fork``)."""

    pid: int
    child: int
    seq: int = 0


@dataclass(frozen=True, slots=True)
class CtxEvent:
    """The following syscalls belong to process ``pid``, starting at ``seq``."""

    pid: int
    seq: int


Event = StartEvent | ExitEvent | TrapEvent | SnapshotEvent | ForkEvent | CtxEvent


class EventError(ValueError):
    """An event whose payload does not follow the format."""


def event_to_wire(event: Event) -> bytes:
    """The msgpack payload of an event record."""
    body: list[Any]
    match event:
        case StartEvent():
            body = [KIND_START, {"pid": event.pid, "argv": list(event.argv),
                                 "time_unix_ns": event.time_unix_ns}]
        case ExitEvent():
            fields: dict[str, Any] = {"pid": event.pid, "status": event.status,
                                      "elapsed_ns": event.elapsed_ns}
            if event.interrupted:
                fields["interrupted"] = True
            body = [KIND_EXIT, fields]
        case TrapEvent():
            body = [KIND_TRAP, {"pid": event.pid, "message": event.message,
                                "elapsed_ns": event.elapsed_ns}]
        case SnapshotEvent():
            body = [KIND_SNAPSHOT, {"pid": event.pid, "id": event.id, "seq": event.seq,
                                    "trigger": event.trigger, "snapshot": event.snapshot,
                                    "fs": event.fs, "base": event.base,
                                    "module_sha256": event.module_sha256,
                                    "time_unix_ns": event.time_unix_ns, "extra": event.extra}]
        case ForkEvent():
            body = [KIND_FORK, {"pid": event.pid, "child": event.child, "seq": event.seq}]
        case CtxEvent():
            body = [KIND_CTX, {"pid": event.pid, "seq": event.seq}]
        case _:
            raise TypeError(f"not a journal event: {event!r:.80}")
    return msgpack.packb(body, use_bin_type=True)


def event_from_wire(payload: bytes) -> Event | None:
    """Decode an event payload; None for a kind of a newer minor version (skip it)."""
    try:
        obj = msgpack.unpackb(payload, raw=False, strict_map_key=False, use_list=True)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise EventError(f"undecodable event ({exc})") from None
    if (not isinstance(obj, list) or len(obj) < 2 or not isinstance(obj[0], str)
            or not isinstance(obj[1], dict)):
        raise EventError("event is not [kind, {fields}]")
    kind, m = obj[0], obj[1]
    decode = _DECODERS.get(kind)
    return decode(m) if decode is not None else None


def _int(m: dict[Any, Any], key: str, top: int = _U64_MAX, default: int | None = None) -> int:
    value = m.get(key, default)
    if type(value) is not int or not 0 <= value <= top:
        raise EventError(f"field {key!r} is {value!r:.40} (wanted an integer 0..{top})")
    return value


def _str(m: dict[Any, Any], key: str, default: str | None = None) -> str:
    value = m.get(key, default)
    if not isinstance(value, str):
        raise EventError(f"field {key!r} is {value!r:.40} (wanted a string)")
    return value


def _bin(m: dict[Any, Any], key: str) -> bytes:
    value = m.get(key)
    if not isinstance(value, bytes):
        raise EventError(f"field {key!r} is a {type(value).__name__} (wanted bytes)")
    return value


def _start(m: dict[Any, Any]) -> StartEvent:
    argv = m.get("argv", [])
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise EventError("field 'argv' is not a list of strings")
    return StartEvent(_int(m, "pid", _U32_MAX), tuple(argv), _int(m, "time_unix_ns", default=0))


def _exit(m: dict[Any, Any]) -> ExitEvent:
    interrupted = m.get("interrupted", False)
    if not isinstance(interrupted, bool):
        raise EventError("field 'interrupted' is not a boolean")
    return ExitEvent(_int(m, "pid", _U32_MAX), _int(m, "status", _U32_MAX),
                     _int(m, "elapsed_ns", default=0), interrupted)


def _trap(m: dict[Any, Any]) -> TrapEvent:
    return TrapEvent(_int(m, "pid", _U32_MAX), _str(m, "message"), _int(m, "elapsed_ns", default=0))


def _snapshot(m: dict[Any, Any]) -> SnapshotEvent:
    base = m.get("base")
    if base is not None and (type(base) is not int or base < 0):
        raise EventError(f"field 'base' is {base!r:.40} (wanted a snapshot id or nil)")
    extra = m.get("extra", {})
    if not isinstance(extra, dict):
        raise EventError("field 'extra' is not a map")
    return SnapshotEvent(_int(m, "pid", _U32_MAX), _int(m, "id", _U32_MAX), _int(m, "seq"),
                         _str(m, "trigger"), _bin(m, "snapshot"), _bin(m, "fs"), base,
                         _str(m, "module_sha256", ""), _int(m, "time_unix_ns", default=0), extra)


def _fork(m: dict[Any, Any]) -> ForkEvent:
    return ForkEvent(_int(m, "pid", _U32_MAX), _int(m, "child", _U32_MAX), _int(m, "seq"))


def _ctx(m: dict[Any, Any]) -> CtxEvent:
    return CtxEvent(_int(m, "pid", _U32_MAX), _int(m, "seq"))


_DECODERS: Final[dict[str, Callable[[dict[Any, Any]], Event]]] = {
    KIND_START: _start, KIND_EXIT: _exit, KIND_TRAP: _trap,
    KIND_SNAPSHOT: _snapshot, KIND_FORK: _fork, KIND_CTX: _ctx,
}
