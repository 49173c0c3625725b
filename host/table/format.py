"""strace-like text for one call, derived from the signature table.

``dump``, divergence reports, ``--verify`` reports and the debugger print calls
through here, so a call looks the same everywhere. Every function takes plain
values (params, the input bytes in journal order, errno, ``(addr, bytes)``
writes) and never raises on odd data: journals are untrusted input and a
printer that crashes on them would hide exactly the entry a user needs to see.
An input may be a *digest* (any object with ``length``, e.g. the journal's
``InputDigest``): it prints as a placeholder.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from typing import Any, Final

from wasi_rr.host.kernel.wasi_types import (
    ClockId,
    Errno,
    EventRwFlags,
    EventType,
    FdFlags,
    Filetype,
    SubclockFlags,
)

from .roles import Role
from .signatures import SIGNATURES, Signature
from .structs import IOVEC, OutKind, iter_dirents, unpack_events, unpack_subscriptions

_PREVIEW_BYTES: Final = 48


def pybytes(data: bytes) -> str:
    """``b"..."`` with double quotes, as strace users expect."""
    text = repr(bytes(data))
    body = text[2:-1]
    if text[1] == "'":
        body = body.replace('"', '\\"').replace("\\'", "'")
    return f'b"{body}"'


def bytes_repr(data: Any, limit: int = _PREVIEW_BYTES) -> str:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        return f"<{getattr(data, 'length', '?')} bytes, stored as a digest>"
    if len(data) <= limit:
        return pybytes(bytes(data))
    return f"{pybytes(bytes(data[:limit]))}...({len(data)} bytes)"


def flag_names(cls: type[enum.IntFlag], value: int) -> str:
    """``OFlags, 9 -> "CREAT|TRUNC"``; unknown bits are kept as hex, 0 is ``0``."""
    if value == 0:
        return "0"
    names: list[str] = []
    rest = value
    for member in cls:
        if member.value and value & member.value == member.value:
            names.append(member.name or hex(member.value))
            rest &= ~member.value
    if rest:
        names.append(hex(rest))
    return "|".join(names)


def enum_name(cls: type[enum.IntEnum], value: int) -> str:
    try:
        return cls(value).name or str(value)
    except ValueError:
        return str(value)


def errno_name(value: int) -> str:
    try:
        return Errno(value).name
    except ValueError:
        return f"errno({value})"


def param_text(sig: Signature, index: int, value: int) -> str:
    """One plain parameter as a human reads it (flags by name, signed offsets...)."""
    p = sig.params[index]
    if p.role is Role.SIGNED:
        return str(value - (1 << 64) if value >= 1 << 63 else value)
    if p.role in (Role.FLAGS, Role.RIGHTS) and p.type is not None:
        if value.bit_count() > 4:
            return f"{value:#x}"
        return flag_names(p.type, value)  # type: ignore[arg-type]
    if p.role is Role.ENUM and p.type is not None:
        return enum_name(p.type, value)  # type: ignore[arg-type]
    if p.is_int or p.role is Role.LEN:
        return str(value)
    return f"{value:#x}"


def format_question(module: str, name: str, params: Sequence[int],
                    inputs: Sequence[Any]) -> str:
    """The ``name(args)`` half of a call line: what the guest asked."""
    sig = SIGNATURES.get((module, name))
    if sig is None or len(params) != len(sig.params):
        label = name if sig is not None else f"{module}::{name}"
        return f"{label}{tuple(params)}"
    left = list(inputs)
    consumed = {p.length for p in sig.params
                if p.role in (Role.IN_STR, Role.IN_IOVS, Role.OUT_IOVS)}
    parts: list[str] = []
    for i, p in enumerate(sig.params):
        v = params[i]
        text: str | None
        match p.role:
            case Role.IN_STR:
                text = bytes_repr(left.pop(0)) if left else f"{v:#x}"
            case Role.IN_IOVS:
                text = _in_iovs(left, v)
            case Role.OUT_IOVS:
                text = _out_iovs(left, v)
            case Role.IN_SUBS:
                text = _subscriptions(left.pop(0)) if left else f"{v:#x}"
            case Role.INOUT:
                if left:
                    left.pop(0)
                text = f"{v:#x}"
            case Role.OUT | Role.OUT_EVENTS:
                text = None  # shown with the results
            case Role.LEN:
                text = None if p.name in consumed else str(v)
            case _:
                text = param_text(sig, i, v)
        if text is not None:
            parts.append(f"{p.name}={text}")
    return f"{sig.label}({', '.join(parts)})"


def _in_iovs(left: list[Any], ptr: int) -> str:
    if not left:
        return f"{ptr:#x}"
    array = left.pop(0)
    n = len(array) // IOVEC.size if isinstance(array, (bytes, bytearray)) else 0
    bufs = [left.pop(0) for _ in range(min(n, len(left)))]
    return "[" + ", ".join(bytes_repr(b) for b in bufs) + "]"


def _out_iovs(left: list[Any], ptr: int) -> str:
    if not left:
        return f"{ptr:#x}"
    array = left.pop(0)
    if not isinstance(array, (bytes, bytearray)):
        return bytes_repr(array)
    usable = bytes(array[:len(array) - len(array) % IOVEC.size])
    lengths = [length for _, length in IOVEC.iter_unpack(usable)]
    return f"[{len(lengths)} bufs, {sum(lengths)} bytes]"


def _subscriptions(raw: Any) -> str:
    if not isinstance(raw, (bytes, bytearray)):
        return bytes_repr(raw)
    items = []
    for userdata, tag, word, timeout, precision, flags in unpack_subscriptions(bytes(raw)):
        if tag == EventType.CLOCK:
            items.append(f"clock(userdata={userdata}, id={enum_name(ClockId, word)}, "
                         f"timeout={timeout}, precision={precision}, "
                         f"flags={flag_names(SubclockFlags, flags)})")
        else:
            items.append(f"{enum_name(EventType, tag).lower()}(userdata={userdata}, fd={word})")
    return "[" + ", ".join(items) + "]"


def _events(raw: bytes) -> str:
    items = []
    for userdata, error, tag, nbytes, flags in unpack_events(raw):
        text = f"{enum_name(EventType, tag).lower()}(userdata={userdata}, error={errno_name(error)}"
        if tag != EventType.CLOCK:
            text += f", nbytes={nbytes}, flags={flag_names(EventRwFlags, flags)}"
        items.append(text + ")")
    return "[" + ", ".join(items) + "]"


def _dirents(data: bytes) -> str:
    items = []
    used = 0
    for nxt, ino, namlen, ftype, name in iter_dirents(data):
        truncated = "..." if len(name) < namlen else ""
        items.append(f"({pybytes(name)}{truncated}, ino={ino}, {enum_name(Filetype, ftype)}, "
                     f"next={nxt})")
        used += 24 + namlen
    if used < len(data):
        items.append(f"<{len(data) - used} bytes of a truncated entry>")
    return "[" + ", ".join(items) + "]"


def format_answer(module: str, name: str, params: Sequence[int], errno: int,
                  writes: Sequence[tuple[int, bytes]]) -> str:
    """The ``= ERRNO {outs}`` half of a call line: what the guest observed."""
    sig = SIGNATURES.get((module, name))
    by_addr = {addr: data for addr, data in writes}
    outs: list[str] = []
    claimed: set[int] = set()
    if sig is not None and len(params) == len(sig.params):
        for i, p in enumerate(sig.params):
            addr = params[i]
            data = by_addr.get(addr)
            if data is None:
                continue
            text = _out_text(sig, p.role, p.out, p.name, data)
            if text is not None:
                claimed.add(addr)
                if text:
                    outs.append(text)
    rest = [d for a, d in writes if a not in claimed]
    if rest:
        outs.append(f"data={bytes_repr(b''.join(rest))}")
    tail = f" {{{', '.join(outs)}}}" if outs else ""
    return f"= {errno_name(errno)}{tail}"


def _out_text(sig: Signature, role: Role, kind: OutKind | None, name: str,
              data: bytes) -> str | None:
    if role in (Role.OUT, Role.INOUT) and kind is not None:
        if len(data) != kind.size:
            return None
        return f"{name}={_out_value(kind, data)}"
    if role is Role.OUT_EVENTS:
        return f"events={_events(data)}"
    if role is Role.OUT_STR_BUF:
        items = data.split(b"\0")[:-1] if data.endswith(b"\0") else [data]
        return f"{name}=[{', '.join(bytes_repr(i) for i in items)}]"
    if role is Role.OUT_DIRENTS:
        return f"{name}={_dirents(data)}"
    if role is Role.OUT_BUF:
        return f"{name}={bytes_repr(data)}"
    if role is Role.OUT_PTR_ARRAY:
        return ""  # guest addresses of the strings: noise in a trace (claimed, not shown)
    return None


def _out_value(kind: OutKind, data: bytes) -> str:
    fields = struct.unpack(kind.fmt, data)
    match kind:
        case OutKind.FDSTAT:
            ft, flags, base, inh = fields
            return (f"{{filetype={enum_name(Filetype, ft)}, flags={flag_names(FdFlags, flags)}, "
                    f"rights_base={base:#x}, rights_inheriting={inh:#x}}}")
        case OutKind.FILESTAT:
            dev, ino, ft, nlink, size, atim, mtim, ctim = fields
            return (f"{{dev={dev}, ino={ino}, filetype={enum_name(Filetype, ft)}, nlink={nlink}, "
                    f"size={size}, atim={atim}, mtim={mtim}, ctim={ctim}}}")
        case OutKind.PRESTAT:
            return f"{{tag={fields[0]}, name_len={fields[1]}}}"
        case OutKind.OPTION_PID:
            return f"{{pid={fields[1]}}}" if fields[0] else "{none}"
        case OutKind.JOIN_STATUS:
            tag, code = fields
            return {0: "{nothing}", 1: f"{{exit_normal={code}}}", 2: f"{{exit_signal={code}}}",
                    3: f"{{stopped={code}}}"}.get(tag, f"{{tag={tag}, value={code}}}")
        case _:
            return ", ".join(str(f) for f in fields)


def format_call(module: str, name: str, params: Sequence[int], inputs: Sequence[Any],
                errno: int, writes: Sequence[tuple[int, bytes]]) -> str:
    """One strace-like line, e.g. ``fd_write(fd=1, iovs=[b"hi\\n"]) = SUCCESS {nwritten=3}``."""
    return (f"{format_question(module, name, params, inputs)} "
            f"{format_answer(module, name, params, errno, writes)}")
