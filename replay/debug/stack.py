"""The guest's wasm call stack while it is stopped inside a host call.

wasmtime hands out frames only with a trap, and a trap's backtrace covers every
wasm activation of the thread, across host calls. So, from inside the host
callback, calling a one-instruction module that traps (in the same store)
yields the guest's frames below the host call: names from the name section,
module offsets that ``dwarf.LineTable`` turns into file:line. About 1 ms, and
the stopped guest is untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wasmtime import Instance, Module, Store, Trap, WasmtimeError

from ..backtrace import REPLAYER_NAMES
from .dwarf import LineTable, SourceLine

__all__ = ["Frame", "guest_frames", "stack_of"]

_BT_WAT = '(module $wasi-rr-bt (func (export "bt") unreachable))'
_SKIP = REPLAYER_NAMES | {"wasi-rr-bt"}


@dataclass(frozen=True, slots=True)
class Frame:
    name: str
    func: int
    offset: int
    where: SourceLine | None

    def text(self, k: int) -> str:
        at = f" at {self.where}" if self.where is not None else ""
        return f"#{k} {self.name}{at} (module offset {self.offset:#x})"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "func": self.func, "offset": self.offset,
                "file": self.where.file if self.where else None,
                "line": self.where.line if self.where else None}


def stack_of(store: Store, table: LineTable) -> list[Frame]:
    """The guest's frames, innermost first (see module docstring)."""
    instance = Instance(store, Module(store.engine, _BT_WAT), [])
    try:
        instance.exports(store)["bt"](store)  # type: ignore[operator]
    except Trap as trap:
        return [Frame(f.func_name or f"<func {f.func_index}>", f.func_index, f.module_offset,
                      table.where(f.module_offset) if table.present else None)
                for f in trap.frames if f.module_name not in _SKIP]
    except WasmtimeError:
        return []
    return []


def guest_frames(store: Store, table: LineTable) -> list[str]:
    return [f.text(k) for k, f in enumerate(stack_of(store, table))]
