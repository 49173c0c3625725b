"""What a divergence is, and the report a human reads when one happens.

A replay diverges the first time the guest does something the journal did not
record: it calls another function, passes other arguments or other input
bytes, makes more calls than were recorded, stops early, or ends with another
status. The engine stops right there (a later mismatch would only be noise
caused by the first) and the report must let someone find the cause without
re-running anything: the sequence number, the expected and the actual call
decoded like ``dump`` prints them, *which* field differs (a param by name, an
input by the parameter it belongs to, with a short hex/text diff), the last few
calls that did match, and the guest's wasm backtrace at the divergent call.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from wasi_rr.host.boundary.adapter import GuestAbort
from wasi_rr.host.table import SIGNATURES, Role, Signature
from wasi_rr.host.table.format import format_call, param_text
from wasi_rr.host.table.format import format_question as _format_question
from wasi_rr.journal import Call, ExitEvent, InputDigest, TrapEvent

__all__ = [
    "Divergence",
    "DivergenceError",
    "DivergenceKind",
    "FieldDiff",
    "WasmFrame",
    "bytes_diff",
    "compare_call",
    "format_entry",
    "input_labels",
]

HISTORY = 5
"""How many matching calls before the divergence the report shows."""
_SNIPPET = 16
"""Bytes shown on each side of the first differing byte."""


class DivergenceKind(enum.Enum):
    """Why the replay stopped matching the journal."""

    CALL_MISMATCH = "call mismatch"
    """The guest's call differs from the next journal entry (function, params, inputs)."""
    EXTRA_CALL = "extra call"
    """The guest made a call after the journal's last recorded one."""
    EARLY_END = "early end"
    """The guest ended while recorded calls were left."""
    END_MISMATCH = "end mismatch"
    """Other exit status, trap vs exit, or another trap message."""
    RESULT_MISMATCH = "result mismatch"
    """``--verify``: the re-executed kernel answered differently from the journal."""


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """One differing field: ``what`` names it (``function``, ``param fd``,
    ``input path``...), ``expected``/``actual`` are printable values."""

    what: str
    expected: str
    actual: str


@dataclass(frozen=True, slots=True)
class WasmFrame:
    """One guest frame (innermost first), from wasmtime's trap backtrace."""

    func_index: int | None
    func_name: str | None
    """From the module's name section; None when it has none (stripped build)."""
    module_offset: int

    def __str__(self) -> str:
        index = f"func {self.func_index}" if self.func_index is not None else "func ?"
        if self.func_name:
            return f"{self.func_name} ({index}, module offset {self.module_offset:#x})"
        return f"<{index}> (module offset {self.module_offset:#x}; no name section)"


@dataclass(slots=True)
class Divergence:
    """A replay's first mismatch with its journal (see module docstring)."""

    kind: DivergenceKind
    seq: int
    """Sequence number of the divergent call (or of the first unconsumed entry)."""
    summary: str
    expected: str | None = None
    """The journal's entry/ending, formatted like ``dump``."""
    actual: str | None = None
    """What the guest did, formatted the same way."""
    fields: list[FieldDiff] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    """The last matching calls before the divergence, oldest first."""
    backtrace: list[WasmFrame] = field(default_factory=list)
    remaining: int = 0
    """Journal syscall entries not consumed (for ``EARLY_END``)."""

    def report(self) -> str:
        """The multi-line report printed on stderr."""
        lines = [f"wasi-rr: replay divergence at syscall #{self.seq} ({self.kind.value}): "
                 f"{self.summary}"]
        if self.expected is not None:
            lines.append(f"  journal expected: {self.expected}")
        if self.actual is not None:
            lines.append(f"  guest did:        {self.actual}")
        for d in self.fields:
            lines.append(f"  differs: {d.what}: expected {d.expected}, got {d.actual}")
        if self.remaining:
            lines.append(f"  {self.remaining} recorded syscall(s) were not replayed")
        if self.history:
            lines.append(f"  last {len(self.history)} matching syscall(s):")
            lines.extend(f"    {h}" for h in self.history)
        if self.backtrace:
            lines.append("  guest wasm backtrace (innermost first):")
            lines.extend(f"    #{i} {f}" for i, f in enumerate(self.backtrace))
        return "\n".join(lines)


class DivergenceError(GuestAbort):
    """Raised by the replay backend to stop the guest at a divergence."""

    def __init__(self, divergence: Divergence) -> None:
        super().__init__(divergence.summary)
        self.divergence = divergence


# -- formatting -------------------------------------------------------------------


def describe_ending(ending: ExitEvent | TrapEvent | None) -> str:
    if ending is None:
        return "no recorded ending"
    if isinstance(ending, TrapEvent):
        return f"trap: {ending.message}"
    if ending.interrupted:
        return "the recording was interrupted (Ctrl-C)"
    return f"exit status {ending.status}"


def ending_text(ending: ExitEvent | TrapEvent | None) -> str:
    """What the journal has instead of another call."""
    if ending is None:
        return "no more syscalls"
    return f"no more syscalls, then {describe_ending(ending)}"



def format_entry(entry: Call) -> str:
    """A journal entry as one ``dump``-style line."""
    return format_call(entry.module, entry.name, entry.params, entry.input_data, entry.errno,
                       entry.writes)


def format_question(seq: int, module: str, name: str, params: tuple[int, ...],
                    inputs: Sequence[bytes]) -> str:
    """What the guest asked (no answer yet): ``name(args)``."""
    return _format_question(module, name, params, list(inputs))


def input_labels(sig: Signature | None, params: tuple[int, ...], count: int) -> list[str]:
    """Name each input region of a call after the parameter it belongs to, in the
    order the adapter reads them (docs/architecture.md: ``IN_STR`` one range,
    ``IN_IOVS`` the array then each buffer, ``OUT_IOVS`` the array, ``IN_SUBS``
    the array, ``INOUT`` the value)."""
    labels: list[str] = []
    if sig is not None:
        for p in sig.params:
            match p.role:
                case Role.IN_STR | Role.IN_SUBS | Role.INOUT:
                    labels.append(p.name)
                case Role.OUT_IOVS:
                    labels.append(f"{p.name} (iovec array)")
                case Role.IN_IOVS:
                    labels.append(f"{p.name} (iovec array)")
                    labels.extend(f"{p.name}[{k}]" for k in range(max(0, count - len(labels))))
    while len(labels) < count:
        labels.append(f"input #{len(labels)}")
    return labels[:count]


def _text_or_hex(data: bytes) -> str:
    if all(32 <= b < 127 or b in (9, 10, 13) for b in data):
        return repr(data.decode("ascii"))
    return data.hex(" ")


def bytes_diff(expected: bytes, actual: bytes) -> tuple[str, str]:
    """Short ``(expected, actual)`` snippets around the first differing byte."""
    n = min(len(expected), len(actual))
    first = next((i for i in range(n) if expected[i] != actual[i]), n)
    lo = max(0, first - _SNIPPET)

    def snip(data: bytes) -> str:
        part = data[lo:first + _SNIPPET]
        more = "..." if len(data) > first + _SNIPPET else ""
        pre = "..." if lo else ""
        return f"{pre}{_text_or_hex(part)}{more} ({len(data)} bytes)"

    where = f"at byte {first}: "
    return where + snip(expected), where + snip(actual)


def _param_text(sig: Signature | None, index: int, value: int) -> str:
    if sig is None or index >= len(sig.params):
        return str(value)
    p = sig.params[index]
    if p.role in (Role.FLAGS, Role.ENUM, Role.RIGHTS) and p.type is not None:
        return f"{value} ({param_text(sig, index, value)})"
    if p.role in (Role.FD, Role.VALUE, Role.LEN, Role.SIGNED):
        return str(value)
    return f"{value:#x}"


def compare_call(expected: Call, module: str, name: str, params: tuple[int, ...],
                 inputs: Sequence[bytes]) -> list[FieldDiff]:
    """Every field in which the guest's call differs from the journal entry
    (empty when it matches). A digest input matches bytes with the same SHA-256."""
    if (expected.module, expected.name) != (module, name):
        return [FieldDiff("function", f"{expected.module}::{expected.name}",
                          f"{module}::{name}")]
    diffs: list[FieldDiff] = []
    sig = SIGNATURES.get((module, name))
    if expected.params != params:
        names = sig.param_names if sig is not None else ()
        for i, (want, got) in enumerate(zip(expected.params, params, strict=False)):
            if want != got:
                label = names[i] if i < len(names) else f"#{i}"
                diffs.append(FieldDiff(f"param {label}", _param_text(sig, i, want),
                                       _param_text(sig, i, got)))
        if len(expected.params) != len(params):
            diffs.append(FieldDiff("param count", str(len(expected.params)), str(len(params))))
    recorded = expected.input_data
    labels = input_labels(sig, params, max(len(recorded), len(inputs)))
    for i in range(max(len(recorded), len(inputs))):
        e = recorded[i] if i < len(recorded) else None
        a = inputs[i] if i < len(inputs) else None
        if e is None or a is None:
            diffs.append(FieldDiff(f"input {labels[i]}",
                                   "absent" if e is None else _describe_input(e),
                                   "absent" if a is None else _describe_input(a)))
            continue
        if isinstance(e, InputDigest):
            if not e.matches(a):
                diffs.append(FieldDiff(f"input {labels[i]}",
                                       f"<{e.length} bytes, sha256 {e.sha256.hex()[:16]}>",
                                       _describe_input(a, digest=True)))
        elif bytes(e) != a:
            exp_text, act_text = bytes_diff(bytes(e), a)
            diffs.append(FieldDiff(f"input {labels[i]}", exp_text, act_text))
    return diffs


def _describe_input(data: bytes | InputDigest, *, digest: bool = False) -> str:
    if isinstance(data, InputDigest):
        return f"<{data.length} bytes, sha256 {data.sha256.hex()[:16]}>"
    if digest:
        import hashlib

        return f"<{len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}>"
    head = data[:_SNIPPET * 2]
    return f"{_text_or_hex(head)}{'...' if len(data) > len(head) else ''} ({len(data)} bytes)"
