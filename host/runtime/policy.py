"""When a run needs the process group, and when it snapshots: the light part.

Kept apart from ``procs`` (the group itself, with the asyncify machinery) so
that a plain ``run``, which needs neither, does not pay for importing them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from wasmtime import Module

from wasi_rr.host.runtime import wasmbin
from wasi_rr.host.table import SIGNATURES

__all__ = ["SnapshotPolicy", "Trigger", "binary_needs_procs", "needs_procs"]


def _group_call(module: str, name: str) -> bool:
    sig = SIGNATURES.get((module, name))
    return sig is not None and sig.group


def needs_procs(module: Module) -> bool:
    """True when the module imports WASIX process calls (it must run in a group)."""
    return any(_group_call(imp.module, imp.name or "") for imp in module.imports)


def binary_needs_procs(wasm: bytes) -> bool:
    """``needs_procs`` read from the module's bytes (its import section), without
    compiling it: a group runs the instrumented module only, so deciding on the
    plain module's compiled form would compile a module that is never run.
    Bytes the section reader cannot follow answer False (the compiler then
    reports what is wrong with them)."""
    try:
        found = wasmbin.imports(wasm)
    except (wasmbin.WasmFormatError, IndexError):
        return False
    return any(_group_call(imp.module, imp.name) for imp in found)


class Trigger(str, enum.Enum):
    """Why a snapshot was taken (journaled as its value)."""

    EVERY = "every"
    STDIN = "stdin"
    EXIT = "exit"
    SIGNAL = "signal"


class _Stop(str, enum.Enum):
    """Internal unwind reasons that are not snapshots."""

    FORK = "fork"
    BLOCK = "block"


@dataclass(frozen=True, slots=True)
class SnapshotPolicy:
    """When to snapshot a running guest (all at syscall boundaries).

    ``every``: before every N-th syscall (seq N, 2N, ...); ``on_stdin``: before
    the first read of fd 0; ``on_exit``: before ``proc_exit`` (a guest that
    returns from ``_start`` crosses no syscall at its end and gets none);
    ``on_signal``: at the first syscall after SIGUSR1 reached wasi-rr.
    After a fork a snapshot captures the whole family (``Capture.family``).
    """

    every: int = 0
    on_stdin: bool = False
    on_exit: bool = False
    on_signal: bool = False

    def __bool__(self) -> bool:
        return bool(self.every or self.on_stdin or self.on_exit or self.on_signal)


