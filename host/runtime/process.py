"""Process lifecycle: compile (with a cache), link, instantiate, run ``_start``,
and translate how it ended into an exit status.

Who is at fault decides the shape of a failure: a module that cannot be
compiled or is not a WASI command is the user's (``ModuleError``, one line with
wasmtime's message); a guest trap is an outcome (``Outcome.trap``); an
exception from the adapter's seams that asked to abort (``GuestAbort``,
``KeyboardInterrupt``) propagates to the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from wasmtime import Engine, Func, Linker, Module, Store, Trap, WasmtimeError

from wasi_rr.errors import ModuleError
from wasi_rr.exitcodes import ExitStatus
from wasi_rr.host.boundary.adapter import HostAdapter, StopKind

from .engine import deadline, interrupt_on_sigint, make_engine, wasmtime_version
from .modcache import ModuleBytes, ModuleCache, compile_module, default_cache_dir
from .modcache import error_chain as _error_chain

__all__ = [
    "EPOCH_DEADLINE",
    "LinkHooks",
    "ModuleBytes",
    "ModuleCache",
    "Outcome",
    "Process",
    "check_command",
    "compile_module",
    "deadline",
    "default_cache_dir",
    "interrupt_on_sigint",
    "make_engine",
    "read_module_file",
    "wasmtime_version",
]

EPOCH_DEADLINE = 1
"""Every store traps at the first epoch increment (Ctrl-C, ``--timeout``)."""

def read_module_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ModuleError(f"cannot read module {path}: {e.strerror or e}") from None


def check_command(module: Module, name: str = "module") -> None:
    """A WASI command exports ``_start`` and its ``memory``."""
    exports = {e.name for e in module.exports}
    missing = [n for n in ("_start", "memory") if n not in exports]
    if missing:
        raise ModuleError(
            f"{name} is not a WASI command: no {' or '.join(repr(m) for m in missing)} export"
        )


class LinkHooks(Protocol):
    """Generated wasm that serves the guest's imports (replay's replayer, record's
    wasm recorder) links itself around the guest's instantiation."""

    def before_instantiate(self, process: Process) -> None:
        """Define the guest's imports on ``process.linker`` (the adapter left them out)."""

    def after_instantiate(self, process: Process) -> None:
        """Link to the instantiated guest (its memory)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended: ``exit_code`` (0 when ``_start`` returned), or a trap."""

    exit_code: int
    trap: str | None = None
    host_error: BaseException | None = None


class Process:
    """One guest instance: a store, its linker, its adapter."""

    def __init__(
        self,
        engine: Engine,
        module: Module,
        adapter: HostAdapter,
        *,
        name: str = "module",
        hooks: LinkHooks | None = None,
    ) -> None:
        check_command(module, name)
        self.hooks = hooks
        self.engine = engine
        self.module = module
        self.adapter = adapter
        self.store = Store(engine)
        self.store.set_epoch_deadline(EPOCH_DEADLINE)
        self.linker = Linker(engine)
        adapter.link(self.linker, module)
        self._before_instantiate()
        self._early: Outcome | None = None
        """Set when the module's start function already ended the run."""
        try:
            self.instance = self.linker.instantiate(self.store, module)
        except Trap as e:
            # the guest's own start function trapped or called proc_exit
            self._early = self._outcome_of_trap(e)
            return
        except WasmtimeError as e:
            if adapter.stop is not None:
                self._early = self._outcome_of_trap(e)
                return
            raise ModuleError(f"cannot instantiate {name}: {_error_chain(str(e))}") from None
        adapter.bind(self.store, self.instance)
        self._after_instantiate()
        start = self.instance.exports(self.store).get("_start")
        if not isinstance(start, Func):
            raise ModuleError(f"{name} is not a WASI command: '_start' is not a function")
        self._start = start

    def _after_instantiate(self) -> None:
        """Runs once the guest is instantiated and bound: ``hooks`` link to it."""
        if self.hooks is not None:
            self.hooks.after_instantiate(self)

    def _before_instantiate(self) -> None:
        """Runs after the adapter linked the imports, before instantiation:
        ``hooks`` define the imports the adapter left to them."""
        if self.hooks is not None:
            self.hooks.before_instantiate(self)

    def run(self) -> Outcome:
        """Run ``_start`` to its end (may be called again, e.g. after an
        asyncify unwind returned from ``_start``)."""
        if self._early is not None:
            return self._early
        self.adapter.stop = None
        try:
            self._start(self.store)
        except (Trap, WasmtimeError) as e:
            return self._outcome_of_trap(e)
        return Outcome(0)

    def _outcome_of_trap(self, error: Exception) -> Outcome:
        stop = self.adapter.stop
        if stop is None:
            return Outcome(int(ExitStatus.TRAP), trap=_trap_message(error))
        if stop.kind is StopKind.EXIT:
            return Outcome(stop.exit_code)
        if stop.kind is StopKind.ABORT:
            assert stop.exception is not None
            raise stop.exception
        return Outcome(int(ExitStatus.TRAP), trap=stop.message, host_error=stop.exception)


def _trap_message(error: Exception) -> str:
    """The cause of a trap on one line, without wasmtime's backtrace:
    ``error while executing at wasm backtrace: ... Caused by: wasm trap: X`` -> ``X``."""
    text = getattr(error, "message", None) or str(error)
    if "Caused by:" in text:
        cause = text.split("Caused by:", 1)[1]
        lines = [
            re.sub(r"^\d+:\s*", "", line.strip())
            for line in cause.strip().splitlines()
            if line.strip()
        ]
        *details, root = lines or [text.strip()]
        root = root.removeprefix("wasm trap: ")
        return f"{root} ({'; '.join(details)})" if details else root
    return _one_line(text)


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else text.strip()
