"""The replay shim: runs of repeated calls answered inside wasm, without Python.

A lean callback (``replay/fastpath.py``) costs ~1 us per call, a quarter of it
the bare ctypes callback: Python is at its floor. A loop's repeats, though, are
fully known in advance: a ``codec.RepeatRun`` holds every repeat's written
bytes, and the call must carry the template's params and input bytes. So a
small generated wasm module (the *shim*) sits between the guest and the lean
callbacks and answers them itself while Python has *armed* it:

* ``import_memory`` rewrites the guest so that its one memory is imported as
  ``("wasi_rr", "memory")``: the replay creates that memory and hands it to both
  the guest and the shim (memory index 0 stays 0: code, data and exports are
  unchanged; only byte offsets after the import section move, by ``shift``).
* ``shim_wat`` generates the shim: per hot import, an exported function with the
  import's exact signature and a *control block* in the shim's own memory (its
  memory 1, exported as ``control``). Armed, with ``k < n``, params equal and
  every armed input region byte-equal, it copies repeat ``k``'s data from the
  control memory into guest memory, increments ``k`` and returns the errno;
  otherwise it calls its fallback import, the lean Python callback, with the
  same arguments.
* ``ShimControl`` is Python's side of the control memory: ``arm`` fills a block
  (the run's bytes are copied into the control memory once per run), ``fold``
  reads ``k`` back and disarms. The lean scope folds on *every* entry into
  Python, so the cursor, ``adapter.seq`` and divergence reports are exactly as
  without the shim: a mismatching call reaches Python at the same item.

The shim never traps on a guest address: Python only arms with regions that were
inside guest memory when it armed (a wasm memory never shrinks), and with data
offsets inside the control memory.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from wasmtime import (
    Engine,
    FuncType,
    Limits,
    Linker,
    Memory,
    MemoryType,
    Module,
    Store,
    ValType,
    WasmtimeError,
)

from wasi_rr.errors import ModuleError
from wasi_rr.host.boundary import fastcall
from wasi_rr.host.runtime.wasmbin import (
    IMPORT_SECTION,
    MEMORY_SECTION,
    WasmFormatError,
    memories,
    read_uleb,
    sections,
    write_uleb,
)
from wasi_rr.host.runtime.process import ModuleCache, compile_module

__all__ = ["ImportedMemory", "ShimFunc", "ShimControl", "import_memory", "shim_wat",
           "install_shim", "BLOCK_SIZE", "MAX_PARAMS"]

SHIM_MODULE: Final = "wasi_rr"
MEMORY_NAME: Final = "memory"
FALLBACK_MODULE: Final = "wasi_rr_fallback"
SHIM_NAME: Final = "wasi_rr_shim"
"""The shim module's name: wasmtime prefixes its frames in a backtrace with it
(``wasi_rr_shim!...``), which lets a divergence report leave them out."""

# -- the guest rewrite ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportedMemory:
    """A guest rewritten to import its memory."""

    wasm: bytes
    minimum: int
    """Pages."""
    maximum: int | None
    shift: int
    """How far every byte after the import section moved (``len(wasm)`` minus
    the original's): wasmtime's code offsets in backtraces are corrected by it."""


def import_memory(wasm: bytes, module: str = SHIM_MODULE,
                  name: str = MEMORY_NAME) -> ImportedMemory | None:
    """``wasm`` with its single defined memory turned into the import
    ``(module, name)`` of the same limits; None (no shim) for anything else:
    not a binary module, a memory already imported, 0 or several memories,
    a shared or 64-bit memory, or bytes this parser does not understand."""
    try:
        return _import_memory(wasm, module.encode(), name.encode())
    except WasmFormatError:
        return None


def _import_memory(wasm: bytes, module: bytes, name: bytes) -> ImportedMemory | None:
    secs = sections(wasm)
    mems = memories(wasm, secs)
    if len(mems) != 1 or mems[0].imported or not mems[0].plain:
        return None  # (0x02/0x03 shared, 0x04+ memory64, 0x08 custom page size)
    mem = mems[0]
    mem_sec = next(sec for sec in secs if sec.id == MEMORY_SECTION)
    limits = wasm[mem.start:mem.end]
    entry = write_uleb(len(module)) + module + write_uleb(len(name)) + name + b"\x02" + limits
    imports = [sec for sec in secs if sec.id == IMPORT_SECTION]
    if len(imports) > 1:
        return None
    if imports:
        head, end = imports[0].head, imports[0].end
        n, r = read_uleb(wasm, imports[0].body)
        new = write_uleb(n + 1) + wasm[r:end] + entry
    else:
        # a new import section right before the first section that must follow
        # it (the order is type, import, function, ...; custom ones anywhere)
        head = end = next(sec.head for sec in secs if sec.id not in (0, 1))
        new = write_uleb(1) + entry
    if end > mem_sec.head:
        return None  # sections out of order: not a valid module
    out = b"".join((wasm[:head], b"\x02", write_uleb(len(new)), new,
                    wasm[end:mem_sec.head], wasm[mem_sec.end:]))
    return ImportedMemory(out, mem.minimum, mem.maximum, len(out) - len(wasm))


# -- the shim module --------------------------------------------------------------

BLOCK_SIZE: Final = 256
"""Bytes per function in the control memory."""
MAX_PARAMS: Final = 8
_ARMED, _K, _N, _ERRNO = 0, 4, 8, 12
_PARAMS = 16           # MAX_PARAMS x i64
_REGIONS = 80          # 2 x (guest addr, len, control offset) i32
_WRITES = 104          # 2 x (guest addr, len, control offset of repeat 0, step) i32
_HEAD = struct.Struct("<iIIi")
_REGION = struct.Struct("<III")
_WRITE = struct.Struct("<IIII")
_PAGE: Final = 65536


@dataclass(frozen=True, slots=True)
class ShimFunc:
    """One shimmed import: the guest's ``module::name`` with wasm param types."""

    module: str
    name: str
    params: tuple[str, ...]
    """``"i32"``/``"i64"``; the result is one ``i32`` (an errno)."""

    @property
    def export(self) -> str:
        return f"{self.module}::{self.name}"


def shim_wat(funcs: Sequence[ShimFunc]) -> str:
    """The shim module's text (see the module docstring): function ``j``'s
    control block is at ``j * BLOCK_SIZE`` in memory 1; data follow the blocks."""
    pages = max(1, -(-len(funcs) * BLOCK_SIZE // _PAGE))
    lines = [
        f"(module ${SHIM_NAME}",
        f'  (import "{SHIM_MODULE}" "{MEMORY_NAME}" (memory $g 0))',
    ]
    for j, f in enumerate(funcs):
        params = " ".join(f.params)
        lines.append(f'  (import "{FALLBACK_MODULE}" "f{j}" (func $fb{j} (param {params}) (result i32)))'
                     if params else
                     f'  (import "{FALLBACK_MODULE}" "f{j}" (func $fb{j} (result i32)))')
    lines += [
        f'  (memory $c (export "control") {pages})',
        # $eq: guest bytes [a, a+n) equal control bytes [o, o+n); 8 at a time, then the tail
        "  (func $eq (param $a i32) (param $n i32) (param $o i32) (result i32)",
        "    (block $tail (loop $wide",
        "      (br_if $tail (i32.lt_u (local.get $n) (i32.const 8)))",
        "      (if (i64.ne (i64.load $g (local.get $a)) (i64.load $c (local.get $o)))",
        "        (then (return (i32.const 0))))",
        "      (local.set $a (i32.add (local.get $a) (i32.const 8)))",
        "      (local.set $o (i32.add (local.get $o) (i32.const 8)))",
        "      (local.set $n (i32.sub (local.get $n) (i32.const 8)))",
        "      (br $wide)))",
        "    (block $done (loop $byte",
        "      (br_if $done (i32.eqz (local.get $n)))",
        "      (if (i32.ne (i32.load8_u $g (local.get $a)) (i32.load8_u $c (local.get $o)))",
        "        (then (return (i32.const 0))))",
        "      (local.set $a (i32.add (local.get $a) (i32.const 1)))",
        "      (local.set $o (i32.add (local.get $o) (i32.const 1)))",
        "      (local.set $n (i32.sub (local.get $n) (i32.const 1)))",
        "      (br $byte)))",
        "    (i32.const 1))",
    ]
    for j, f in enumerate(funcs):
        b = j * BLOCK_SIZE
        decl = " ".join(f"(param $p{m} {t})" for m, t in enumerate(f.params))
        body = [
            f'  (func (export "{f.export}") {decl} (result i32) (local $k i32)',
            "    (block $slow",
            f"      (br_if $slow (i32.eqz (i32.load $c (i32.const {b + _ARMED}))))",
            f"      (local.set $k (i32.load $c (i32.const {b + _K})))",
            f"      (br_if $slow (i32.ge_u (local.get $k) (i32.load $c (i32.const {b + _N}))))",
        ]
        for m, t in enumerate(f.params):
            got = f"(local.get $p{m})" if t == "i64" else f"(i64.extend_i32_u (local.get $p{m}))"
            body.append(f"      (br_if $slow (i64.ne {got} (i64.load $c (i32.const {b + _PARAMS + 8 * m}))))")
        for r in range(2):
            at = b + _REGIONS + 12 * r
            body.append(f"      (br_if $slow (i32.eqz (call $eq (i32.load $c (i32.const {at}))"
                        f" (i32.load $c (i32.const {at + 4})) (i32.load $c (i32.const {at + 8})))))")
        for w in range(2):
            at = b + _WRITES + 16 * w
            body.append(f"      (memory.copy $g $c (i32.load $c (i32.const {at}))"
                        f" (i32.add (i32.load $c (i32.const {at + 8}))"
                        f" (i32.mul (local.get $k) (i32.load $c (i32.const {at + 12}))))"
                        f" (i32.load $c (i32.const {at + 4})))")
        args = " ".join(f"(local.get $p{m})" for m in range(len(f.params)))
        body += [
            f"      (i32.store $c (i32.const {b + _K}) (i32.add (local.get $k) (i32.const 1)))",
            f"      (return (i32.load $c (i32.const {b + _ERRNO}))))",
            f"    (call $fb{j} {args}))",
        ]
        lines += body
    lines.append(")")
    return "\n".join(lines)


class ShimControl:
    """Python's side of one shim instance's control memory.

    ``arm`` and ``fold`` are the only writers; at most one block is armed at a
    time (the lean scope folds before it arms again), so the data area after the
    blocks holds the current run's bytes and then the armed block's expected
    input bytes. ``blocks`` maps ``(module, name)`` to a block offset.
    """

    def __init__(self, store: Store, memory: Memory, blocks: dict[tuple[str, str], int],
                 keep: list[Any]) -> None:
        self._store = store
        self._memory = memory
        self.blocks = blocks
        self._keep = keep
        """The fallback thunks and the shim instance (a collected thunk is a crash)."""
        self._source = fastcall.memory_view_source(store._context(), memory._memory)
        self.view: memoryview = self._source()
        self._data = len(blocks) * BLOCK_SIZE
        self._run: bytes | None = None
        """The run whose bytes are at ``_data`` (kept referenced: identity is the key)."""
        self._last: tuple[int, int, int] | None = None
        """(block, id of the run, template tag) of the last full arm."""

    def _room(self, size: int) -> None:
        if size > len(self.view):
            self._memory.grow(self._store, -(-(size - len(self.view)) // _PAGE))
            self.view = self._source()

    def arm(self, block: int, tag: int, k: int, n: int, errno: int,
            params: tuple[int, ...], regions: Sequence[tuple[int, int, bytes]],
            run: bytes, writes: Sequence[tuple[int, int, int, int]]) -> None:
        """Arm ``block`` for repeats ``k..n-1`` of ``run``: ``regions`` are
        ``(guest addr, len, expected bytes)``, ``writes`` ``(guest addr, len,
        offset of repeat 0's data in run, step)``. Every range must be inside
        guest memory (the caller has just read or written them)."""
        view = self.view
        if self._last == (block, id(run), tag) and self._run is run:
            _HEAD.pack_into(view, block, 1, k, n, errno)
            return
        if self._run is not run:
            self._room(self._data + len(run))
            self.view[self._data:self._data + len(run)] = run
            self._run = run
            view = self.view
        at = (self._data + len(run) + 7) & ~7
        self._room(at + sum(len(r[2]) for r in regions))
        view = self.view
        for m, p in enumerate(params):
            struct.pack_into("<Q", view, block + _PARAMS + 8 * m, p)
        for r in range(2):
            if r < len(regions):
                addr, length, expected = regions[r]
                view[at:at + length] = expected
                _REGION.pack_into(view, block + _REGIONS + 12 * r, addr, length, at)
                at += length
            else:
                _REGION.pack_into(view, block + _REGIONS + 12 * r, 0, 0, 0)
        for w in range(2):
            if w < len(writes):
                addr, length, offset, step = writes[w]
                _WRITE.pack_into(view, block + _WRITES + 16 * w, addr, length,
                                 self._data + offset, step)
            else:
                _WRITE.pack_into(view, block + _WRITES + 16 * w, 0, 0, 0, 0)
        _HEAD.pack_into(view, block, 1, k, n, errno)
        self._last = (block, id(run), tag)

    def fold(self, block: int) -> int:
        """Disarm ``block`` and return its ``k`` (the next item to answer)."""
        view = self.view
        view[block] = 0  # the armed flag's low byte: the flag is 0 or 1
        k: int = struct.unpack_from("<I", view, block + _K)[0]
        return k


def guest_shim_funcs(module: Module, lean: dict[tuple[str, str], Any]) -> list[ShimFunc]:
    """The guest's function imports that have a lean callback and a shape the
    shim supports (i32/i64 params, at most ``MAX_PARAMS``, one i32 result)."""
    out: list[ShimFunc] = []
    seen: set[tuple[str, str]] = set()
    for imp in module.imports:
        key = (imp.module, imp.name or "")
        ty = imp.type
        if key in seen or key not in lean or not isinstance(ty, FuncType):
            continue
        seen.add(key)
        params = tuple(str(p) for p in ty.params)
        results = [str(r) for r in ty.results]
        if results != ["i32"] or len(params) > MAX_PARAMS \
                or any(p not in ("i32", "i64") for p in params):
            continue
        if any(c in key[0] + key[1] for c in '"\\'):
            continue
        out.append(ShimFunc(key[0], key[1], params))
    return out


def install_shim(engine: Engine, store: Store, linker: Linker, guest: Module,
                 rewritten: ImportedMemory,
                 lean: dict[tuple[str, str], fastcall.RawCallback],
                 cache: ModuleCache | None = None) -> ShimControl | None:
    """Define the guest's memory on ``linker`` (always: the rewritten guest
    imports it) and, when some imports have lean callbacks (``lean``), build
    the shim and define those imports from its exports, the lean callbacks
    being its fallbacks. Returns the control, or None (no shimmed import).

    The compiled shim goes through ``cache`` whatever its size (compiling it
    costs ~20 ms, more than a short replay's whole run; loading it ~0.2 ms)."""
    memory = Memory(store, MemoryType(Limits(rewritten.minimum, rewritten.maximum)))
    linker.define(store, SHIM_MODULE, MEMORY_NAME, memory)
    funcs = guest_shim_funcs(guest, lean)
    if not funcs:
        return None
    if cache is not None:
        cache = ModuleCache(cache.directory, min_size=0)
    try:
        return _build(engine, store, linker, memory, funcs, lean, cache)
    except (WasmtimeError, ModuleError):
        return None  # (a bug, but only a missed speed-up: the lean callbacks stay)


def _build(engine: Engine, store: Store, linker: Linker, memory: Memory,
           funcs: list[ShimFunc], lean: dict[tuple[str, str], fastcall.RawCallback],
           cache: ModuleCache | None) -> ShimControl:
    shim = compile_module(engine, shim_wat(funcs).encode(), name="replay shim", cache=cache)
    inner = Linker(engine)
    inner.define(store, SHIM_MODULE, MEMORY_NAME, memory)
    keep: list[Any] = []
    types = {"i32": ValType.i32(), "i64": ValType.i64()}
    for j, f in enumerate(funcs):
        ty = FuncType([types[p] for p in f.params], [ValType.i32()])
        keep.append(ty)
        keep.append(fastcall.define_unchecked(inner, FALLBACK_MODULE, f"f{j}", ty,
                                              lean[(f.module, f.name)]))
    instance = inner.instantiate(store, shim)
    keep.append(instance)
    exports = instance.exports(store)
    linker.allow_shadowing = True
    try:
        for f in funcs:
            linker.define(store, f.module, f.name, exports[f.export])
    finally:
        linker.allow_shadowing = False
    control = exports["control"]
    if not isinstance(control, Memory):  # pragma: no cover - the WAT above exports one
        raise WasmtimeError("shim without control memory")
    blocks = {(f.module, f.name): j * BLOCK_SIZE for j, f in enumerate(funcs)}
    return ShimControl(store, control, blocks, keep)

