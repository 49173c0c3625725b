"""The recorder's fast path: fused "execute and journal" callbacks for hot calls.

The generic observed path (``HostAdapter._observed_call``) logs every memory
access through ``ObservedMemory``, builds a ``SyscallRecord`` and hands it to
the observer, which looks the function up by name and packs it: ~3 µs per call
on top of a ~1.3 µs live call. For the calls a busy guest makes by the million
(``clock_time_get``, ``fd_write``, ``fd_read``, ``fd_seek``, ``fd_close``)
this module builds callbacks that run the call like the handler's fused fast
path and hand the journal the call's fields directly (``RecordSink``): the
inputs and writes they produce are *exactly* what the observed path would log
(same ranges, same order: tests/adapter/test_recordpath.py runs both and
compares journals).

Only the plain case is fused: a call whose decoding would fail (a range outside
memory, a bad enum, an iovec count the fused code does not handle) is handed to
the generic observed path *before* anything happened, since decoding has no
side effect; it then records the fault exactly as before. A kernel error
(``WasiError``) is journaled with the inputs read and no writes, as the observed
path does (the handlers write nothing before the kernel answers).
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

from . import fastcall
from .abi import PREVIEW1, Signature
from .wasi_types import WasiError

if TYPE_CHECKING:
    from .adapter import HostAdapter
    from .handlers import Handler

__all__ = ["RecordSink", "recording_callback", "FUSED_RECORDERS"]

_U32: Final = struct.Struct("<I")
_U64: Final = struct.Struct("<Q")
_IOVEC: Final = struct.Struct("<II")
_ERRNO: Final = struct.Struct("<i")

Params = tuple[int, ...]
Recorder = Callable[[Params], int]
"""Runs one call (params already unpacked), journals it, returns the errno."""


class RecordSink(Protocol):
    """What the fused recorders need from a journal (``JournalWriter`` has it)."""

    def function_id(self, module: str, name: str) -> int: ...

    def write_call(self, fid: int, seq: int, params: Sequence[int], inputs: Sequence[Any],
                   errno: int, writes: Sequence[tuple[int, bytes]],
                   full_inputs: bool | None = None) -> None: ...

    def repeat_lane(self, fid: int
                    ) -> Callable[[int, Sequence[int], Sequence[Any], int, bytes], bool]: ...

    def repeat_lane2(self, fid: int) -> Callable[[int, Sequence[int], Sequence[Any], int,
                                                  bytes, int, bytes], bool]: ...


class _Ctx:
    """What one fused recorder closes over (built once per import at link time)."""

    __slots__ = ("adapter", "mem", "kernel", "sink", "fid", "slow")

    def __init__(self, adapter: HostAdapter, sig: Signature, handler: Handler,
                 sink: RecordSink) -> None:
        self.adapter = adapter
        self.mem = adapter.memory
        self.kernel = adapter.backend.kernel  # type: ignore[attr-defined]
        self.sink = sink
        self.fid = sink.function_id(sig.module, sig.name)
        observed_call = adapter._observed_call
        mem = self.mem

        def slow(p: Params) -> int:
            return observed_call(sig, handler, mem, p)  # type: ignore[arg-type]
        self.slow = slow


def _clock_time_get(c: _Ctx) -> Recorder:
    adapter, mem, kernel, slow = c.adapter, c.mem, c.kernel, c.slow
    write_call, fid = c.sink.write_call, c.fid
    lane = c.sink.repeat_lane(fid)
    pack = _U64.pack

    def rec(p: Params) -> int:
        clock, precision, ptr = p
        if ptr + 8 > mem.size or clock > 3:
            return slow(p)
        seq = adapter.seq
        adapter.seq = seq + 1
        try:
            data = pack(kernel.clock_time_get(clock, precision))
        except WasiError as e:
            write_call(fid, seq, p, (), int(e.errno), ())
            return int(e.errno)
        mem.view[ptr:ptr + 8] = data
        if not lane(seq, p, (), ptr, data):
            write_call(fid, seq, p, (), 0, ((ptr, data),))
        return 0
    return rec


def _fd_seek(c: _Ctx) -> Recorder:
    adapter, mem, kernel, slow = c.adapter, c.mem, c.kernel, c.slow
    write_call, fid = c.sink.write_call, c.fid
    lane = c.sink.repeat_lane(fid)
    pack = _U64.pack

    def rec(p: Params) -> int:
        fd, offset, whence, ptr = p
        if ptr + 8 > mem.size or whence > 2:
            return slow(p)
        seq = adapter.seq
        adapter.seq = seq + 1
        try:
            data = pack(kernel.fd_seek(fd, offset - (1 << 64) if offset >= 1 << 63
                                       else offset, whence))
        except WasiError as e:
            write_call(fid, seq, p, (), int(e.errno), ())
            return int(e.errno)
        mem.view[ptr:ptr + 8] = data
        if not lane(seq, p, (), ptr, data):
            write_call(fid, seq, p, (), 0, ((ptr, data),))
        return 0
    return rec


def _fd_close(c: _Ctx) -> Recorder:
    adapter, kernel = c.adapter, c.kernel
    write_call, fid = c.sink.write_call, c.fid

    def rec(p: Params) -> int:
        seq = adapter.seq
        adapter.seq = seq + 1
        try:
            kernel.fd_close(p[0])
        except WasiError as e:
            write_call(fid, seq, p, (), int(e.errno), ())
            return int(e.errno)
        write_call(fid, seq, p, (), 0, ())
        return 0
    return rec


def _fd_write(c: _Ctx) -> Recorder:
    adapter, mem, kernel, slow = c.adapter, c.mem, c.kernel, c.slow
    write_call, fid = c.sink.write_call, c.fid
    lane = c.sink.repeat_lane(fid)
    pack = _U32.pack
    unpack_from = _IOVEC.unpack_from
    iter_unpack = _IOVEC.iter_unpack

    def rec(p: Params) -> int:
        fd, iovs, count, out = p
        size = mem.size
        end = iovs + 8 * count
        if end > size or out + 4 > size:
            return slow(p)
        view = mem.view
        if count == 1:
            base, length = unpack_from(view, iovs)
            if base + length > size:
                return slow(p)
            data = bytes(view[base:base + length])
            inputs: tuple[bytes, ...] = (bytes(view[iovs:end]), data)
        else:
            array = bytes(view[iovs:end])
            parts = [array]
            for base, length in iter_unpack(array):
                if base + length > size:
                    return slow(p)
                parts.append(bytes(view[base:base + length]))
            inputs = tuple(parts)
            data = b"".join(parts[1:])
        seq = adapter.seq
        adapter.seq = seq + 1
        try:
            nb = pack(kernel.fd_write(fd, data))
        except WasiError as e:
            write_call(fid, seq, p, inputs, int(e.errno), ())
            return int(e.errno)
        view[out:out + 4] = nb
        if not lane(seq, p, inputs, out, nb):
            write_call(fid, seq, p, inputs, 0, ((out, nb),))
        return 0
    return rec


def _fd_read(c: _Ctx) -> Recorder:
    adapter, mem, kernel, slow = c.adapter, c.mem, c.kernel, c.slow
    write_call, fid = c.sink.write_call, c.fid
    lane2 = c.sink.repeat_lane2(fid)
    pack = _U32.pack
    iter_unpack = _IOVEC.iter_unpack

    def rec(p: Params) -> int:
        fd, iovs_ptr, count, out = p
        size = mem.size
        end = iovs_ptr + 8 * count
        if end > size or out + 4 > size:
            return slow(p)
        view = mem.view
        array = bytes(view[iovs_ptr:end])
        iovs = list(iter_unpack(array))
        total = 0
        for base, length in iovs:
            if base + length > size:
                return slow(p)
            total += length
        seq = adapter.seq
        adapter.seq = seq + 1
        try:
            data: bytes = kernel.fd_read(fd, total)[:total]
        except WasiError as e:
            write_call(fid, seq, p, (array,), int(e.errno), ())
            return int(e.errno)
        inputs = (array,)
        nb = pack(len(data))
        if count == 1 and data:  # the common case: one buffer, data and count written
            base = iovs[0][0]
            view[base:base + len(data)] = data
            view[out:out + 4] = nb
            if not lane2(seq, p, inputs, base, data, out, nb):
                write_call(fid, seq, p, inputs, 0, ((base, data), (out, nb)))
            return 0
        writes: list[tuple[int, bytes]] = []
        if data:  # ``GuestMemory.scatter``: in order, the last one partial
            pos = 0
            n = len(data)
            for base, length in iovs:
                if pos >= n:
                    break
                if length == 0:
                    continue
                chunk = data[pos:pos + length]
                view[base:base + len(chunk)] = chunk
                writes.append((base, chunk))
                pos += len(chunk)
        view[out:out + 4] = nb
        writes.append((out, nb))
        write_call(fid, seq, p, inputs, 0, writes)
        return 0
    return rec


FUSED_RECORDERS: Final[dict[tuple[str, str], Callable[[_Ctx], Recorder]]] = {
    (PREVIEW1, "clock_time_get"): _clock_time_get,
    (PREVIEW1, "fd_seek"): _fd_seek,
    (PREVIEW1, "fd_close"): _fd_close,
    (PREVIEW1, "fd_write"): _fd_write,
    (PREVIEW1, "fd_read"): _fd_read,
}
"""The calls with a fused recorder; every other call takes the observed path."""


def recording_callback(adapter: HostAdapter, sig: Signature, handler: Handler,
                       sink: RecordSink) -> fastcall.RawCallback | None:
    """The wasmtime callback recording ``sig`` straight into ``sink``, or None when
    ``sig`` has no fused recorder (the adapter then uses its observed callback).

    Only valid for a live backend without interceptor (the adapter checks).
    """
    make = FUSED_RECORDERS.get((sig.module, sig.name))
    if make is None:
        return None
    rec = make(_Ctx(adapter, sig, handler, sink))
    slots_type = fastcall.raw_slots(len(sig.params))
    unpack_from = sig.raw_struct.unpack_from
    pack_into = _ERRNO.pack_into
    stop = adapter._stop_guest
    last_args = 0
    last_slots = slots_type.from_buffer(bytearray(ctypes.sizeof(slots_type)))

    def callback(env: Any, caller: Any, args: int, count: int) -> int:
        nonlocal last_args, last_slots
        try:
            if args != last_args:  # see HostAdapter._fast_callback
                last_slots = slots_type.from_address(args)
                last_args = args
            slots = last_slots
            errno = rec(unpack_from(slots))
        except BaseException as e:  # noqa: BLE001 - see HostAdapter._stop_guest
            return stop(sig, e)
        pack_into(slots, 0, errno)
        return 0
    return callback
