"""The stub a guest links to when its imports are served by generated wasm.

Replay's replayer and record's wasm recorder are wasm modules that read the
guest's memory, so they can only be instantiated after the guest, whose
imports must exist before it. The stub breaks the cycle without rewriting the
guest (so every command shares ``run``'s compiled module): for an import
module (``wasi_snapshot_preview1``, ``wasix_32v1``) it exports every table row
of that module under its own name, each doing ``call_indirect`` through slot
``t`` (the row's number) of a funcref table that Python fills with the real
functions once they exist. The stub covers every row, not just one guest's
imports, so it is compiled once per version of the table and then loaded from
the module cache, whatever guest comes next.

Also here: the numbering of the table's rows (``ROWS``, ``row``), the WAT
spelling of a signature's type, and the list of rows a module imports (in
import order, each once).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import Final

from wasmtime import Instance, Limits, Linker, Module, Store, Table, TableType, ValType

from wasi_rr.host.table import SIGNATURES, Signature, WasmType

STUB_NAME: Final = "wasi-rr-stub"
ROWS: Final[tuple[Signature, ...]] = tuple(SIGNATURES.values())
"""Every table row, numbered: the generic modules (stub, replayer) name a row's
function by its index here."""
_ROW: Final = MappingProxyType({sig: t for t, sig in enumerate(ROWS)})


def row(sig: Signature) -> int:
    """``sig``'s index in ``ROWS``."""
    return _ROW[sig]


def row_table(store: Store) -> Table:
    """A funcref table with a slot per row (filled for the rows a guest imports)."""
    return Table(store, TableType(ValType.funcref(), Limits(len(ROWS), None)), None)


def wat_type(t: WasmType) -> str:
    return "i32" if t is WasmType.I32 else "i64"


def wat_signature(sig: Signature) -> str:
    """``(param ..) (result ..)`` of ``sig``'s import, as in a WAT func."""
    params = " ".join(f"(param {wat_type(p.wasm)})" for p in sig.params)
    result = f" (result {wat_type(sig.result)})" if sig.result is not None else ""
    return f"{params}{result}"


def guest_signatures(module: Module) -> list[Signature]:
    """The table rows ``module`` imports, in import order, each once."""
    sigs: list[Signature] = []
    seen: set[tuple[str, str]] = set()
    for imp in module.imports:
        key = (imp.module, imp.name or "")
        sig = SIGNATURES.get(key)
        if sig is not None and key not in seen:
            seen.add(key)
            sigs.append(sig)
    return sigs


@functools.cache
def stub_wat(module: str) -> str:
    """The functions a guest imports from ``module``, under their own names: each
    calls slot ``row(sig)`` of the table. One stub per import module, so the guest's
    imports are defined with one ``define_instance`` (no export is wrapped in Python)."""
    rows = [(t, sig) for t, sig in enumerate(ROWS) if sig.module == module]
    parts = [f"(module ${STUB_NAME}",
             f'  (import "rr" "table" (table $t {len(ROWS)} funcref))']
    for t, sig in rows:
        parts.append(f"  (type $t{t} (func {wat_signature(sig)}))")
    for t, sig in rows:
        args = " ".join(f"(local.get {i})" for i in range(len(sig.params)))
        parts.append(f'  (func (export "{sig.name}") (type $t{t}) '
                     f"(call_indirect $t (type $t{t}) {args} (i32.const {t})))")
    parts.append(")")
    return "\n".join(parts)


class Stub:
    """The stub instances of one guest (one per import module) and their table."""

    def __init__(self, store: Store, linker: Linker, sigs: Sequence[Signature],
                 compiled: Callable[[str], Module]) -> None:
        """Define the guest's imports of ``sigs`` on ``linker`` as the functions of
        stub instances (``compiled(module)`` is ``stub_wat(module)`` compiled)."""
        self.sigs = list(sigs)
        self.table = row_table(store)
        for module in dict.fromkeys(sig.module for sig in self.sigs):
            linker.define_instance(store, module, Instance(store, compiled(module), [self.table]))

    def fill(self, store: Store, functions: Sequence[object]) -> None:
        """Point the slot of ``sigs[k]`` at ``functions[k]`` (a ``Func``; typed as
        ``object`` because wasmtime types exports as any extern)."""
        for sig, func in zip(self.sigs, functions, strict=True):
            self.table.set(store, row(sig), func)
