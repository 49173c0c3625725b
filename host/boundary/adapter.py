"""The host adapter: wasmtime imports <-> kernel calls, the only code touching
guest memory.

One ``HostAdapter`` serves exactly one instance (one linker, one memory, one
syscall sequence). It holds no module-global state, so several instances
(fork children, replays) can live in one Python process, and a callback keeps
nothing in flight between two calls, so an asyncify unwind/rewind at a syscall
can re-enter it.

Dispatch per call (see ``host.handlers`` for the decode/execute split):

- **fast path** (``LiveBackend``, no observer): unpack the raw args, ``decode``,
  ``execute`` on the kernel, write the errno. No record is built and memory
  access is not logged.
- **observed path** (an observer attached, or any other backend): the memory
  logs reads/writes; the backend gets a ``PendingCall`` carrying what the guest
  asked (params, inputs, the decoded arguments or the decoding fault) and
  returns the errno; the observer then receives the ``SyscallRecord``.

Outcomes that stop the guest are returned to wasmtime as traps and remembered
on the adapter (``stop``) for ``host.process`` to translate: ``ProcExit`` →
exit status; ``GuestAbort`` (a backend's deliberate stop, e.g. a replay
divergence) and ``KeyboardInterrupt`` → re-raised; any other exception is a
host bug → the trap message ``wasi-rr host error in <fn>: ...``.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, runtime_checkable

from wasmtime import FuncType, Instance, Linker, Memory, Module, Store

from wasi_rr.errors import ModuleError, UnknownImportsError
from wasi_rr.host.boundary import fastcall
from wasi_rr.host.table.abi import PREVIEW1, SIGNATURES, WASIX, Signature, SyscallRecord, WasmType
from wasi_rr.host.boundary.handlers import PREVIEW1_HANDLERS, WASIX_HANDLERS, Decoded, Handler
from wasi_rr.host.boundary.memory import GuestMemory, ObservedMemory
from wasi_rr.host.kernel.wasi_types import ProcExit, WasiError

_ERRNO: Final = struct.Struct("<i")
_HANDLERS: Final[dict[str, dict[str, Handler]]] = {
    PREVIEW1: PREVIEW1_HANDLERS,
    WASIX: WASIX_HANDLERS,
}


def handler_for(sig: Signature) -> Handler | None:
    """The decode/execute pair of an import, or None if it is not implemented."""
    if not sig.implemented:
        return None
    return _HANDLERS.get(sig.module, {}).get(sig.name)


# -- seams ------------------------------------------------------------------------


@dataclass(slots=True)
class PendingCall:
    """One incoming call, as handed to a ``Backend``.

    ``params``/``inputs`` are exactly what a recorder journals as the question;
    ``decoded`` holds the decoded arguments for ``handler.execute``, or is None
    when decoding failed with ``fault`` (an ``EFAULT``/``EINVAL``... the live
    backend returns as is).
    """

    seq: int
    signature: Signature
    params: tuple[int, ...]
    inputs: list[bytes]
    decoded: Decoded | None
    fault: WasiError | None
    memory: GuestMemory
    handler: Handler


@runtime_checkable
class Backend(Protocol):
    """Answers calls: the live kernel, or a journal (verbatim replay).

    ``call`` returns the errno; it may write into ``call.memory`` (through its
    ``write``/``put`` methods so writes are logged), raise ``WasiError`` (its
    errno is returned), ``ProcExit`` (the guest exits) or ``GuestAbort`` (the
    run stops and the exception reaches the caller of ``Process.run``).
    A replay backend re-applies recorded writes with ``call.memory.write`` and
    returns the recorded errno; for ``proc_exit`` it raises ``ProcExit``.
    """

    def call(self, call: PendingCall) -> int: ...


class LiveBackend:
    """Run each call on a ``WasiKernel`` (and encode its answer)."""

    __slots__ = ("kernel",)

    def __init__(self, kernel: Any) -> None:
        self.kernel = kernel

    def call(self, call: PendingCall) -> int:
        if call.fault is not None:
            raise call.fault
        assert call.decoded is not None
        return call.handler.execute(self.kernel, call.memory, call.params, call.decoded)


@runtime_checkable
class SyscallObserver(Protocol):
    """Receives one record per call, after the call (journal writer, tracer).

    An observer that only journals may also carry a ``record_sink`` attribute
    (a ``host.recordpath.RecordSink``, e.g. the ``JournalWriter``): with a live
    backend and no interceptor, the hottest calls are then journaled straight
    into it by fused callbacks (``host.recordpath``), *instead of* going through
    ``on_syscall``; the sink must record exactly what ``on_syscall`` would.
    """

    def on_syscall(self, record: SyscallRecord) -> None: ...


@runtime_checkable
class CallInterceptor(Protocol):
    """Sees every call first, before decoding (the snapshot seam: asyncify
    unwind at a syscall, rewind bookkeeping; see docs/snapshots.md §4).

    Return None to let the call proceed normally, or an int to return it to the
    guest at once: no decode, no backend, no record, and ``seq`` does not
    advance (the call will be re-issued after a rewind).
    """

    def before_call(self, signature: Signature, params: tuple[int, ...]) -> int | None: ...


# An interceptor may also offer ``call_for(signature) -> Callable[[params], int | None]``:
# the adapter then asks it once per import at link time and calls that function
# instead of ``before_call`` (same contract; replay's fast path saves the
# per-call dispatch this way).
# It may also offer ``callback_for(signature, handler, default) -> RawCallback | None``:
# asked once per import at link time with the callback the adapter built, it may
# return a raw callback to define instead (which must itself fall back to
# ``default`` for every call it does not answer); None keeps ``default``.


class GuestAbort(Exception):
    """Raise from a backend or observer to stop the guest on purpose (e.g. a
    replay divergence). ``host.process`` re-raises it to its caller."""


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


# -- the adapter ----------------------------------------------------------------------


@dataclass(slots=True)
class _Definitions:
    """What must stay alive as long as the linker can call into us."""

    thunks: list[Any] = field(default_factory=list)
    functypes: list[FuncType] = field(default_factory=list)


class HostAdapter:
    """Serves the WASI (and WASIX subset) imports of one instance."""

    def __init__(self, backend: Backend, *, observer: SyscallObserver | None = None,
                 interceptor: CallInterceptor | None = None,
                 trap_unknown_imports: bool = False) -> None:
        self.backend = backend
        self.observer = observer
        self.interceptor = interceptor
        self.trap_unknown_imports = trap_unknown_imports
        self.observed = (observer is not None or interceptor is not None
                         or type(backend) is not LiveBackend)
        self.memory: GuestMemory = ObservedMemory() if self.observed else GuestMemory()
        self.seq = 0
        """Sequence number of the next call (per process)."""
        self.before_observe: Callable[[], None] | None = None
        """Run before the observed path reads ``seq`` (the recorder's lanes fold
        their lazily-counted calls into it: ``host.recordpath.RecordLanes``)."""
        self.record_lanes: Any = None
        """The recorder's ``RecordLanes`` once built (``recordpath.recording_callback``)."""
        self.stop: Stop | None = None
        self.provided_imports: frozenset[tuple[str, str]] = frozenset()
        """``(module, name)`` imports the caller defines on the linker itself
        (``link`` skips them): replay's shim defines the guest's memory."""
        self._defs = _Definitions()

    @classmethod
    def live(cls, kernel: Any, **kwargs: Any) -> "HostAdapter":
        return cls(LiveBackend(kernel), **kwargs)

    # -- linking ------------------------------------------------------------------

    def link(self, linker: Linker, module: Module) -> None:
        """Define every import ``module`` needs on ``linker`` (one linker per
        instance). Raises ``UnknownImportsError`` listing all imports we do not
        provide, unless ``trap_unknown_imports`` (then each traps when called)."""
        unknown: list[str] = []
        trappable: list[tuple[str, str, FuncType]] = []
        seen: set[tuple[str, str]] = set()
        for imp in module.imports:
            key = (imp.module, imp.name or "")
            if key in seen or key in self.provided_imports:
                continue
            seen.add(key)
            sig = SIGNATURES.get(key)
            handler = handler_for(sig) if sig is not None else None
            if sig is not None and handler is not None:
                self._define(linker, sig, handler)
                continue
            label = f"{key[0]}::{key[1]}"
            ty = imp.type
            if not isinstance(ty, FuncType):
                # a memory/table/global import cannot be faked by a trapping function
                unknown.append(f"{label} ({type(ty).__name__.removesuffix('Type').lower()})")
            elif self.trap_unknown_imports:
                trappable.append((key[0], key[1], ty))
            else:
                unknown.append(label)
        if unknown:
            raise UnknownImportsError(unknown)
        for mod, name, ty in trappable:
            self._define_trap(linker, mod, name, ty)

    def bind(self, store: Store, instance: Instance) -> None:
        """Attach to the instance's exported ``memory`` (after instantiation)."""
        mem = instance.exports(store).get("memory")
        if not isinstance(mem, Memory):
            raise ModuleError("module does not export a memory named 'memory'")
        self.memory.bind(fastcall.memory_view_source(store._context(), mem._memory))

    def _define(self, linker: Linker, sig: Signature, handler: Handler) -> None:
        ty = _functype(sig)
        cb: fastcall.RawCallback | None = None
        sink = self._record_sink()
        if sink is not None:
            from wasi_rr.host.boundary.recordpath import recording_callback

            cb = recording_callback(self, sig, handler, sink)
        if cb is None:
            cb = self._observed_callback(sig, handler) if self.observed \
                else self._fast_callback(sig, handler)
            callback_for = getattr(self.interceptor, "callback_for", None)
            if callback_for is not None:  # e.g. replay's lean callbacks (replay/fastpath.py)
                cb = callback_for(sig, handler, cb) or cb
        self._defs.functypes.append(ty)
        self._defs.thunks.append(fastcall.define_unchecked(linker, sig.module, sig.name, ty, cb))

    def _record_sink(self) -> Any:
        """The observer's ``record_sink`` when the recorder's fused callbacks apply
        (live backend, no interceptor): see ``SyscallObserver``."""
        if self.interceptor is not None or type(self.backend) is not LiveBackend:
            return None
        return getattr(self.observer, "record_sink", None)

    def _define_trap(self, linker: Linker, module: str, name: str, ty: FuncType) -> None:
        message = f"unknown import {module}::{name} called"

        def cb(env: Any, caller: Any, args: Any, count: int) -> int:
            try:
                return fastcall.new_trap(message)
            except BaseException:  # noqa: BLE001 - must never leave a ctypes callback
                return 0
        self._defs.functypes.append(ty)
        self._defs.thunks.append(fastcall.define_unchecked(linker, module, name, ty, cb))

    # -- callbacks ------------------------------------------------------------------

    def _fast_callback(self, sig: Signature, handler: Handler) -> fastcall.RawCallback:
        slots_type = fastcall.raw_slots(len(sig.params))
        unpack_from = sig.raw_struct.unpack_from
        pack_into = _ERRNO.pack_into
        decode, execute, fused = handler
        kernel = self.backend.kernel  # type: ignore[attr-defined]
        mem = self.memory
        stop = self._stop_guest
        has_result = sig.result is not None
        # wasmtime usually hands us the same args address call after call: reuse
        # the ctypes view over it (the address is only ever dereferenced while
        # it is the current call's).
        last_args = 0
        last_slots = fastcall.idle_slots(slots_type)

        if fused is not None:
            def fused_callback(env: Any, caller: Any, args: int, count: int) -> int:
                nonlocal last_args, last_slots
                try:
                    if args != last_args:
                        last_slots = fastcall.slots_at(slots_type, args)
                        last_args = args
                    slots = last_slots
                    errno = fused(kernel, mem, unpack_from(slots))
                except WasiError as e:
                    errno = e.errno
                except BaseException as e:  # noqa: BLE001 - see _stop_guest
                    return stop(sig, e)
                if has_result:
                    pack_into(slots, 0, errno)
                return 0
            return fused_callback

        def callback(env: Any, caller: Any, args: int, count: int) -> int:
            nonlocal last_args, last_slots
            try:
                if args != last_args:
                    last_slots = fastcall.slots_at(slots_type, args)
                    last_args = args
                slots = last_slots
                p = unpack_from(slots)
                errno = execute(kernel, mem, p, decode(mem, p))
            except WasiError as e:
                errno = e.errno
            except BaseException as e:  # noqa: BLE001 - see _stop_guest
                return stop(sig, e)
            if has_result:
                pack_into(slots, 0, errno)
            return 0
        return callback

    def _observed_callback(self, sig: Signature, handler: Handler) -> fastcall.RawCallback:
        mem = self.memory
        assert isinstance(mem, ObservedMemory)
        call_for = getattr(self.interceptor, "call_for", None)
        if call_for is not None:
            return self._intercepted_callback(sig, handler, call_for(sig))
        observed_call = self._observed_call

        def call(p: tuple[int, ...]) -> int:
            return observed_call(sig, handler, mem, p)
        return self._params_callback(sig, call)

    def _intercepted_callback(self, sig: Signature, handler: Handler,
                              intercept: Any) -> fastcall.RawCallback:
        """The observed callback for an interceptor offering ``call_for``: its
        per-import function answers first (replay's fast path), else the call
        takes the observed path (without asking the interceptor again)."""
        mem = self.memory
        assert isinstance(mem, ObservedMemory)
        observe = self._observe

        def call(p: tuple[int, ...]) -> int:
            errno = intercept(p)
            return observe(sig, handler, mem, p) if errno is None else int(errno)
        return self._params_callback(sig, call)

    def _params_callback(self, sig: Signature, call: Callable[[tuple[int, ...]], int]
                         ) -> fastcall.RawCallback:
        """``fastcall.params_callback`` for ``sig``, stopping the guest on errors."""
        stop = self._stop_guest

        def stop_here(exc: BaseException) -> int:
            return stop(sig, exc)
        return fastcall.params_callback(len(sig.params), sig.raw_struct.unpack_from, call,
                                        stop_here, sig.result is not None)

    def _observed_call(self, sig: Signature, handler: Handler, mem: ObservedMemory,
                       p: tuple[int, ...]) -> int:
        if self.interceptor is not None:
            early = self.interceptor.before_call(sig, p)
            if early is not None:
                return int(early)
        return self._observe(sig, handler, mem, p)

    def _observe(self, sig: Signature, handler: Handler, mem: ObservedMemory,
                 p: tuple[int, ...]) -> int:
        """The observed call after the interceptor let it through."""
        if self.before_observe is not None:
            self.before_observe()
        seq = self.seq
        self.seq = seq + 1
        mem.begin()
        decoded: Decoded | None = None
        fault: WasiError | None = None
        try:
            decoded = handler[0](mem, p)
        except WasiError as e:
            fault = e
        exiting: ProcExit | None = None
        backend = self.backend
        try:
            if type(backend) is LiveBackend:
                # same as LiveBackend.call, without building a PendingCall
                if fault is not None:
                    raise fault
                assert decoded is not None
                errno = handler[1](backend.kernel, mem, p, decoded)
            else:
                errno = int(backend.call(
                    PendingCall(seq, sig, p, mem.inputs, decoded, fault, mem, handler)))
        except WasiError as e:
            errno = int(e.errno)
        except ProcExit as e:
            errno = 0
            exiting = e
        if self.observer is not None:
            self.observer.on_syscall(
                SyscallRecord(seq, sig.module, sig.name, p, mem.inputs, errno, mem.writes))
        if exiting is not None:
            raise exiting
        return errno

    def _stop_guest(self, sig: Signature, exc: BaseException) -> int:
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
        except BaseException:  # noqa: BLE001
            try:
                return fastcall.new_trap("wasi-rr host error: failed to report an error")
            except BaseException:  # noqa: BLE001
                return 0


def _functype(sig: Signature) -> FuncType:
    from wasmtime import ValType
    types = {WasmType.I32: ValType.i32(), WasmType.I64: ValType.i64()}
    params = [types[p.wasm] for p in sig.params]
    results = [types[sig.result]] if sig.result is not None else []
    return FuncType(params, results)
