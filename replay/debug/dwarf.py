"""file:line for guest code addresses, from the module's own DWARF.

A wasm module built with ``-g`` carries DWARF in custom sections
(``.debug_info``, ``.debug_line``...), with addresses counted from the start
of the code section's contents. ``LineTable`` reads the line programs once
with pyelftools and answers ``where(module_offset)``.

Why pyelftools rather than wasmtime: wasmtime-py's trap frames carry the
module offset but not wasmtime's symbolized file:line (``Config.debug_info``
only serves native debuggers, and backtrace details would need another engine
configuration, i.e. another compiled-module cache entry for every module);
the debugger must also work on the replay's normal engine. pyelftools is the
maintained, pure-Python DWARF reader; DWARF 2-5 line programs are its core.
"""

from __future__ import annotations

import bisect
import io
import posixpath
from dataclasses import dataclass, field

from wasi_rr.host.runtime.wasmbin import WasmFormatError, custom_name, sections

__all__ = ["LineTable", "SourceLine"]

_CODE_SECTION = 10
_NAMES = ("info", "aranges", "abbrev", "frame", "eh_frame", "str", "loc", "ranges", "line",
          "pubtypes", "pubnames", "addr", "str_offsets", "line_str", "loclists", "rnglists",
          "sup", "gnu_debugaltlink", "types")
"""``DWARFInfo``'s section arguments, in order (``.debug_<name>``)."""


@dataclass(frozen=True, slots=True)
class SourceLine:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(slots=True)
class LineTable:
    """Address -> source line of one module (empty without DWARF)."""

    code_start: int = 0
    addresses: list[int] = field(default_factory=list)
    lines: list[SourceLine | None] = field(default_factory=list)
    error: str | None = None
    """Why the DWARF could not be read (None: read, or there is none)."""

    @property
    def present(self) -> bool:
        return bool(self.addresses)

    @classmethod
    def of(cls, wasm: bytes) -> LineTable:
        table = cls()
        try:
            secs = sections(wasm)
        except WasmFormatError:
            return table
        debug: dict[str, bytes] = {}
        for sec in secs:
            if sec.id == _CODE_SECTION:
                table.code_start = sec.body
            name = custom_name(wasm, sec)
            if name.startswith(".debug_"):
                start = sec.body + 1 + len(name.encode())  # the name's LEB length is 1 byte here
                debug[name[len(".debug_"):]] = wasm[start:sec.end]
        if "line" not in debug or "info" not in debug:
            return table
        try:
            table._read(debug)
        except Exception as exc:  # malformed DWARF only loses file:line
            table.addresses, table.lines = [], []
            table.error = f"{type(exc).__name__}: {exc}"
        return table

    def _read(self, debug: dict[str, bytes]) -> None:
        from elftools.dwarf.dwarfinfo import (
            DebugSectionDescriptor,
            DwarfConfig,
            DWARFInfo,
        )

        def descriptor(name: str) -> DebugSectionDescriptor | None:
            data = debug.get(name)
            if data is None:
                return None
            return DebugSectionDescriptor(io.BytesIO(data), f".debug_{name}", None, len(data), 0)

        dwarf = DWARFInfo(DwarfConfig(little_endian=True, machine_arch="wasm",
                                      default_address_size=4),
                          *(descriptor(n) for n in _NAMES))
        rows: list[tuple[int, SourceLine | None]] = []
        for cu in dwarf.iter_CUs():
            program = dwarf.line_program_for_CU(cu)
            if program is None:
                continue
            version = program.header["version"]
            files = program.header["file_entry"]
            dirs = program.header["include_directory"]
            for entry in program.get_entries():
                state = entry.state
                if state is None:
                    continue
                if state.end_sequence:
                    rows.append((state.address, None))
                    continue
                rows.append((state.address, SourceLine(_file_name(files, dirs, state.file,
                                                                  version), state.line)))
        rows.sort(key=lambda r: r[0])
        self.addresses = [a for a, _ in rows]
        self.lines = [line for _, line in rows]

    def where(self, module_offset: int) -> SourceLine | None:
        """The source line of the instruction at ``module_offset`` (a trap frame's)."""
        if not self.addresses:
            return None
        address = module_offset - self.code_start
        k = bisect.bisect_right(self.addresses, address) - 1
        return self.lines[k] if k >= 0 else None


def _file_name(files: list, dirs: list, number: int, version: int) -> str:  # type: ignore[type-arg]
    k = number if version >= 5 else number - 1
    if not 0 <= k < len(files):
        return f"<file {number}>"
    entry = files[k]
    name = _text(entry.name)
    d = entry.dir_index
    if version < 5:
        d -= 1
    if 0 <= d < len(dirs) and not name.startswith("/"):
        name = posixpath.join(_text(dirs[d]), name)
    return name


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
