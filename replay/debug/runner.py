"""One replay of the journal that stops where it is told: the debugger's engine.

Stopping at syscall N means being inside the host callback of call N: the
``Answerer``'s ``before_call`` hook runs there with the guest's memory
untouched by call N, so everything can be inspected (memory through the
adapter's view, the wasm stack through a trap, see ``inspect.backtrace``).
The hook hands the stop to a ``StopHandler`` (the command loop) and returns
when the guest should go on; going *backwards* cannot return, so the handler
raises ``Rewind`` (a ``GuestAbort``): the replay is abandoned and the session
starts a new one that stops at the earlier call. Deterministic replay makes
that the same state.

Speed comes from the wasm replayer: it answers every call between two stops
without entering Python (``Replayer.stop_after``: Python is entered exactly at
the next stop). Only a watchpoint, which must look at memory at every syscall
boundary, switches it off for the run. Journals with several processes run on
the instrumented module's process group (``replay.procs``), always in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from wasmtime import Engine, Module, Store

from wasi_rr.host.boundary.adapter import GuestAbort, HostAdapter
from wasi_rr.host.runtime.process import Outcome
from wasi_rr.host.table import Signature
from wasi_rr.journal import JournalError, JournalReader

from ..answer import JournalAbort, RecordingEnded
from ..divergence import Divergence, DivergenceError
from ..engine import ReplayOptions, setup_one
from ..output import Output
from .index import JournalIndex

__all__ = ["Quit", "Rewind", "Run", "RunEnd", "RunTarget", "Stop", "StopHandler"]


class Rewind(GuestAbort):
    """Abandon this replay and start another that stops at ``target``."""

    def __init__(self, target: int) -> None:
        super().__init__(f"rewind to #{target}")
        self.target = target


class Quit(GuestAbort):
    """The user is done: abandon the replay."""


@dataclass(slots=True)
class Stop:
    """The guest stopped at call ``index``, inside its host callback."""

    index: int
    adapter: HostAdapter
    sig: Signature
    params: tuple[int, ...]
    store: Store


class StopHandler(Protocol):
    def at_stop(self, stop: Stop, run: Run) -> None:
        """Inspect; return to let the guest go on (to ``run.target``), or raise
        ``Rewind``/``Quit``."""


Predicate = Callable[[Stop], bool]


@dataclass(slots=True)
class RunTarget:
    """Where the running guest stops next."""

    index: int | None = None
    """Stop at this call (None: run to the end)."""
    predicate: Predicate | None = None
    """Also stop at the first call for which this is true (looked at on every call:
    the wasm replayer is off while it is set)."""


@dataclass(slots=True)
class RunEnd:
    """How a run that was not abandoned ended."""

    outcome: Outcome | None = None
    divergence: Divergence | None = None
    journal_error: str | None = None
    calls: int = 0


@dataclass(eq=False)
class Run:
    """One replay from the start (see module docstring)."""

    index: JournalIndex
    reader: JournalReader
    engine: Engine
    compiled: Module
    handler: StopHandler
    target: RunTarget = field(default_factory=RunTarget)
    digests: dict[int, list[tuple[int, bytes]]] = field(default_factory=dict)
    """Shared with the session: the real bytes of inputs the journal stored as
    digests, read from guest memory as calls pass (the kernel needs them)."""
    fast: bool = True
    _replayer: object = None
    _stores: dict[int, Store] = field(default_factory=dict)

    def execute(self) -> RunEnd:
        """Run the guest until it ends; stops call the handler (``Rewind``/``Quit``
        propagate to the caller)."""
        if self.index.multi:
            return self._execute_group()
        setup = setup_one(self.reader, self.engine, self.compiled,
                          self.index.header.module_name or "module", Output(None, None),
                          ReplayOptions(fast=self.fast))
        self._replayer = setup.replayer
        self._stores[id(setup.adapter)] = setup.process.store
        setup.answerer.before_call = self._hook(setup.tape)
        self._arm(-1)
        try:
            outcome = setup.process.run()
        except (DivergenceError, JournalAbort, RecordingEnded) as exc:
            return _abnormal(exc, setup.tape.state.calls)
        finally:
            setup.tape.sync_in()
        return RunEnd(outcome, calls=setup.tape.state.calls)

    def _execute_group(self) -> RunEnd:
        from ..procs import setup_group

        wasm = self.reader.module_bytes()
        assert wasm is not None
        setup = setup_group(self.reader, wasm, self.engine, Output(None, None),
                            ReplayOptions())
        setup.answerer.before_call = self._hook(setup.tape)
        group = setup.group
        original_spawn = group.spawn

        def spawn(*args: object, **kwargs: object) -> object:
            proc = original_spawn(*args, **kwargs)  # type: ignore[arg-type]
            self._stores[id(proc.adapter)] = proc.process.store
            return proc
        for proc in group.procs.values():
            self._stores[id(proc.adapter)] = proc.process.store
        group.spawn = spawn  # type: ignore[method-assign,assignment]
        try:
            outcome = group.run()
        except (DivergenceError, JournalAbort, RecordingEnded) as exc:
            return _abnormal(exc, setup.tape.state.calls)
        return RunEnd(outcome, calls=setup.tape.state.calls)

    # -- the stop hook ---------------------------------------------------------------
    def _hook(self, tape: object) -> Callable[[HostAdapter, Signature, tuple[int, ...]], None]:
        def before_call(adapter: HostAdapter, sig: Signature, params: tuple[int, ...]) -> None:
            at = tape.state.calls  # type: ignore[attr-defined]
            if at in self.index.digested and at not in self.digests:
                self._keep_digested(at, adapter)
            target = self.target
            if at == target.index or (target.predicate is not None and target.predicate(
                    Stop(at, adapter, sig, params, self._stores[id(adapter)]))):
                self.handler.at_stop(Stop(at, adapter, sig, params,
                                          self._stores[id(adapter)]), self)
            self._arm(at)
        return before_call

    def _arm(self, at: int) -> None:
        """Let the wasm replayer answer every call up to the next stop."""
        replayer = self._replayer
        if replayer is None:
            return
        target = self.target
        replayer.set_enabled(target.predicate is None)  # type: ignore[attr-defined]
        if target.index is not None and target.index > at:
            replayer.stop_after(target.index - at - 1)  # type: ignore[attr-defined]
        else:
            replayer.stop_after(None)  # type: ignore[attr-defined]

    def _keep_digested(self, at: int, adapter: HostAdapter) -> None:
        from wasi_rr.journal import InputDigest

        mem = adapter.memory
        mem.refresh()
        kept = []
        for addr, data in self.index.calls[at].inputs:
            if isinstance(data, InputDigest) and addr + data.length <= mem.size:
                kept.append((addr, bytes(mem.view[addr:addr + data.length])))
        self.digests[at] = kept


def _abnormal(exc: BaseException, calls: int) -> RunEnd:
    if isinstance(exc, DivergenceError):
        return RunEnd(divergence=exc.divergence, calls=calls)
    if isinstance(exc, JournalAbort):
        error: JournalError = exc.error
        return RunEnd(journal_error=str(error), calls=calls)
    return RunEnd(journal_error=str(exc), calls=calls)
