"""The recorder's fast path: fused "execute and journal" callbacks for hot calls.

The generic observed path (``HostAdapter._observed_call``) logs every memory
access through ``ObservedMemory``, builds a ``SyscallRecord`` and hands it to
the observer, which looks the function up by name and packs it: ~3 µs per call
on top of a ~1 µs live call. For the calls a busy guest makes by the million
(``clock_time_get``, ``fd_write``, ``fd_read``, ``fd_seek``, ``fd_close``)
this module builds the wasmtime callbacks itself, in two layers:

* **Full recorders** (``_clock_time_get`` & co.) run the call like the
  handler's fused fast path and hand the journal the call's fields directly
  (``RecordSink.write_call``). Their inputs and writes are *exactly* what the
  observed path would log (same ranges, same order:
  tests/recordpath/test_recordpath.py records guests both ways and compares
  the journals entry for entry).
* **Lanes** (``RecordLanes``) serve the overwhelmingly common case in line, in
  the callback itself: the call has the same params and input bytes as its
  function's last journaled entry, which succeeded. The journal then only needs
  a *repeat* entry carrying the bytes written (journal/codec.py), and the lane
  appends its pre-encoded bytes to the writer's buffer without building a
  record, a tuple of inputs or a msgpack call. A ``clock_time_get`` lane does
  not even do that: it appends the clock value to a column (a list of ints)
  that becomes repeat entries in bulk (about 20 ns per entry, twelve strided
  copies per run) before anything else is journaled.

Why lanes are built this way (measured on bench/record_cost.py's guests; the
wasm→Python callback alone costs ~0.63 µs, a ``clock_time_get`` run ~1.0 µs):
each attribute store costs ~20 ns and each Python call level ~60-80 ns, so a
lane keeps its state in closure cells shared by all lanes of one adapter
(``nonlocal``): one countdown for the periodic journal check, one column, and
*counters that are folded lazily*. A lane does not advance ``adapter.seq`` or
the writer's sequence and entry counts per call; ``sync()`` adds the entries
appended since the last sync to both. Everything else that reads or appends
syncs first: the adapter's observed path (``HostAdapter.before_observe``), the
lanes' own full-entry paths, and the writer's cold entry points
(``JournalWriter.attach_lanes``: events, ``flush``, ``close``, counters).

Only the plain case is fused: a call whose decoding would fail (a range outside
memory, a bad enum, an iovec count the fused code does not handle) is handed to
the generic observed path *before* anything happened, since decoding has no
side effect; it then records the fault exactly as before. A kernel error
(``WasiError``) is journaled with the inputs read and no writes, as the observed
path does (the handlers write nothing before the kernel answers).

Durability: the clock column is turned into journal bytes before any other
call runs the kernel (a read of stdin may block for minutes; the entries are
then in the writer's buffer, which its timer thread writes out), every few
thousand lane entries and at exit. The timer thread cannot see the column
itself, so a recorder killed with SIGKILL while its guest computes without
making any syscall can lose the clock calls made since the last of those
points (at most one check interval), besides what any buffered writer loses;
the journal still reads up to its last complete frame.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

from wasi_rr.host.boundary import fastcall
from wasi_rr.host.table.abi import PREVIEW1, Signature
from wasi_rr.host.kernel.wasi_types import WasiError

if TYPE_CHECKING:
    from wasi_rr.host.boundary.adapter import HostAdapter
    from wasi_rr.host.boundary.handlers import Handler

__all__ = ["RecordSink", "RecordLanes", "recording_callback", "FUSED_RECORDERS"]

_U32: Final = struct.Struct("<I")
_U64: Final = struct.Struct("<Q")
_IOVEC: Final = struct.Struct("<II")
_ERRNO: Final = struct.Struct("<i")
_BIN8_U32: Final = struct.Struct("<BBI")
"""A msgpack ``bin8`` of 4 bytes: ``0xc4 0x04`` + a little-endian u32 (an ``nread``)."""
_LITTLE: Final = sys.byteorder == "little"

Params = tuple[int, ...]
Recorder = Callable[[Params], int]
"""Runs one call (params already unpacked), journals it, returns the errno."""


class RecordSink(Protocol):
    """What the fused recorders and lanes need from a journal (``JournalWriter``)."""

    def function_id(self, module: str, name: str) -> int: ...

    def write_call(self, fid: int, seq: int, params: Sequence[int], inputs: Sequence[Any],
                   errno: int, writes: Sequence[tuple[int, bytes]],
                   full_inputs: bool | None = None) -> None: ...

    def repeat_state(self, fid: int) -> tuple[Any, ...] | None: ...

    def repeat_prefixes(self, fid: int, writes: int) -> list[bytes]: ...

    def lane_buffer(self) -> bytearray: ...

    def attach_lanes(self, sync: Callable[[], None]) -> None: ...

    def lane_account(self, count: int, check: bool) -> int: ...


class _Ctx:
    """What one full recorder closes over (built once per import at link time)."""

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


# -- full recorders: one full journal entry per call ---------------------------------

def _u64_result(c: _Ctx, ptr_at: int, valid: Callable[[Params], bool],
                compute: Callable[[Params], int]) -> Recorder:
    """A call without inputs that writes one u64 at ``p[ptr_at]``: its value is
    ``compute(p)`` (may raise ``WasiError``); ``valid`` is the decoding check
    (an enum in range) whose failure takes the observed path."""
    adapter, mem, slow = c.adapter, c.mem, c.slow
    write_call, fid = c.sink.write_call, c.fid
    pack = _U64.pack

    def rec(p: Params) -> int:
        ptr = p[ptr_at]
        if ptr + 8 > mem.size or not valid(p):
            return slow(p)
        seq = adapter.seq
        adapter.seq = seq + 1
        try:
            data = pack(compute(p))
        except WasiError as e:
            write_call(fid, seq, p, (), int(e.errno), ())
            return int(e.errno)
        mem.view[ptr:ptr + 8] = data
        write_call(fid, seq, p, (), 0, ((ptr, data),))
        return 0
    return rec


def _clock_time_get(c: _Ctx) -> Recorder:
    now = c.kernel.clock_time_get
    return _u64_result(c, 2, lambda p: p[0] <= 3, lambda p: int(now(p[0], p[1])))


def _fd_seek(c: _Ctx) -> Recorder:
    seek = c.kernel.fd_seek

    def compute(p: Params) -> int:
        fd, offset, whence, _ = p
        signed = offset - (1 << 64) if offset >= 1 << 63 else offset
        return int(seek(fd, signed, whence))
    return _u64_result(c, 3, lambda p: p[2] <= 2, compute)


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
            array_ = bytes(view[iovs:end])
            parts = [array_]
            for base, length in iter_unpack(array_):
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
        write_call(fid, seq, p, inputs, 0, ((out, nb),))
        return 0
    return rec


def _fd_read(c: _Ctx) -> Recorder:
    adapter, mem, kernel, slow = c.adapter, c.mem, c.kernel, c.slow
    write_call, fid = c.sink.write_call, c.fid
    pack = _U32.pack
    iter_unpack = _IOVEC.iter_unpack

    def rec(p: Params) -> int:
        fd, iovs_ptr, count, out = p
        size = mem.size
        end = iovs_ptr + 8 * count
        if end > size or out + 4 > size:
            return slow(p)
        view = mem.view
        array_ = bytes(view[iovs_ptr:end])
        iovs = list(iter_unpack(array_))
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
            write_call(fid, seq, p, (array_,), int(e.errno), ())
            return int(e.errno)
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
        nb = pack(len(data))
        view[out:out + 4] = nb
        writes.append((out, nb))
        write_call(fid, seq, p, (array_,), 0, writes)
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


# -- lanes ------------------------------------------------------------------------------

class RecordLanes:
    """The record callbacks of one adapter, sharing lazily-folded counters.

    ``callback_for(sig, handler)`` returns the wasmtime callback for a call
    with a fused recorder (a lane in front of it for ``clock_time_get``,
    ``fd_seek``, ``fd_write`` and ``fd_read``), or None (the adapter then uses
    its observed callback). ``sync()`` folds the lanes' entries into
    ``adapter.seq`` and the writer's counters; it is registered with both.
    """

    def __init__(self, adapter: HostAdapter, sink: RecordSink) -> None:
        self.callback_for, self.sync = _build_lanes(adapter, sink)
        sink.attach_lanes(self.sync)
        adapter.before_observe = self.sync


def _build_lanes(adapter: HostAdapter, sink: RecordSink) -> tuple[
        Callable[[Signature, Any], fastcall.RawCallback | None], Callable[[], None]]:
    """The lanes of one adapter, as closures over shared cells (see the module
    docstring for why cells rather than attributes)."""
    mem = adapter.memory
    kernel = adapter.backend.kernel  # type: ignore[attr-defined]
    extend = sink.lane_buffer().extend
    account = sink.lane_account
    stop = adapter._stop_guest
    pack_into_errno = _ERRNO.pack_into
    # shared cells
    budget = allotted = account(0, False)
    """Lane entries that may still be appended before the journal's next check /
    how many the last fold allotted (``allotted - budget`` are not folded yet)."""
    column: list[int] = []
    """Values of the clock lane's repeat entries not yet turned into bytes (a list:
    ``list.append`` costs ~26 ns, ``array('Q').append`` ~65 ns, and the
    conversion at flush time is ~22 ns per value either way)."""
    column_prefix = b""

    def flush_column() -> None:
        """Append the column as repeat entries: ``prefix + u64 LE`` each, built with
        one strided copy per byte position instead of one Python step per entry.

        Every other path flushes it before it appends anything (order) and before
        it calls the kernel (a read from stdin may block for minutes: the entries
        are then in the buffer, where the writer's timer thread writes them out)."""
        n = len(column)
        width = len(column_prefix) + 8
        out = bytearray(n * width)
        for k, byte in enumerate(column_prefix):
            out[k::width] = bytes((byte,)) * n
        values = array("Q", column)
        if not _LITTLE:
            values.byteswap()
        raw = values.tobytes()
        start = len(column_prefix)
        for b in range(8):
            out[start + b::width] = raw[b::8]
        extend(out)
        column.clear()

    def sync() -> None:
        nonlocal budget, allotted
        if column:
            flush_column()
        done = allotted - budget
        if done:
            adapter.seq += done
            # zeroed first: if the journal raises (a write error found at its check),
            # the lanes' next entries are still counted from here, none twice
            allotted = budget = 0
            allotted = budget = account(done, False)

    def expire() -> None:
        """The countdown reached 0: fold and let the journal check (may cut a frame)."""
        nonlocal budget, allotted
        if column:
            flush_column()
        done = allotted
        adapter.seq += done
        allotted = budget = 0  # (see sync)
        allotted = budget = account(done, True)

    def full(rec: Recorder, refresh: Callable[[], None]) -> Recorder:
        """A full recorder behind a lane: sync, journal a full entry, re-derive the
        lane's key from the entry just written."""
        def run(p: Params) -> int:
            sync()
            try:
                return rec(p)
            finally:
                refresh()
        return run

    def slots_of(sig: Signature) -> tuple[Any, Any]:
        slots_type = fastcall.raw_slots(len(sig.params))
        return slots_type, fastcall.idle_slots(slots_type)

    def clock_lane(sig: Signature, rec: Recorder, fid: int) -> fastcall.RawCallback:
        nonlocal column_prefix
        column_prefix = sink.repeat_prefixes(fid, 1)[8]
        key: Params | None = None
        """Params of the last full entry when a repeat of it may follow."""

        def refresh() -> None:
            nonlocal key
            st = sink.repeat_state(fid)
            key = st[0] if st is not None and not st[1] and st[3] == st[0][2] else None
        slow = full(rec, refresh)
        slots_type, last_slots = slots_of(sig)
        last_args = 0
        unpack_from = sig.raw_struct.unpack_from
        now = kernel.clock_time_get
        put = _U64.pack_into
        append = column.append

        def callback(env: Any, caller: Any, args: int, count: int) -> int:
            nonlocal last_args, last_slots, budget
            try:
                if args != last_args:  # see HostAdapter._fast_callback
                    last_slots = fastcall.slots_at(slots_type, args)
                    last_args = args
                slots = last_slots
                p = unpack_from(slots)
                if p == key:
                    # same clock, precision and pointer as a journaled success: the
                    # pointer is in memory (memory never shrinks), the id is valid
                    try:
                        t = now(p[0], p[1])
                    except WasiError as e:
                        errno = lane_error(fid, p, (), e, refresh)
                    else:
                        put(mem.view, p[2], t)
                        append(t)
                        budget -= 1
                        if not budget:
                            expire()
                        errno = 0
                else:
                    errno = slow(p)
            except BaseException as e:  # noqa: BLE001 - see HostAdapter._stop_guest
                return stop(sig, e)
            pack_into_errno(slots, 0, errno)
            return 0
        return callback

    def seek_lane(sig: Signature, rec: Recorder, fid: int) -> fastcall.RawCallback:
        key: Params | None = None
        prefix = sink.repeat_prefixes(fid, 1)[8]

        def refresh() -> None:
            nonlocal key
            st = sink.repeat_state(fid)
            key = st[0] if st is not None and not st[1] and st[3] == st[0][3] else None
        slow = full(rec, refresh)
        slots_type, last_slots = slots_of(sig)
        last_args = 0
        unpack_from = sig.raw_struct.unpack_from
        seek = kernel.fd_seek
        pack = _U64.pack

        def callback(env: Any, caller: Any, args: int, count: int) -> int:
            nonlocal last_args, last_slots, budget
            try:
                if args != last_args:
                    last_slots = fastcall.slots_at(slots_type, args)
                    last_args = args
                slots = last_slots
                p = unpack_from(slots)
                if p == key:
                    if column:  # before the kernel, which may block: see flush_column
                        flush_column()
                    fd, offset, whence, ptr = p
                    try:
                        data = pack(seek(fd, offset - (1 << 64) if offset >= 1 << 63
                                         else offset, whence))
                    except WasiError as e:
                        errno = lane_error(fid, p, (), e, refresh)
                    else:
                        mem.view[ptr:ptr + 8] = data
                        extend(prefix + data)
                        budget -= 1
                        if not budget:
                            expire()
                        errno = 0
                else:
                    errno = slow(p)
            except BaseException as e:  # noqa: BLE001 - see HostAdapter._stop_guest
                return stop(sig, e)
            pack_into_errno(slots, 0, errno)
            return 0
        return callback

    def write_lane(sig: Signature, rec: Recorder, fid: int) -> fastcall.RawCallback:
        key: Params | None = None
        iov: tuple[int, int] = (0, 0)
        start = end = 0
        want = b""
        prefixes = sink.repeat_prefixes(fid, 1)
        entry = b""
        """The repeat entry of the usual answer (nwritten == the buffer's length)."""

        def refresh() -> None:
            nonlocal key, iov, start, end, want, entry
            key = None
            st = sink.repeat_state(fid)
            if st is None:
                return
            params, inputs = st[0], st[1]
            if params[2] != 1 or st[3] != params[3] or len(inputs) != 2:
                return
            array_, data = inputs
            if type(array_) is not bytes or type(data) is not bytes or len(array_) != 8:
                return
            iov = _IOVEC.unpack(array_)
            start, end = iov
            end += start
            want = data
            entry = prefixes[4] + _U32.pack(len(data))
            key = params
        slow = full(rec, refresh)
        slots_type, last_slots = slots_of(sig)
        last_args = 0
        unpack_from = sig.raw_struct.unpack_from
        unpack_iov = _IOVEC.unpack_from
        write = kernel.fd_write
        put = _U32.pack_into
        pack = _U32.pack

        def callback(env: Any, caller: Any, args: int, count: int) -> int:
            nonlocal last_args, last_slots, budget
            try:
                if args != last_args:
                    last_slots = fastcall.slots_at(slots_type, args)
                    last_args = args
                slots = last_slots
                p = unpack_from(slots)
                if p == key:
                    view = mem.view
                    # the same iovec (in memory: checked when the key was set) and
                    # the same bytes as the journaled call: a repeat
                    if unpack_iov(view, p[1]) == iov and (data := bytes(view[start:end])) == want:
                        if column:  # before the kernel, which may block: see flush_column
                            flush_column()
                        try:
                            nb = write(p[0], data)
                        except WasiError as e:
                            errno = lane_error(fid, p, (bytes(view[p[1]:p[1] + 8]), data), e,
                                               refresh)
                        else:
                            put(view, p[3], nb)
                            extend(entry if nb == end - start else prefixes[4] + pack(nb))
                            budget -= 1
                            if not budget:
                                expire()
                            errno = 0
                    else:
                        errno = slow(p)
                else:
                    errno = slow(p)
            except BaseException as e:  # noqa: BLE001 - see HostAdapter._stop_guest
                return stop(sig, e)
            pack_into_errno(slots, 0, errno)
            return 0
        return callback

    def read_lane(sig: Signature, rec: Recorder, fid: int) -> fastcall.RawCallback:
        key: Params | None = None
        iov: tuple[int, int] = (0, 0)
        base = length = 0
        array_in: tuple[bytes, ...] = ()
        prefixes = sink.repeat_prefixes(fid, 2)

        def refresh() -> None:
            nonlocal key, iov, base, length, array_in
            key = None
            st = sink.repeat_state(fid)
            if st is None:
                return
            params, inputs, addrs = st[0], st[1], st[3]
            if params[2] != 1 or len(inputs) != 1 or type(inputs[0]) is not bytes \
                    or len(inputs[0]) != 8:
                return
            iov = _IOVEC.unpack(inputs[0])
            base, length = iov
            if addrs != (base, params[3]) or not 0 < length < 256:
                return
            array_in = (inputs[0],)
            key = params
        slow = full(rec, refresh)
        slots_type, last_slots = slots_of(sig)
        last_args = 0
        unpack_from = sig.raw_struct.unpack_from
        unpack_iov = _IOVEC.unpack_from
        read = kernel.fd_read
        count_entry = _BIN8_U32.pack
        put = _U32.pack_into

        def callback(env: Any, caller: Any, args: int, count: int) -> int:
            nonlocal last_args, last_slots, budget
            try:
                if args != last_args:
                    last_slots = fastcall.slots_at(slots_type, args)
                    last_args = args
                slots = last_slots
                p = unpack_from(slots)
                if p == key and unpack_iov(mem.view, p[1]) == iov:
                    if column:  # before the kernel, which may block: see flush_column
                        flush_column()
                    try:
                        data: bytes = read(p[0], length)[:length]
                    except WasiError as e:
                        errno = lane_error(fid, p, array_in, e, refresh)
                    else:
                        n = len(data)
                        view = mem.view
                        if n:  # data and count: a repeat
                            view[base:base + n] = data
                            put(view, p[3], n)
                            extend(prefixes[n] + data + count_entry(0xC4, 4, n))
                            budget -= 1
                            if not budget:
                                expire()
                        else:  # end of file: only the count is written, a full entry
                            nb = _U32.pack(0)
                            view[p[3]:p[3] + 4] = nb
                            lane_full(fid, p, array_in, 0, ((p[3], nb),), refresh)
                        errno = 0
                else:
                    errno = slow(p)
            except BaseException as e:  # noqa: BLE001 - see HostAdapter._stop_guest
                return stop(sig, e)
            pack_into_errno(slots, 0, errno)
            return 0
        return callback

    write_call = sink.write_call

    def lane_full(fid: int, p: Params, inputs: tuple[bytes, ...], errno: int,
                  writes: tuple[tuple[int, bytes], ...], refresh: Callable[[], None]) -> None:
        """Journal a call a lane ran but cannot encode as a repeat, as a full entry."""
        sync()
        seq = adapter.seq
        adapter.seq = seq + 1
        write_call(fid, seq, p, inputs, errno, writes)
        refresh()

    def lane_error(fid: int, p: Params, inputs: tuple[bytes, ...], e: WasiError,
                   refresh: Callable[[], None]) -> int:
        """A kernel error on a lane: journaled with its inputs and no writes, like
        the full recorders do."""
        errno = int(e.errno)
        lane_full(fid, p, inputs, errno, (), refresh)
        return errno

    lanes: dict[str, Callable[[Signature, Recorder, int], fastcall.RawCallback]] = {
        "clock_time_get": clock_lane, "fd_seek": seek_lane,
        "fd_write": write_lane, "fd_read": read_lane,
    }

    def callback_for(sig: Signature, handler: Any) -> fastcall.RawCallback | None:
        make = FUSED_RECORDERS.get((sig.module, sig.name))
        if make is None:
            return None
        ctx = _Ctx(adapter, sig, handler, sink)
        rec = make(ctx)
        lane = lanes.get(sig.name) if sig.module == PREVIEW1 else None
        if lane is not None:
            return lane(sig, rec, ctx.fid)
        return adapter._params_callback(sig, full(rec, _nothing))

    return callback_for, sync


def _nothing() -> None:
    """The refresh of a full recorder without a lane."""


def recording_callback(adapter: HostAdapter, sig: Signature, handler: Handler,
                       sink: RecordSink) -> fastcall.RawCallback | None:
    """The wasmtime callback recording ``sig`` straight into ``sink``, or None when
    ``sig`` has no fused recorder (the adapter then uses its observed callback).

    The adapter's ``RecordLanes`` are built at the first call (one set per
    adapter: lanes share counters). Only valid for a live backend without
    interceptor (the adapter checks).
    """
    lanes = adapter.record_lanes
    if lanes is None:
        lanes = adapter.record_lanes = RecordLanes(adapter, sink)
    return lanes.callback_for(sig, handler)
