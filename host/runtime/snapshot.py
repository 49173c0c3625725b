"""Capture and restore a running guest at a syscall, with Binaryen asyncify.

Protocol (one ``SnapshotController`` per wasm instance):

1. Inside a WASI import handler the host calls ``request_unwind(ctx, call)``
   *instead of* performing the syscall, and returns any value: the guest's
   asyncify code unwinds every frame into a buffer in linear memory and
   ``_start`` returns to the host.
2. The host sees ``_start`` return and calls ``after_start_returned()``: it
   stops the unwind and returns a ``Snapshot`` (memory image, mutable globals,
   the asyncify stack and the identity of the interrupted call), or ``None``
   when ``_start`` returned because the guest really finished.
3. To continue, a controller on the same instance (snapshot without stopping)
   or on a fresh instance of the same instrumented module (after
   ``load(snapshot)``) calls ``start_rewind(snapshot)`` and the host calls
   ``_start`` again.  Asyncify rebuilds the stack and re-issues the very same
   import call; its handler sees ``is_rewinding`` and calls
   ``finish_rewind(ctx, call)``, then performs the syscall for real and
   returns its result.  The guest continues as if nothing happened.

Why the unwind buffer is *borrowed* instead of grown: growing memory for the
buffer changes ``memory.size`` and every later ``sbrk`` address, so a run
recorded with ``--snapshot-every`` would hand the guest other pointers than a
replay without snapshots, and pointer-valued syscall parameters would diverge.
Between ``asyncify_start_unwind`` and ``asyncify_stop_rewind`` no guest code
runs (instrumented frames only spill or reload wasm locals), so the buffer
lives in the top ``buffer_size`` bytes of the guest's own memory, whose
contents are saved first and put back before the guest runs again.  The
stack data asyncify writes holds locals and call indices, never addresses of
the buffer, so it is position independent: a snapshot stores it apart from
the memory image and rewinding may place it anywhere.

Kept independent of how imports are defined: the controller needs only a
store context (``wasmtime.Store`` or the ``Caller`` of a host call) and the
instance, so the adapter's unchecked C-API dispatch can drive it as well as
``Linker.define_func``.
"""

from __future__ import annotations

import ctypes
import enum
import struct
from dataclasses import dataclass
from typing import cast

import msgpack
import wasmtime

from wasi_rr.host.runtime import memimage
from wasi_rr.host.runtime.instrument import ASYNCIFY_EXPORTS, GlobalType, InstrumentedModule
from wasi_rr.host.runtime.memimage import PageMap

__all__ = [
    "DEFAULT_BUFFER_SIZE",
    "AsyncifyState",
    "InterruptedCall",
    "Phase",
    "Snapshot",
    "SnapshotController",
    "SnapshotError",
]

WASM_PAGE = 65536
DEFAULT_BUFFER_SIZE = 1 << 20
"""Bytes of guest memory borrowed for the unwind buffer.  Asyncify traps
(``unreachable``) if the saved locals of the whole call stack do not fit, so
this is generous; it costs one copy of this many bytes per snapshot."""

_DATA_HEADER = struct.Struct("<II")  # asyncify data: {current ptr, end ptr}
_FORMAT_VERSION = 1

Storelike = wasmtime.Store | wasmtime.Caller
GlobalValue = int | float


class SnapshotError(Exception):
    """The snapshot protocol was misused or cannot proceed (a host-side fault)."""


class AsyncifyState(enum.IntEnum):
    """Values of ``asyncify_get_state()``."""

    NORMAL = 0
    UNWINDING = 1
    REWINDING = 2


class Phase(enum.Enum):
    """Where a controller is in the protocol (Python-side, no wasm call needed)."""

    RUNNING = "running"
    UNWINDING = "unwinding"
    """``request_unwind`` was called; ``_start`` is returning through the frames."""
    REWINDING = "rewinding"
    """``start_rewind`` was called; the pending import has not been re-entered yet."""


@dataclass(frozen=True, slots=True)
class InterruptedCall:
    """The import call a snapshot interrupted; rewinding re-issues exactly this call."""

    module: str
    name: str
    params: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class Snapshot:
    """A guest stopped at a syscall: everything needed to continue it.

    ``memory`` is the memory as the guest sees it (the borrowed unwind buffer
    already put back); ``asyncify_stack`` is the saved call stack; ``globals``
    follow ``InstrumentedModule.globals``.  The WASI-level state (``WasiFs``,
    fd table) is not part of it: the owner of the kernel freezes that next to
    the snapshot.
    """

    module_sha256: str
    memory: PageMap
    globals: tuple[GlobalValue, ...]
    asyncify_stack: bytes
    pending: InterruptedCall

    def to_bytes(self, base: Snapshot | None = None) -> bytes:
        """Serialize; with ``base``, memory is stored as a delta against ``base.memory``."""
        return msgpack.packb(
            {
                "v": _FORMAT_VERSION,
                "module": self.module_sha256,
                "memory": memimage.encode(self.memory, None if base is None else base.memory),
                "globals": list(self.globals),
                "stack": self.asyncify_stack,
                "call": [self.pending.module, self.pending.name, list(self.pending.params)],
            },
            use_bin_type=True,
        )

    @classmethod
    def from_bytes(cls, data: bytes, base: Snapshot | None = None) -> Snapshot:
        """Inverse of ``to_bytes`` (the same ``base`` is needed for a delta)."""
        try:
            obj = msgpack.unpackb(data, raw=False)
            if obj["v"] != _FORMAT_VERSION:
                raise SnapshotError(f"unsupported snapshot format version {obj['v']}")
            module, name, params = obj["call"]
            memory = memimage.decode_pages(obj["memory"], None if base is None else base.memory)
            return cls(
                module_sha256=str(obj["module"]),
                memory=memory,
                globals=tuple(obj["globals"]),
                asyncify_stack=bytes(obj["stack"]),
                pending=InterruptedCall(str(module), str(name), tuple(int(p) for p in params)),
            )
        except (ValueError, KeyError, TypeError, msgpack.UnpackException) as exc:
            raise SnapshotError(f"corrupt snapshot: {exc}") from None
        except memimage.MemoryImageError as exc:
            raise SnapshotError(f"corrupt snapshot: {exc}") from None


@dataclass(slots=True)
class _Borrow:
    """A region of guest memory lent to asyncify, and what it held before."""

    start: int
    saved: bytes


def _view(memory: wasmtime.Memory, ctx: Storelike) -> memoryview:
    """A zero-copy view of the whole linear memory (invalid after it grows)."""
    size = memory.data_len(ctx)
    base = ctypes.addressof(memory.data_ptr(ctx).contents)
    return memoryview((ctypes.c_ubyte * size).from_address(base)).cast("B")


class SnapshotController:
    """Drives asyncify unwind/rewind and capture/restore for ONE instance.

    ``store`` is used for calls made outside a host call (after ``_start``
    returned, or before starting it); methods called from inside an import
    handler take that call's store context ``ctx`` (a ``wasmtime.Caller``).
    """

    def __init__(
        self,
        module: InstrumentedModule,
        store: wasmtime.Store,
        instance: wasmtime.Instance,
        *,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
    ) -> None:
        if buffer_size < 4096 or buffer_size % 8:
            raise ValueError("buffer_size must be a multiple of 8 and at least 4096")
        self.module = module
        self.store = store
        self.buffer_size = buffer_size
        exports = instance.exports(store)
        try:
            memory = exports["memory"]
            # the instrumented module's exports: asyncify functions and its globals
            funcs = {name: cast(wasmtime.Func, exports[name]) for name in ASYNCIFY_EXPORTS}
            self._globals = [cast(wasmtime.Global, exports[g.export]) for g in module.globals]
        except KeyError as exc:
            raise SnapshotError(
                f"instance lacks export {exc}: is it an instance of the instrumented module?"
            ) from None
        if not isinstance(memory, wasmtime.Memory):
            raise SnapshotError("export 'memory' is not a memory")
        self._memory = memory
        self._start_unwind = funcs["asyncify_start_unwind"]
        self._stop_unwind = funcs["asyncify_stop_unwind"]
        self._start_rewind = funcs["asyncify_start_rewind"]
        self._stop_rewind = funcs["asyncify_stop_rewind"]
        self._get_state = funcs["asyncify_get_state"]
        self.phase = Phase.RUNNING
        self._borrow: _Borrow | None = None
        self._pending: InterruptedCall | None = None

    # -- queries -----------------------------------------------------------------

    @property
    def is_rewinding(self) -> bool:
        """True while the next import call is the re-issued interrupted call.

        A plain attribute check, cheap enough for the top of every handler.
        """
        return self.phase is Phase.REWINDING

    def state(self, ctx: Storelike | None = None) -> AsyncifyState:
        """The guest's own asyncify state (one wasm call)."""
        return AsyncifyState(self._get_state(ctx if ctx is not None else self.store))

    # -- unwind and capture --------------------------------------------------------

    def _lend_buffer(self, ctx: Storelike, stack: bytes = b"") -> int:
        """Borrow the top of memory for asyncify; write its data header; return its address."""
        view = _view(self._memory, ctx)
        size = min(self.buffer_size, len(view) & ~7)
        if size < _DATA_HEADER.size + len(stack):
            raise SnapshotError(
                f"guest memory ({len(view)} bytes) too small for an asyncify buffer "
                f"of {_DATA_HEADER.size + len(stack)} bytes"
            )
        start = len(view) - size
        self._borrow = _Borrow(start, bytes(view[start : start + size]))
        data_start = start + _DATA_HEADER.size
        view[data_start : data_start + len(stack)] = stack
        _DATA_HEADER.pack_into(view, start, data_start + len(stack), start + size)
        return start

    def _return_buffer(self, ctx: Storelike) -> bytes:
        """Put the borrowed region back; return the asyncify stack it held."""
        borrow = self._borrow
        if borrow is None:
            raise SnapshotError("no asyncify buffer is lent")
        view = _view(self._memory, ctx)
        current, end = _DATA_HEADER.unpack_from(view, borrow.start)
        data_start = borrow.start + _DATA_HEADER.size
        if not data_start <= current <= end <= borrow.start + len(borrow.saved):
            raise SnapshotError(f"asyncify data corrupt (current={current:#x}, end={end:#x})")
        stack = bytes(view[data_start:current])
        view[borrow.start : borrow.start + len(borrow.saved)] = borrow.saved
        self._borrow = None
        return stack

    def request_unwind(self, ctx: Storelike, call: InterruptedCall) -> None:
        """From inside an import handler: make the guest unwind out of this call.

        The handler must then return at once without touching guest memory
        (any return value; asyncify ignores it) and must not perform the
        syscall: it is re-issued on rewind.
        """
        if self.phase is not Phase.RUNNING:
            raise SnapshotError(f"cannot unwind while {self.phase.value}")
        data = self._lend_buffer(ctx)
        try:
            self._start_unwind(ctx, data)
        except BaseException:
            self._return_buffer(ctx)  # the guest keeps running: give its bytes back
            raise
        self._pending = call
        self.phase = Phase.UNWINDING

    def after_start_returned(self) -> Snapshot | None:
        """Call when ``_start`` returned: finish an unwind and capture, or ``None``.

        ``None`` means no unwind was requested and the guest simply finished.
        After a capture the instance is stopped at the pending call; it can be
        continued with ``start_rewind`` (snapshot without stopping) or dropped.
        """
        if self.phase is Phase.REWINDING:
            raise SnapshotError("_start returned before the rewind reached the interrupted call")
        if self.phase is not Phase.UNWINDING:
            return None
        store = self.store
        state = self.state(store)
        if state is not AsyncifyState.UNWINDING:
            raise SnapshotError(
                f"guest returned with asyncify state {state.name}, expected UNWINDING"
            )
        self._stop_unwind(store)
        stack = self._return_buffer(store)
        pending = self._pending
        assert pending is not None
        snapshot = Snapshot(
            module_sha256=self.module.sha256,
            memory=memimage.scan(_view(self._memory, store)),
            globals=tuple(g.value(store) for g in self._globals),
            asyncify_stack=stack,
            pending=pending,
        )
        self.phase = Phase.RUNNING
        self._pending = None
        return snapshot

    def explain_trap(self) -> str | None:
        """After ``_start`` trapped: why, if the trap came from the protocol.

        Asyncify traps (``unreachable``) when the saved call stack overflows the
        buffer.  The instance is then lost (its stack is gone); this returns a
        message saying so, or ``None`` if the trap happened while the guest ran
        normally (the guest's own fault).  Resets the controller either way.
        """
        phase, self.phase = self.phase, Phase.RUNNING
        self._borrow = None
        self._pending = None
        if phase is Phase.UNWINDING:
            return (
                "the guest trapped while unwinding for a snapshot: its call stack does not fit "
                f"the {self.buffer_size}-byte asyncify buffer (raise buffer_size)"
            )
        if phase is Phase.REWINDING:
            return (
                "the guest trapped while rewinding a snapshot (snapshot and instance do not match)"
            )
        return None

    # -- restore and rewind ---------------------------------------------------------

    def load(self, snapshot: Snapshot) -> None:
        """Make this (fresh, not yet started) instance's memory and globals the snapshot's."""
        if self.phase is not Phase.RUNNING:
            raise SnapshotError(f"cannot load a snapshot while {self.phase.value}")
        if snapshot.module_sha256 != self.module.sha256:
            raise SnapshotError("snapshot was taken from a different instrumented module")
        store = self.store
        current = self._memory.data_len(store)
        if snapshot.memory.size < current or snapshot.memory.size % WASM_PAGE:
            raise SnapshotError(
                f"snapshot memory size {snapshot.memory.size} "
                f"does not fit this instance ({current})"
            )
        if snapshot.memory.size > current:
            try:
                self._memory.grow(store, (snapshot.memory.size - current) // WASM_PAGE)
            except wasmtime.WasmtimeError as exc:
                raise SnapshotError(f"cannot grow memory to the snapshot's size: {exc}") from None
        # Pages added by the grow are zero: only the initial memory needs scanning.
        memimage.write_into(snapshot.memory, _view(self._memory, store), zero_from=current)
        if len(snapshot.globals) != len(self._globals):
            raise SnapshotError("snapshot has a different number of globals than the module")
        for spec, glob, value in zip(
            self.module.globals, self._globals, snapshot.globals, strict=True
        ):
            glob.set_value(store, _global_val(spec.type, value))

    def start_rewind(self, snapshot: Snapshot) -> None:
        """Arm the rewind of ``snapshot``'s stack; the host then calls ``_start``.

        The instance must hold the snapshot's state: either it is the instance
        the snapshot was taken from (not run since) or ``load`` was called.
        """
        if self.phase is not Phase.RUNNING:
            raise SnapshotError(f"cannot rewind while {self.phase.value}")
        store = self.store
        data = self._lend_buffer(store, snapshot.asyncify_stack)
        self._start_rewind(store, data)
        self._pending = snapshot.pending
        self.phase = Phase.REWINDING

    def restore(self, snapshot: Snapshot) -> None:
        """``load`` + ``start_rewind``: prepare a fresh instance; then call ``_start``."""
        self.load(snapshot)
        self.start_rewind(snapshot)

    def finish_rewind(self, ctx: Storelike, call: InterruptedCall | None = None) -> None:
        """From inside the re-entered import: end the rewind, before doing the syscall.

        ``call`` (if given) is checked against the interrupted call: a
        mismatch means the instance did not hold the snapshot's state.
        """
        if self.phase is not Phase.REWINDING:
            raise SnapshotError("finish_rewind called while not rewinding")
        state = self.state(ctx)
        if state is not AsyncifyState.REWINDING:
            raise SnapshotError(f"guest re-entered an import in asyncify state {state.name}")
        self._stop_rewind(ctx)
        self._return_buffer(ctx)
        pending, self._pending = self._pending, None
        self.phase = Phase.RUNNING
        if call is not None and pending is not None and call != pending:
            raise SnapshotError(f"rewind re-entered {call}, expected {pending}")


def _global_val(kind: GlobalType, value: GlobalValue) -> wasmtime.Val:
    if kind is GlobalType.I32:
        return wasmtime.Val.i32(int(value))
    if kind is GlobalType.I64:
        return wasmtime.Val.i64(int(value))
    if kind is GlobalType.F32:
        return wasmtime.Val.f32(float(value))
    return wasmtime.Val.f64(float(value))
