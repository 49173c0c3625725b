"""Breakpoints on calls, and watchpoints on guest memory.

A call breakpoint is a predicate on a recorded call, evaluated on the journal
index (deterministic replay: the calls to come are already known), so
``continue`` computes where it stops and the wasm replayer answers everything
in between. Conditions are read through the signature table's roles, never
from syscall names: ``fd=`` matches any ``FD`` parameter, ``path=`` any
``IN_STR`` input, ``data=`` the bytes a call moved (``IN_IOVS``/``IN_STR``
inputs and the data the host wrote back), ``errno=`` the recorded result.

A watchpoint needs the guest's memory at every syscall boundary, so it is the
one thing that runs the replay in Python call by call.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from wasi_rr.host.kernel.wasi_types import Errno
from wasi_rr.host.table import SIGNATURE_LIST, Role, Signature
from wasi_rr.host.table.format import errno_name
from wasi_rr.host.table.structs import IOVEC
from wasi_rr.journal import Call

from .reply import DebugError

__all__ = ["CallBreakpoint", "Watchpoint", "call_data", "parse_break", "parse_watch"]

_NAMES = {sig.name: sig for sig in SIGNATURE_LIST} | {sig.label: sig for sig in SIGNATURE_LIST}
FAIL = -1
"""``errno=fail``: any errno but SUCCESS."""


@dataclass(slots=True)
class CallBreakpoint:
    """``break NAME [fd=N] [path=GLOB] [errno=NAME|fail] [data=/REGEX/]`` or ``break seq N``."""

    id: int
    spec: str
    sig: Signature | None = None
    fd: int | None = None
    path: str | None = None
    errno: int | None = None
    data: re.Pattern[bytes] | None = None
    seq: int | None = None
    pid: int | None = None

    def matches(self, call: Call, sig: Signature | None) -> bool:
        if self.seq is not None:
            return call.seq == self.seq and (self.pid is None or call.pid == self.pid)
        if sig is None or self.sig is None or sig.key != self.sig.key:
            return False
        if self.fd is not None and not any(
                p.role is Role.FD and call.params[i] == self.fd for i, p in enumerate(sig.params)):
            return False
        if self.errno is not None and not (call.errno != 0 if self.errno == FAIL
                                           else call.errno == self.errno):
            return False
        if self.path is not None and not any(
                fnmatch.fnmatchcase(s.decode("utf-8", "replace"), self.path)
                for s in split_inputs(sig, call).get(Role.IN_STR, [])):
            return False
        return self.data is None or any(self.data.search(d) for d in call_data(sig, call))


@dataclass(slots=True)
class Watchpoint:
    """``watch ADDR LEN``: stop where these bytes of guest memory changed."""

    id: int
    addr: int
    length: int

    @property
    def spec(self) -> str:
        return f"watch {self.addr:#x} {self.length}"


def split_inputs(sig: Signature, call: Call) -> dict[Role, list[bytes]]:
    """The call's input bytes by the role of the parameter they belong to (an
    ``IN_IOVS`` contributes its buffers, not the iovec array)."""
    left = [d for _, d in call.inputs]
    out: dict[Role, list[bytes]] = {}
    for p in sig.params:
        if not p.is_input or not left:
            continue
        first = left.pop(0)
        if p.role is Role.IN_IOVS:
            count = len(first) // IOVEC.size if isinstance(first, bytes) else 0
            bufs = [left.pop(0) for _ in range(min(count, len(left)))]
            out.setdefault(p.role, []).extend(b for b in bufs if isinstance(b, bytes))
        elif isinstance(first, bytes):
            out.setdefault(p.role, []).append(first)
    return out


def call_data(sig: Signature, call: Call) -> list[bytes]:
    """The bytes a call moved: strings and buffers it read, data it wrote back
    (not the small out values such as counts)."""
    parts = split_inputs(sig, call)
    found = parts.get(Role.IN_STR, []) + parts.get(Role.IN_IOVS, [])
    outs = {call.params[i] for i, p in enumerate(sig.params)
            if p.role is Role.OUT and i < len(call.params)}
    found += [d for a, d in call.writes if a not in outs]
    return found


_TOKEN = re.compile(r"data=/(?:\\.|[^/])*/|\S+")


def tokens(text: str) -> list[str]:
    """Whitespace-separated words; ``data=/.../`` is one word whatever it holds."""
    return _TOKEN.findall(text)


def parse_break(bid: int, words: list[str]) -> CallBreakpoint:
    """The breakpoint ``break WORDS...`` asks for (``DebugError`` when malformed)."""
    if not words:
        raise DebugError("break: what to break on? (break NAME [fd=N] [path=GLOB] "
                         "[errno=NAME|fail] [data=/REGEX/] | break seq N)")
    spec = " ".join(words)
    if words[0] == "seq":
        if len(words) != 2:
            raise DebugError("break seq: give one sequence number (break seq N or PID:N)")
        pid, seq = _seq(words[1])
        return CallBreakpoint(bid, spec, seq=seq, pid=pid)
    sig = _NAMES.get(words[0])
    if sig is None:
        raise DebugError(f"break: no syscall named {words[0]!r} in the signature table")
    bp = CallBreakpoint(bid, spec, sig)
    for word in words[1:]:
        key, eq, value = word.partition("=")
        if not eq or not value:
            raise DebugError(f"break: {word!r} is not a condition (fd=N, path=GLOB, "
                             "errno=NAME|fail, data=/REGEX/)")
        _condition(bp, key, value)
    return bp


def _condition(bp: CallBreakpoint, key: str, value: str) -> None:
    assert bp.sig is not None
    if key == "fd":
        if not any(p.role is Role.FD for p in bp.sig.params):
            raise DebugError(f"break: {bp.sig.name} has no file descriptor parameter")
        bp.fd = _int(value, "fd")
    elif key == "path":
        if not any(p.role is Role.IN_STR for p in bp.sig.params):
            raise DebugError(f"break: {bp.sig.name} has no path parameter")
        bp.path = value
    elif key == "errno":
        bp.errno = FAIL if value == "fail" else _errno(value)
    elif key == "data":
        if len(value) < 2 or not (value.startswith("/") and value.endswith("/")):
            raise DebugError("break: data= takes /REGEX/")
        try:
            bp.data = re.compile(value[1:-1].encode("utf-8", "surrogateescape"))
        except re.error as exc:
            raise DebugError(f"break: bad regular expression {value}: {exc}") from None
    else:
        raise DebugError(f"break: unknown condition {key!r} (fd, path, errno, data)")


def parse_watch(wid: int, words: list[str]) -> Watchpoint:
    if len(words) != 2:
        raise DebugError("watch: give an address and a length (watch ADDR LEN)")
    addr, length = _int(words[0], "address"), _int(words[1], "length")
    if not 0 < length <= 1 << 20:
        raise DebugError("watch: the length must be 1 to 1048576 bytes")
    return Watchpoint(wid, addr, length)


def _errno(text: str) -> int:
    name = text.upper().removeprefix("E") if text.upper() != "SUCCESS" else "SUCCESS"
    for candidate in (name, text.upper()):
        try:
            return int(Errno[candidate])
        except KeyError:
            continue
    raise DebugError(f"break: unknown errno {text!r} (a name such as ENOENT, or fail)")


def _int(text: str, what: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise DebugError(f"{what} {text!r} is not a number") from None


def _seq(text: str) -> tuple[int | None, int]:
    pid, colon, seq = text.rpartition(":")
    value = _int(seq, "sequence number")
    return (_int(pid, "pid") if colon else None), value


def describe_errno(value: int | None) -> str:
    return "fail" if value == FAIL else errno_name(value) if value is not None else ""
