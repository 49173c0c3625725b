"""The unchecked wasmtime C-API trampoline (DESIGN §5: 1.3 µs instead of 13 µs).

``Linker.define_func`` boxes every argument in a ``Val``. Instead we define each
import with ``wasmtime_linker_define_func_unchecked``: wasmtime calls a ctypes
callback with a pointer to an array of ``wasmtime_val_raw_t`` (16 bytes per
slot) holding the arguments, into whose first slot the result is written. The
callback returns NULL, or a ``wasm_trap_t*`` to stop the guest.

This module only knows that calling convention; what a callback does is the
adapter's business. It keeps no state: callers must keep the returned
``CallbackPointer`` objects alive as long as the linker/store can call them
(a collected ctypes thunk is a crash, not an exception).
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable
from typing import Any, Final

from wasmtime import FuncType, Linker, WasmtimeError
from wasmtime import _ffi as ffi

RAW_SLOT_SIZE: Final = 16
"""``sizeof(wasmtime_val_raw_t)``: params are read from / results written to
``args + 16*i``."""

RawCallback = Callable[[int | None, int | None, int, int], int]
"""``(env, caller, args_and_results, count) -> trap address or 0``."""

CALLBACK_TYPE: Final = ctypes.CFUNCTYPE(
    ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)

# Our own prototype of the same C function (the one in wasmtime._bindings wants
# a callback typed over POINTER(wasmtime_val_raw_t); c_void_p gives us plain ints,
# which are much cheaper to use). Creating a new foreign-function object does not
# alter wasmtime's own binding.
_DEFINE_UNCHECKED: Final = ctypes.CFUNCTYPE(
    ctypes.c_void_p,             # wasmtime_error_t*
    ctypes.c_void_p,             # wasmtime_linker_t*
    ctypes.c_char_p, ctypes.c_size_t,
    ctypes.c_char_p, ctypes.c_size_t,
    ctypes.c_void_p,             # const wasm_functype_t*
    CALLBACK_TYPE,
    ctypes.c_void_p,             # env
    ctypes.c_void_p,             # finalizer
)(("wasmtime_linker_define_func_unchecked", ffi.dll))

CallbackPointer = Any
"""A ctypes thunk (``CALLBACK_TYPE`` instance); opaque, keep it referenced."""


def define_unchecked(linker: Linker, module: str, name: str, ty: FuncType,
                     callback: RawCallback) -> CallbackPointer:
    """Define ``module::name`` of type ``ty`` on ``linker`` to call ``callback``.

    Returns the ctypes thunk, which the caller must keep referenced.
    Raises ``WasmtimeError`` if wasmtime refuses (e.g. a duplicate definition).
    """
    thunk = CALLBACK_TYPE(callback)
    mod = module.encode()
    nm = name.encode()
    err = _DEFINE_UNCHECKED(
        ctypes.cast(linker.ptr(), ctypes.c_void_p), mod, len(mod), nm, len(nm),
        ctypes.cast(ty.ptr(), ctypes.c_void_p), thunk, None, None)
    if err:
        raise WasmtimeError._from_ptr(ctypes.cast(err, ctypes.POINTER(ffi.wasmtime_error_t)))
    return thunk


def new_trap(message: str) -> int:
    """A fresh ``wasm_trap_t*`` (as an address) to return from a callback;
    wasmtime takes ownership of it."""
    raw = message.encode("utf-8", "replace")
    trap = ffi.wasmtime_trap_new(raw, len(raw))
    address = ctypes.cast(trap, ctypes.c_void_p).value
    if not address:
        raise MemoryError("wasmtime_trap_new returned NULL")
    return address


def raw_slots(count: int) -> type[ctypes.Array[ctypes.c_ubyte]]:
    """A ctypes array type covering ``count`` raw value slots, for
    ``from_address(args)`` + ``struct.unpack_from``/``pack_into`` (far cheaper
    than ``ctypes.string_at`` or union field access)."""
    return ctypes.c_ubyte * (RAW_SLOT_SIZE * max(1, count))


def slots_at(slots_type: type[ctypes.Array[ctypes.c_ubyte]], address: int) -> memoryview:
    """A byte view of the raw slots at ``address`` (a callback's ``args``).

    A ``memoryview`` rather than the ctypes array itself: ``struct.unpack_from``/
    ``pack_into`` on it cost ~72 ns instead of ~119/100 ns, because exporting the
    buffer of a ctypes object is slow and a memoryview re-exports its own.
    Callbacks keep the view while wasmtime passes the same address (it nearly
    always does) and only dereference it during the call it belongs to.
    """
    return memoryview(slots_type.from_address(address))


def idle_slots(slots_type: type[ctypes.Array[ctypes.c_ubyte]]) -> memoryview:
    """A private buffer shaped like ``slots_type``: the view a callback holds
    before its first call."""
    return memoryview(slots_type.from_buffer(bytearray(ctypes.sizeof(slots_type))))


_ERRNO: Final = struct.Struct("<i")


def params_callback(slot_count: int, unpack_params: Callable[[Any], tuple[int, ...]],
                    call: Callable[[tuple[int, ...]], int],
                    stop: Callable[[BaseException], int],
                    has_result: bool = True) -> RawCallback:
    """The usual raw callback: unpack the params from the slots, ``call(params)``
    for the errno, write it to the first slot; any exception goes to ``stop``,
    whose return value (a trap address) is handed to wasmtime.

    ``unpack_params`` is the signature's ``raw_struct.unpack_from``. The slots
    view is kept while wasmtime passes the same address (``slots_at``). The
    hottest callbacks (the adapter's fused handlers, the recorder's lanes,
    replay's lean callbacks) inline this instead: one Python call level costs
    ~60-80 ns there.
    """
    slots_type = raw_slots(slot_count)
    pack_into = _ERRNO.pack_into
    last_args = 0
    last_slots = idle_slots(slots_type)

    def callback(env: Any, caller: Any, args: int, count: int) -> int:
        nonlocal last_args, last_slots
        try:
            if args != last_args:
                last_slots = slots_at(slots_type, args)
                last_args = args
            slots = last_slots
            errno = call(unpack_params(slots))
        except BaseException as e:  # must never leave a ctypes callback
            return stop(e)
        if has_result:
            pack_into(slots, 0, errno)
        return 0
    return callback


def memory_view_source(store_context: Any, memory_raw: Any) -> Callable[[], memoryview]:
    """A ``GuestMemory`` view source over a wasmtime memory.

    ``store_context`` is ``Store._context()``; ``memory_raw`` the memory's
    ``wasmtime_memory_t`` (``Memory._memory``).
    """
    mem_ptr = ctypes.pointer(memory_raw)

    def source() -> memoryview:
        size = ffi.wasmtime_memory_data_size(store_context, mem_ptr)
        if size == 0:
            return memoryview(bytearray())
        base = ffi.wasmtime_memory_data(store_context, mem_ptr)
        address = ctypes.addressof(base.contents)
        return memoryview((ctypes.c_ubyte * size).from_address(address)).cast("B")

    return source
