"""The stub a guest links to when its imports are served by generated wasm.

Replay's replayer and record's wasm recorder are wasm modules that read the
guest's memory, so they can only be instantiated after the guest, whose
imports must exist before it. The stub breaks the cycle without rewriting the
guest (so every command shares ``run``'s compiled module): it exports one
function per import, ``i<k>``, doing ``call_indirect`` through a funcref table
that Python fills with the real functions once they exist.

Also here: the WAT spelling of a signature's type, and the list of table rows
a module imports (in import order, each once), which both generated modules
number their functions by.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from wasmtime import Instance, Limits, Linker, Module, Store, Table, TableType, ValType

from wasi_rr.host.table import SIGNATURES, Signature, WasmType

STUB_NAME: Final = "wasi-rr-stub"


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


def stub_wat(sigs: Sequence[Signature]) -> str:
    """The functions the guest imports: ``i<k>`` calls table slot ``k``."""
    parts = [f"(module ${STUB_NAME}",
             f'  (import "rr" "table" (table $t {max(1, len(sigs))} funcref))']
    for k, sig in enumerate(sigs):
        parts.append(f"  (type $t{k} (func {wat_signature(sig)}))")
    for k, sig in enumerate(sigs):
        args = " ".join(f"(local.get {i})" for i in range(len(sig.params)))
        parts.append(f'  (func (export "i{k}") (type $t{k}) '
                     f"(call_indirect $t (type $t{k}) {args} (i32.const {k})))")
    parts.append(")")
    return "\n".join(parts)


class Stub:
    """The stub instance of one guest and its table."""

    def __init__(self, store: Store, linker: Linker, sigs: Sequence[Signature],
                 compiled: Module) -> None:
        """Instantiate ``compiled`` (``stub_wat(sigs)``) and define the guest's
        imports of ``sigs`` on ``linker`` as its functions."""
        self.sigs = list(sigs)
        self.table = Table(store, TableType(ValType.funcref(), Limits(max(1, len(sigs)), None)),
                           None)
        exports = Instance(store, compiled, [self.table]).exports(store)
        for k, sig in enumerate(self.sigs):
            linker.define(store, sig.module, sig.name, exports[f"i{k}"])

    def fill(self, store: Store, functions: Any) -> None:
        """Point slot ``k`` at ``functions[f"f{k}"]`` (an instance's exports)."""
        for k in range(len(self.sigs)):
            self.table.set(store, k, functions[f"f{k}"])
