"""The host adapter: wasmtime imports <-> kernel calls, the only code touching
guest memory.

One ``HostAdapter`` serves exactly one instance (one linker, one memory, one
syscall sequence) and holds no module-global state, so several instances (fork
children, replays) can live in one Python process. A callback keeps nothing in
flight between two calls, so an asyncify unwind/rewind at a syscall can
re-enter it.

Every import's callback comes from one place, ``callback(sig)``:

- a ``source`` (replay installs one) may answer for any signature;
- irregular calls (``proc_exit``, the WASIX process calls) get their
  hand-written handler (``irregular.py``, each says why it is irregular);
- every other call gets the callback ``codegen`` generated from the table:
  ``RUN`` shape, or ``RECORD`` when a ``recorder`` is attached.

Outcomes that stop the guest are returned to wasmtime as traps and remembered
on the adapter (``stop``) for ``host.runtime.process`` to translate:
``ProcExit`` -> exit status; ``GuestAbort`` (a deliberate stop, e.g. a replay
divergence) and ``KeyboardInterrupt`` -> re-raised; any other exception is a
host bug -> the trap message ``wasi-rr host error in <fn>: ...``. No exception
ever leaves a callback (it would abort the process).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from wasmtime import FuncType, Instance, Linker, Memory, Module, Store, ValType

from wasi_rr.errors import ModuleError, UnknownImportsError
from wasi_rr.host.kernel.wasi_types import ProcExit
from wasi_rr.host.table import SIGNATURES, Signature, WasmType

from . import fastcall
from .codecs import environment
from .codegen import Options, Shape, factory
from .memory import GuestMemory

Emit = Callable[[int, int, tuple[int, ...], int, list[tuple[int, bytes]],
                 list[tuple[int, bytes]]], None]
"""``emit(fid, flags, params, errno, inputs, writes)``: append one call record."""
CallbackSource = Callable[[Signature, "HostAdapter"], "fastcall.RawCallback | None"]
"""Answers ``sig``'s callback for an adapter, or None to leave it to the adapter."""
Observe = Callable[[tuple[int, ...]], tuple[list[tuple[int, bytes]], "int | None",
                                           list[tuple[int, bytes]]]]
"""``observe(params) -> (inputs, errno, writes)``; errno None: decoded only (no kernel)."""


class Recorder(Protocol):
    """What the adapter needs from a recording (``wasi_rr.record``): the number
    of a function in the journal, and an ``emit`` for this adapter's process."""

    def function_id(self, sig: Signature) -> int: ...

    def emitter(self, adapter: HostAdapter) -> Emit: ...

    def fast_env(self, adapter: HostAdapter) -> dict[str, Any] | None:
        """What a simple RECORD callback needs to append records itself (``buf``,
        ``LIMIT``, ``FLUSH``, ``CALLS``, ``CUR``, ``PID``, ``THRESHOLD``), or None
        to always go through ``emit`` (e.g. while redacting)."""


class CallInterceptor(Protocol):
    """Sees every call first, before decoding (the snapshot/process seam: asyncify
    unwind at a syscall, rewind bookkeeping; docs/snapshots.md).

    Return None to let the call proceed, or an int to return it to the guest at
    once: no decode, no kernel, no record, and ``seq`` does not advance (the call
    will be re-issued after a rewind)."""

    def before_call(self, signature: Signature, params: tuple[int, ...]) -> int | None: ...


class GuestAbort(Exception):
    """Raise from a callback's collaborator to stop the guest on purpose (e.g. a
    replay divergence); ``host.runtime.process`` re-raises it to its caller."""


class StopKind(enum.Enum):
    EXIT = "exit"
    ABORT = "abort"
    HOST_ERROR = "host_error"


@dataclass(slots=True)
class Stop:
    """Why the adapter stopped the guest (set just before it returns a trap)."""

    kind: StopKind
    function: str
    exit_code: int = 0
    exception: BaseException | None = None
    message: str = ""


class Counter:
    """The adapter's call counter (``seq``), a cell the generated callbacks bump."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


@dataclass(slots=True)
class _Definitions:
    """What must stay alive as long as the linker can call into us."""

    thunks: list[Any] = field(default_factory=list)
    functypes: list[FuncType] = field(default_factory=list)


class HostAdapter:
    """Serves the WASI (and WASIX subset) imports of one instance."""

    def __init__(self, kernel: Any = None, *, recorder: Recorder | None = None,
                 interceptor: CallInterceptor | None = None,
                 source: CallbackSource | None = None,
                 trap_unknown_imports: bool = False) -> None:
        self.kernel = kernel
        self.recorder = recorder
        self.interceptor = interceptor
        self.source = source
        self.trap_unknown_imports = trap_unknown_imports
        self.memory = GuestMemory()
        self.counter = Counter()
        self.pid = 1
        """The process this instance is (the process group sets it; 1 alone)."""
        self.stop: Stop | None = None
        self.provided_imports: frozenset[tuple[str, str]] = frozenset()
        """``(module, name)`` imports the caller defines on the linker itself."""
        self._defs = _Definitions()
        self._emit: Emit | None = None
        self._observers: dict[tuple[Signature, int], Observe] = {}

    @property
    def seq(self) -> int:
        """Sequence number of the next call (per process; counted when recording
        or intercepting)."""
        return self.counter.n

    @seq.setter
    def seq(self, value: int) -> None:
        self.counter.n = value

    # -- linking ------------------------------------------------------------------

    def link(self, linker: Linker, module: Module) -> None:
        """Define every import ``module`` needs on ``linker`` (one linker per
        instance). Raises ``UnknownImportsError`` listing all imports wasi-rr does
        not provide, unless ``trap_unknown_imports`` (then each traps when called)."""
        unknown: list[str] = []
        trappable: list[tuple[str, str, FuncType]] = []
        seen: set[tuple[str, str]] = set()
        for imp in module.imports:
            key = (imp.module, imp.name or "")
            if key in seen or key in self.provided_imports:
                continue
            seen.add(key)
            sig = SIGNATURES.get(key)
            if sig is not None:
                self._define(linker, sig.module, sig.name, functype(sig), self.callback(sig))
                continue
            label = f"{key[0]}::{key[1]}"
            ty = imp.type
            if not isinstance(ty, FuncType):
                unknown.append(f"{label} ({type(ty).__name__.removesuffix('Type').lower()})")
            elif self.trap_unknown_imports:
                trappable.append((key[0], key[1], ty))
            else:
                unknown.append(label)
        if unknown:
            raise UnknownImportsError(unknown)
        for mod, name, ty in trappable:
            trap = _trap_callback(f"unknown import {mod}::{name} called")
            self._define(linker, mod, name, ty, trap)

    def bind(self, store: Store, instance: Instance) -> None:
        """Attach to the instance's exported ``memory`` (after instantiation)."""
        mem = instance.exports(store).get("memory")
        if not isinstance(mem, Memory):
            raise ModuleError("module does not export a memory named 'memory'")
        self.memory.bind(fastcall.memory_view_source(store._context(), mem._memory))

    def _define(
        self, linker: Linker, module: str, name: str, ty: FuncType, cb: fastcall.RawCallback
    ) -> None:
        self._defs.functypes.append(ty)
        self._defs.thunks.append(fastcall.define_unchecked(linker, module, name, ty, cb))

    # -- callbacks ------------------------------------------------------------------

    def callback(self, sig: Signature) -> fastcall.RawCallback:
        """The raw callback serving ``sig`` for this instance (see module docstring)."""
        if self.source is not None:
            sourced = self.source(sig, self)
            if sourced is not None:
                return sourced
        if sig.irregular is not None:
            from .irregular import irregular_callback

            return irregular_callback(sig, self)
        recording = self.recorder is not None
        shape = Shape.RECORD if recording else Shape.RUN
        fast_env = getattr(self.recorder, "fast_env", _no_fast_env)(self)
        opts = Options(
            intercept=self.interceptor is not None,
            count=self.interceptor is not None,
            fast_emit=fast_env is not None,
        )
        intercept = self.interceptor.before_call if self.interceptor is not None else None
        env = self.environment(sig, collect=recording)
        generic_make, _ = factory(sig, shape, replace(opts, generic=True))
        generic = generic_make(
            self.kernel, self.memory, self.stop_guest, intercept, self.counter, env
        )
        make, consts = factory(sig, shape, opts)
        if make is generic_make:
            return generic  # type: ignore[no-any-return]
        env = {**env, **consts, **(fast_env or {}), "generic": generic}
        cb: fastcall.RawCallback = make(
            self.kernel, self.memory, self.stop_guest, intercept, self.counter, env
        )
        return cb

    def run_callback(self, sig: Signature) -> fastcall.RawCallback:
        """The RUN callback of a regular ``sig`` with ``Options.report_stdio``,
        whatever is attached: the wasm recorder calls it and journals the call
        itself (it never serves a process group: no interceptor, no counting)."""
        if sig.irregular is not None or self.interceptor is not None:
            raise ValueError(f"{sig.name}: no plain RUN callback here")
        opts = Options(report_stdio=True)
        env = self.environment(sig, collect=False)
        generic_make, _ = factory(sig, Shape.RUN, replace(opts, generic=True))
        generic = generic_make(self.kernel, self.memory, self.stop_guest, None, self.counter, env)
        make, consts = factory(sig, Shape.RUN, opts)
        if make is generic_make:
            return generic  # type: ignore[no-any-return]
        cb: fastcall.RawCallback = make(
            self.kernel,
            self.memory,
            self.stop_guest,
            None,
            self.counter,
            {**env, **consts, "generic": generic},
        )
        return cb

    def environment(self, sig: Signature, *, collect: bool) -> dict[str, Any]:
        """The names a generated function of ``sig`` binds, for this adapter."""
        slots_type = fastcall.raw_slots(len(sig.params))
        fid, emit = -1, None
        if self.recorder is not None:
            fid = self.recorder.function_id(sig)
            emit = self.emit
        # fd -> 1/2 for the consoles, kept current by the kernel's fd table (a
        # kernel without one, e.g. a test double, has no stdio to mark)
        stdio = getattr(self.kernel, "stdio_fds", None)
        return environment(
            sig,
            self.memory,
            collect=collect,
            fid=fid,
            emit=emit,
            stdio=stdio,
            slots_at=lambda args: fastcall.slots_at(slots_type, args),
            idle_slots=fastcall.idle_slots(slots_type),
        )

    @property
    def emit(self) -> Emit:
        """The recorder's ``emit`` for this adapter (made once)."""
        if self._emit is None:
            assert self.recorder is not None
            self._emit = self.recorder.emitter(self)
        return self._emit

    def observer(self, sig: Signature, kernel: Any = None) -> Observe:
        """``OBSERVE`` for ``sig`` on this adapter's memory: decode (and with a
        ``kernel``, execute) one call, returning what crossed the boundary.
        Made once per signature and kernel (replay's reports and ``--verify`` ask
        on every call)."""
        key = (sig, id(kernel))
        cached = self._observers.get(key)
        if cached is not None:
            return cached
        env = self.environment(sig, collect=True)
        make, _ = factory(sig, Shape.OBSERVE)
        observe: Observe = make(kernel, self.memory, self.stop_guest, None, self.counter, env)
        self._observers[key] = observe
        return observe

    def stop_guest(self, sig: Signature, exc: BaseException) -> int:
        """Remember why the guest must stop and return a trap for wasmtime.

        Never raises: an exception escaping a ctypes callback would be printed
        and the call would "succeed" with a garbage result.
        """
        try:
            if isinstance(exc, ProcExit):
                self.stop = Stop(StopKind.EXIT, sig.name, exit_code=exc.code & 0xFFFF_FFFF)
                return fastcall.new_trap(f"wasi-rr: proc_exit({exc.code})")
            if isinstance(exc, GuestAbort) or not isinstance(exc, Exception):
                message = f"wasi-rr: run aborted in {sig.name}: {type(exc).__name__}: {exc}"
                self.stop = Stop(StopKind.ABORT, sig.name, exception=exc, message=message)
                return fastcall.new_trap(message)
            message = f"wasi-rr host error in {sig.name}: {type(exc).__name__}: {exc}"
            self.stop = Stop(StopKind.HOST_ERROR, sig.name, exception=exc, message=message)
            return fastcall.new_trap(message)
        except BaseException:
            try:
                return fastcall.new_trap("wasi-rr host error: failed to report an error")
            except BaseException:
                return 0


def _trap_callback(message: str) -> fastcall.RawCallback:
    def cb(env: Any, caller: Any, args: Any, count: int) -> int:
        try:
            return fastcall.new_trap(message)
        except BaseException:  # must never leave a ctypes callback
            return 0

    return cb


def functype(sig: Signature) -> FuncType:
    """The wasm function type of an import."""
    types = {WasmType.I32: ValType.i32(), WasmType.I64: ValType.i64()}
    params = [types[p.wasm] for p in sig.params]
    results = [types[sig.result]] if sig.result is not None else []
    return FuncType(params, results)


def _no_fast_env(adapter: HostAdapter) -> None:
    """A recorder without ``fast_env`` (or none): every record goes through ``emit``."""
    return None
