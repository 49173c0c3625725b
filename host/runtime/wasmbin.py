"""Just enough of the WebAssembly binary format to inspect and patch a module.

Three places look inside a guest's bytes: the run policy (``policy``) reads the
import section to see whether a module needs the process group before anything
is compiled; snapshot instrumentation (``instrument``, ``asyncify_scan``) checks
that the module is one asyncify can instrument and removes its debug sections
before Binaryen reads it; the debugger (``replay.debug.dwarf``) finds its DWARF
custom sections. They need the same walk: section headers, then the import
section entry by entry (every import kind has its own encoding, so finding the
memory imports means skipping the others correctly) and the memory section's
limits.

Everything raises ``WasmFormatError`` on bytes it cannot read (truncated,
a LEB128 too long, an unknown import kind); callers decide what that means.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CUSTOM_SECTION",
    "EXPORT_SECTION",
    "GLOBAL_SECTION",
    "IMPORT_SECTION",
    "MEMORY_SECTION",
    "TABLE_SECTION",
    "TAG_SECTION",
    "TYPE_SECTION",
    "Import",
    "Memory",
    "Section",
    "WasmFormatError",
    "custom_name",
    "custom_section",
    "exports",
    "imports",
    "memories",
    "name_subsections",
    "read_sleb",
    "read_uleb",
    "sections",
    "without_custom_sections",
    "write_uleb",
]

CUSTOM_SECTION = 0
TYPE_SECTION = 1
IMPORT_SECTION = 2
TABLE_SECTION = 4
MEMORY_SECTION = 5
GLOBAL_SECTION = 6
EXPORT_SECTION = 7
TAG_SECTION = 13


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


def read_sleb(data: bytes, pos: int) -> tuple[int, int]:
    """A signed LEB128 at ``pos``: ``(value, position after it)``."""
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise WasmFormatError("bad LEB128")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return (result - (1 << shift) if b & 0x40 else result), pos


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


@dataclass(frozen=True, slots=True)
class Import:
    """One import: names, kind (0 func, 1 table, 2 memory, 3 global, 4 tag) and
    where its description (the bytes after the kind) lies."""

    module: str
    name: str
    kind: int
    start: int
    end: int


def _read_name(data: bytes, pos: int, end: int) -> tuple[str, int]:
    after = _skip_name(data, pos, end)
    _, body = read_uleb(data, pos)
    return data[body:after].decode("utf-8", errors="replace"), after


def imports(wasm: bytes, secs: list[Section] | None = None) -> list[Import]:
    """Every import in order (every kind has its own encoding, so one walk
    skips them all correctly)."""
    secs = sections(wasm) if secs is None else secs
    out: list[Import] = []
    for sec in secs:
        if sec.id != IMPORT_SECTION:
            continue
        count, pos = read_uleb(wasm, sec.body)
        for _ in range(count):
            module, pos = _read_name(wasm, pos, sec.end)
            name, pos = _read_name(wasm, pos, sec.end)
            if pos >= sec.end:
                raise WasmFormatError("import past the end")
            kind = wasm[pos]
            start = pos = pos + 1
            if kind == 0x00:  # function: type index
                _, pos = read_uleb(wasm, pos)
            elif kind == 0x01:  # table: reftype, limits
                _, pos = _limits(wasm, _skip_reftype(wasm, pos), True)
            elif kind == 0x02:  # memory: limits
                _, pos = _limits(wasm, pos, True)
            elif kind == 0x03:  # global: valtype, mutability
                pos = _skip_reftype(wasm, pos) + 1
            elif kind == 0x04:  # tag: attribute, type index
                _, pos = read_uleb(wasm, pos + 1)
            else:
                raise WasmFormatError(f"unknown import kind {kind}")
            if pos > sec.end:
                raise WasmFormatError("import past the end")
            out.append(Import(module, name, kind, start, pos))
    return out


def memories(wasm: bytes, secs: list[Section] | None = None) -> list[Memory]:
    """The module's memories in index order: imported ones, then defined ones."""
    secs = sections(wasm) if secs is None else secs
    out = [_limits(wasm, imp.start, True)[0] for imp in imports(wasm, secs) if imp.kind == 0x02]
    for sec in secs:
        if sec.id == MEMORY_SECTION:
            count, pos = read_uleb(wasm, sec.body)
            for _ in range(count):
                mem, pos = _limits(wasm, pos, False)
                out.append(mem)
            if pos != sec.end:
                raise WasmFormatError("memory section has trailing bytes")
    return out


def exports(wasm: bytes, secs: list[Section] | None = None) -> list[tuple[str, int, int]]:
    """``(name, kind, index)`` of every export, in order."""
    secs = sections(wasm) if secs is None else secs
    out: list[tuple[str, int, int]] = []
    for sec in secs:
        if sec.id == EXPORT_SECTION:
            count, pos = read_uleb(wasm, sec.body)
            for _ in range(count):
                name, pos = _read_name(wasm, pos, sec.end)
                if pos >= sec.end:
                    raise WasmFormatError("export past the end")
                kind = wasm[pos]
                index, pos = read_uleb(wasm, pos + 1)
                out.append((name, kind, index))
    return out


def custom_name(wasm: bytes, sec: Section) -> str:
    """The name of a custom section (``""`` for any other section)."""
    if sec.id != CUSTOM_SECTION:
        return ""
    name, _ = _read_name(wasm, sec.body, sec.end)
    return name


def custom_section(name: str, payload: bytes) -> bytes:
    """A whole custom section (id, size, name, payload) ready to append."""
    raw = name.encode()
    body = write_uleb(len(raw)) + raw + payload
    return bytes([CUSTOM_SECTION]) + write_uleb(len(body)) + body


def without_custom_sections(wasm: bytes, keep: tuple[str, ...] = (),
                            secs: list[Section] | None = None) -> tuple[bytes, dict[str, bytes]]:
    """The module without its custom sections (except those named in ``keep``),
    and the removed sections' payloads by name (the first of each name).

    Kept sections are joined from memoryview slices: the code section is copied
    once, not twice."""
    secs = sections(wasm) if secs is None else secs
    view = memoryview(wasm)
    parts = [view[:8]]
    removed: dict[str, bytes] = {}
    for sec in secs:
        name = custom_name(wasm, sec)
        if sec.id == CUSTOM_SECTION and name not in keep:
            _, payload_at = _read_name(wasm, sec.body, sec.end)
            removed.setdefault(name, wasm[payload_at:sec.end])
            continue
        parts.append(view[sec.head:sec.end])
    return b"".join(parts), removed


def name_subsections(payload: bytes, keep: tuple[int, ...]) -> bytes:
    """The ``name`` section payload with only the subsections whose id is in
    ``keep`` (0 module, 1 functions, 2 locals, ...); ``b""`` if unreadable."""
    out = bytearray()
    pos = 0
    try:
        while pos < len(payload):
            sub = payload[pos]
            size, body = read_uleb(payload, pos + 1)
            if body + size > len(payload):
                return b""
            if sub in keep:
                out += payload[pos:body + size]
            pos = body + size
    except WasmFormatError:
        return b""
    return bytes(out)
