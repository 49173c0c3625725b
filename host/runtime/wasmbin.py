"""Just enough of the WebAssembly binary format to inspect and patch a module.

Two places look inside a guest's bytes: snapshot instrumentation
(``host.instrument``) checks that the module has exactly one plain linear
memory, and the replay shim (``replay.shim``) rewrites the guest so that memory
is imported. Both need the same walk: section headers, then the import section
entry by entry (every import kind has its own encoding, so finding the memory
imports means skipping the others correctly) and the memory section's limits.

Everything raises ``WasmFormatError`` on bytes it cannot read (truncated,
a LEB128 too long, an unknown import kind); callers decide what that means.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["WasmFormatError", "Section", "Memory", "read_uleb", "write_uleb", "sections",
           "memories", "IMPORT_SECTION", "MEMORY_SECTION"]

IMPORT_SECTION = 2
MEMORY_SECTION = 5


class WasmFormatError(ValueError):
    """The bytes are not a module this reader understands."""


@dataclass(frozen=True, slots=True)
class Section:
    """Where one section lies: ``id``, its header's start, its body's start and end."""

    id: int
    head: int
    body: int
    end: int


@dataclass(frozen=True, slots=True)
class Memory:
    """One linear memory: imported or defined, its limits flags and sizes (pages),
    and where its limits' bytes are in the module."""

    imported: bool
    flags: int
    minimum: int
    maximum: int | None
    start: int
    end: int

    @property
    def plain(self) -> bool:
        """Not shared, not 64-bit, default page size (flags 0 or 1)."""
        return self.flags in (0x00, 0x01)


def read_uleb(data: bytes, pos: int) -> tuple[int, int]:
    """An unsigned LEB128 at ``pos``: ``(value, position after it)``."""
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise WasmFormatError("bad LEB128")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def write_uleb(n: int) -> bytes:
    """``n`` (>= 0) as unsigned LEB128."""
    if n < 0:
        raise ValueError(n)
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def sections(wasm: bytes) -> list[Section]:
    """Every section's position (positions only: a guest's code section is most
    of it, and is never copied apart)."""
    if len(wasm) < 8 or wasm[:4] != b"\0asm" or wasm[4:8] != b"\x01\0\0\0":
        raise WasmFormatError("not a core WebAssembly module")
    out: list[Section] = []
    pos = 8
    while pos < len(wasm):
        sid = wasm[pos]
        size, p = read_uleb(wasm, pos + 1)
        if p + size > len(wasm):
            raise WasmFormatError("section past the end")
        out.append(Section(sid, pos, p, p + size))
        pos = p + size
    return out


def _skip_name(data: bytes, pos: int, end: int) -> int:
    n, pos = read_uleb(data, pos)
    if pos + n > end:
        raise WasmFormatError("name past the end")
    return pos + n


def _limits(data: bytes, pos: int, imported: bool) -> tuple[Memory, int]:
    start = pos
    flags, pos = read_uleb(data, pos)
    minimum, pos = read_uleb(data, pos)
    maximum: int | None = None
    if flags & 1:
        maximum, pos = read_uleb(data, pos)
    return Memory(imported, flags, minimum, maximum, start, pos), pos


def _skip_reftype(data: bytes, pos: int) -> int:
    if pos < len(data) and data[pos] in (0x63, 0x64):  # (ref null? heaptype)
        _, pos = read_uleb(data, pos + 1)  # heap type (s33; skipped as bytes)
        return pos
    return pos + 1


def memories(wasm: bytes, secs: list[Section] | None = None) -> list[Memory]:
    """The module's memories in index order: imported ones, then defined ones."""
    secs = sections(wasm) if secs is None else secs
    out: list[Memory] = []
    for sec in secs:
        if sec.id == IMPORT_SECTION:
            count, pos = read_uleb(wasm, sec.body)
            for _ in range(count):
                pos = _skip_name(wasm, _skip_name(wasm, pos, sec.end), sec.end)
                if pos >= sec.end:
                    raise WasmFormatError("import past the end")
                kind = wasm[pos]
                pos += 1
                if kind == 0x00:  # function: type index
                    _, pos = read_uleb(wasm, pos)
                elif kind == 0x01:  # table: reftype, limits
                    _, pos = _limits(wasm, _skip_reftype(wasm, pos), True)
                elif kind == 0x02:
                    mem, pos = _limits(wasm, pos, True)
                    out.append(mem)
                elif kind == 0x03:  # global: valtype, mutability
                    pos = _skip_reftype(wasm, pos) + 1
                elif kind == 0x04:  # tag: attribute, type index
                    _, pos = read_uleb(wasm, pos + 1)
                else:
                    raise WasmFormatError(f"unknown import kind {kind}")
        elif sec.id == MEMORY_SECTION:
            count, pos = read_uleb(wasm, sec.body)
            for _ in range(count):
                mem, pos = _limits(wasm, pos, False)
                out.append(mem)
            if pos != sec.end:
                raise WasmFormatError("memory section has trailing bytes")
    return out
