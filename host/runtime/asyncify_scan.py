"""Refuse, in milliseconds, the modules asyncify cannot instrument.

Why a scan in Python before Binaryen: Binaryen 116 (the one in
``icpp-binaryen``) reports a module it cannot handle only after reading all of
it (about 60 s for Yosys) and then prints a parse error, glued to its
``Fatal:`` line, that names a type code (``invalid wasm type: -23``) rather than
the reason.  And asyncify does not support the exception-handling proposal in
any Binaryen version, so a newer one would only move the failure.  A module
carries enough in its small sections to know most refusals up front:

* **exception handling**: a tag section (id 13), an imported tag, or the
  ``exnref`` / ``nullexnref`` type in a function signature, struct/array field or
  global.  Every ``throw`` needs a tag and ``try_table``'s ``catch_ref`` values
  are ``exnref``, so real toolchain output (LLVM's ``__cpp_exception``, wasi-sdk,
  Emscripten) always shows one of these.  Only a module that merely *catches*
  (``catch_all`` of exceptions thrown by its imports, no tag of its own, exnref
  only on the operand stack) escapes; finding that needs an instruction decoder
  over the whole code section (tens of seconds of Python for a 40 MB code
  section, as slow as what it would replace), so such a module still reaches
  Binaryen and fails there with its own one-line error.
* **memories**: exactly one non-shared 32-bit memory (asyncify keeps its
  unwind buffer in memory 0 and a snapshot captures one linear memory).
* **mutable globals** that a snapshot cannot carry (anything but i32/i64/f32/f64).

Everything here reads section headers, the type, import, global and memory
sections, and skips the code section by its size: ~1 ms for a 26 MB module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wasi_rr.host.runtime import wasmbin
from wasi_rr.host.runtime.wasmbin import WasmFormatError, read_sleb, read_uleb

__all__ = ["RESUME_AT_HINT", "Scan", "refusal", "scan"]

EXNREF = 0x69
NULLEXNREF = 0x74
_EXN_CODES = (EXNREF, NULLEXNREF)
_REF_NULL, _REF = 0x63, 0x64
_NUMERIC = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64"}

RESUME_AT_HINT = (
    "use `wasi-rr resume JOURNAL --at SEQ`, which rebuilds the state by re-execution"
)


@dataclass(slots=True)
class Scan:
    """What the cheap scan found (``exception_handling`` lists the evidence)."""

    memories: list[wasmbin.Memory] = field(default_factory=list)
    exception_handling: list[str] = field(default_factory=list)
    mutable_globals: list[tuple[int, int]] = field(default_factory=list)
    """``(global index, value type code)`` of every mutable global, imported first."""


def _valtype(data: bytes, pos: int) -> tuple[int, int]:
    """A value type at ``pos``: ``(code, position after it)``; a reference type
    ``(ref null? exn)`` is reported as ``EXNREF`` so callers test one code."""
    if pos >= len(data):
        raise WasmFormatError("value type past the end")
    code = data[pos]
    if code in (_REF_NULL, _REF):
        heap, pos = read_sleb(data, pos + 1)
        if heap < 0 and (heap & 0x7F) in _EXN_CODES:
            return EXNREF, pos
        return code, pos
    return code, pos + 1


def _types_use_exnref(data: bytes, sec: wasmbin.Section) -> bool:
    """Whether any function signature or struct/array field of the type
    section (GC rec groups and subtypes included) is ``exnref``."""
    count, pos = read_uleb(data, sec.body)
    found = False
    for _ in range(count):
        group = 1
        if data[pos] == 0x4E:  # rec group
            group, pos = read_uleb(data, pos + 1)
        for _ in range(group):
            if data[pos] in (0x50, 0x4F):  # sub / sub final: supertype indices
                n, pos = read_uleb(data, pos + 1)
                for _ in range(n):
                    _, pos = read_uleb(data, pos)
            form, pos = data[pos], pos + 1
            if form == 0x60:  # func: params, results
                for _ in range(2):
                    n, pos = read_uleb(data, pos)
                    for _ in range(n):
                        code, pos = _valtype(data, pos)
                        found |= code in _EXN_CODES
            elif form in (0x5F, 0x5E):  # struct: fields; array: one field
                n, pos = read_uleb(data, pos) if form == 0x5F else (1, pos)
                for _ in range(n):
                    if data[pos] in (0x78, 0x77):  # packed i8 / i16
                        pos += 1
                    else:
                        code, pos = _valtype(data, pos)
                        found |= code in _EXN_CODES
                    pos += 1  # mutability
            else:
                raise WasmFormatError(f"unknown type form 0x{form:02x}")
    return found


_CONST_FIXED = {0x43: 4, 0x44: 8}  # f32.const, f64.const: raw bytes
_CONST_NOARG = {0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E}  # extended-const add/sub/mul


def _skip_const_expr(data: bytes, pos: int, end: int) -> int:
    """Skip a constant expression (global initializer) up to its ``end`` opcode.

    Constant expressions allow only a handful of instructions, so a small
    decoder covers all of them (MVP, extended-const, SIMD, GC)."""
    while pos < end:
        op, pos = data[pos], pos + 1
        if op == 0x0B:
            return pos
        if op in (0x41, 0x42):  # i32/i64.const
            _, pos = read_sleb(data, pos)
        elif op in _CONST_FIXED:
            pos += _CONST_FIXED[op]
        elif op in (0x23, 0xD2):  # global.get, ref.func
            _, pos = read_uleb(data, pos)
        elif op == 0xD0:  # ref.null heaptype
            _, pos = read_sleb(data, pos)
        elif op in _CONST_NOARG:
            pass
        elif op == 0xFD:  # v128.const
            _, pos = read_uleb(data, pos)
            pos += 16
        elif op == 0xFB:  # GC: struct.new(_default), array.new(_default/_fixed), i31, conversions
            sub, pos = read_uleb(data, pos)
            if sub in (0, 1, 6, 7, 8):
                _, pos = read_uleb(data, pos)
                if sub == 8:
                    _, pos = read_uleb(data, pos)
            elif sub not in (0x1A, 0x1B, 0x1C):
                raise WasmFormatError(f"unexpected GC opcode {sub} in a constant expression")
        else:
            raise WasmFormatError(f"unexpected opcode 0x{op:02x} in a constant expression")
    raise WasmFormatError("constant expression past the end")


def _globals(data: bytes, sec: wasmbin.Section, first_index: int, out: Scan) -> None:
    count, pos = read_uleb(data, sec.body)
    for i in range(count):
        code, pos = _valtype(data, pos)
        mutable = data[pos] & 1
        pos = _skip_const_expr(data, pos + 1, sec.end)
        if code in _EXN_CODES:
            out.exception_handling.append("exnref global")
        if mutable:
            out.mutable_globals.append((first_index + i, code))


def scan(wasm: bytes) -> Scan:
    """Scan ``wasm`` (``WasmFormatError`` on bytes this reader cannot follow)."""
    secs = wasmbin.sections(wasm)
    out = Scan(memories=wasmbin.memories(wasm, secs))
    imported_globals = 0
    for imp in wasmbin.imports(wasm, secs):
        if imp.kind == 0x04:
            out.exception_handling.append(f"imported tag {imp.module}.{imp.name}")
        elif imp.kind == 0x03:
            code, pos = _valtype(wasm, imp.start)
            if code in _EXN_CODES:
                out.exception_handling.append("exnref global")
            if wasm[pos] & 1:
                out.mutable_globals.append((imported_globals, code))
            imported_globals += 1
    for sec in secs:
        if sec.id == wasmbin.TAG_SECTION:
            out.exception_handling.insert(0, "tag section")
        elif sec.id == wasmbin.TYPE_SECTION and _types_use_exnref(wasm, sec):
            out.exception_handling.append("exnref type")
        elif sec.id == wasmbin.GLOBAL_SECTION:
            _globals(wasm, sec, imported_globals, out)
    return out


def refusal(found: Scan) -> str | None:
    """The one-line reason asyncify/snapshots cannot take the module, or ``None``."""
    if found.exception_handling:
        evidence = ", ".join(dict.fromkeys(found.exception_handling))
        return (
            f"module uses the exception-handling proposal ({evidence}); memory snapshots "
            f"need asyncify, which does not support it: {RESUME_AT_HINT}"
        )
    mems = found.memories
    if len(mems) != 1:
        return f"snapshots need exactly one linear memory, the module has {len(mems)}"
    if mems[0].flags & 0x4:
        return "snapshots do not support 64-bit memories (memory64)"
    if mems[0].flags & 0x2:
        return "snapshots do not support shared memories (threads)"
    for index, code in found.mutable_globals:
        if code not in _NUMERIC:
            return (
                f"mutable global {index} has a type snapshots cannot carry "
                "(only i32/i64/f32/f64 are supported)"
            )
    return None
