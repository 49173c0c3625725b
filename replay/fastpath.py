"""The verbatim replay's fast path, through the adapter's interceptor seam.

The adapter's observed path builds, for every call, a logged decode of all
arguments, a ``PendingCall`` and a record: most of that is wasted when the
guest simply asks the recorded question again (the overwhelming case). The
interceptor runs *before* decoding: it reads the call's input regions itself
(the same regions, in the same order, as docs/architecture.md defines
``SyscallRecord.inputs``), and when function, params and every input byte equal
the next journal entry it applies the recorded writes and returns the recorded
errno at once.

It only ever *accepts*: anything unusual (a mismatch, a range outside memory, a
digest-stored input, ``proc_exit``) returns None, and the call takes the
adapter's normal path into ``JournalBackend``, which is the authority that
decides and reports divergences precisely. So the fast path cannot hide a
divergence; at worst it declines.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from wasi_rr.host.abi import Role, Signature
from wasi_rr.host.adapter import HostAdapter
from wasi_rr.host.memory import GuestMemory
from wasi_rr.host.wasi_types import WasiError
from wasi_rr.journal import SyscallEntry

from .backend import JournalBackend
from .output import TRACKED_CALLS

__all__ = ["FastReplay"]

_IOVEC = struct.Struct("<II")
_Reader = Callable[[GuestMemory, tuple[int, ...]], "tuple[bytes, ...] | None"]


def _plan(sig: Signature) -> _Reader:
    """A function reading the input regions of ``sig`` (None if one is out of range)."""
    names = sig.param_names
    steps: list[tuple[Role, int, int, int]] = []  # role, ptr index, len index, fixed size
    for i, p in enumerate(sig.params):
        n = names.index(p.length) if p.length in names else -1
        if p.role in (Role.IN_STR, Role.IN_IOVS, Role.OUT_IOVS, Role.IN_SUBS):
            steps.append((p.role, i, n, 0))
        elif p.role is Role.INOUT and p.out is not None:
            steps.append((p.role, i, -1, p.out.size))
    read = GuestMemory.read  # the unlogged read: this path keeps no per-call log
    iter_unpack = _IOVEC.iter_unpack

    if not steps:
        return lambda mem, params: ()
    if len(steps) == 1 and steps[0][0] is Role.IN_IOVS:  # fd_write & co, the hot case
        _, i0, n0, _ = steps[0]

        def gather(mem: GuestMemory, params: tuple[int, ...]) -> tuple[bytes, ...] | None:
            try:
                array = read(mem, params[i0], 8 * params[n0])
                return (array, *[read(mem, b, n) for b, n in iter_unpack(array)])
            except WasiError:
                return None
        return gather
    if len(steps) == 1 and steps[0][0] is Role.OUT_IOVS:  # fd_read & co
        _, i0, n0, _ = steps[0]

        def array_only(mem: GuestMemory, params: tuple[int, ...]) -> tuple[bytes, ...] | None:
            try:
                return (read(mem, params[i0], 8 * params[n0]),)
            except WasiError:
                return None
        return array_only

    def reader(mem: GuestMemory, params: tuple[int, ...]) -> tuple[bytes, ...] | None:
        out: list[bytes] = []
        try:
            for role, i, n, size in steps:
                ptr = params[i]
                if role is Role.IN_STR:
                    out.append(read(mem, ptr, params[n]))
                elif role is Role.IN_IOVS:
                    array = read(mem, ptr, 8 * params[n])
                    out.append(array)
                    for base, length in _IOVEC.iter_unpack(array):
                        out.append(read(mem, base, length))
                elif role is Role.OUT_IOVS:
                    out.append(read(mem, ptr, 8 * params[n]))
                elif role is Role.IN_SUBS:
                    out.append(read(mem, ptr, 48 * params[n]))
                else:
                    out.append(read(mem, ptr, size))
        except WasiError:
            return None
        return tuple(out)

    return reader


_Compare = Callable[[memoryview, tuple[int, ...], tuple[Any, ...]], bool]


def _no_inputs(view: memoryview, params: tuple[int, ...], inputs: tuple[Any, ...]) -> bool:
    """The comparer of calls that read no memory (``call`` inlines it)."""
    return not inputs


_NO_INPUTS: _Compare = _no_inputs


def _comparer(sig: Signature) -> _Compare | None:
    """For the hot shapes, a function telling whether the guest's input regions
    equal the recorded inputs, comparing memory in place (no copies, no tuple);
    None for other shapes (``_plan`` reads the regions instead).

    A region outside the (cached) view compares short, hence unequal, and the
    call declines to the normal path, which refreshes the view or reports it.
    A digest-stored input never equals a memory slice: declined too.
    """
    names = sig.param_names
    steps = []
    for i, p in enumerate(sig.params):
        n = names.index(p.length) if p.length in names else -1
        if p.role in (Role.IN_STR, Role.IN_IOVS, Role.OUT_IOVS, Role.IN_SUBS):
            steps.append((p.role, i, n))
        elif p.role is Role.INOUT and p.out is not None:
            return None
    if not steps:
        return _NO_INPUTS
    if len(steps) != 1:
        return None
    role, i0, n0 = steps[0]
    iter_unpack = _IOVEC.iter_unpack
    if role is Role.IN_IOVS:
        unpack_one = _IOVEC.unpack
        memo: list[Any] = [None, 0, 0]
        """The last recorded one-iovec array and its (base, length): a repeat
        entry shares its inputs object with the one before, so a loop parses
        the recorded array once (every guest byte is still compared)."""

        def gathered(view: memoryview, params: tuple[int, ...],
                     inputs: tuple[Any, ...]) -> bool:
            count = params[n0]
            if len(inputs) != count + 1:
                return False
            ptr = params[i0]
            array = inputs[0]
            size = len(view)
            if ptr + 8 * count > size or view[ptr:ptr + 8 * count] != array:
                return False
            if count == 1:  # the hot case: one buffer
                if memo[0] is array:
                    base, length = memo[1], memo[2]
                else:
                    base, length = unpack_one(array)
                    memo[0], memo[1], memo[2] = array, base, length
                return base + length <= size and view[base:base + length] == inputs[1]
            k = 1
            for base, length in iter_unpack(array):
                if base + length > size or view[base:base + length] != inputs[k]:
                    return False
                k += 1
            return True
        return gathered
    if role is Role.OUT_IOVS:
        def array_only(view: memoryview, params: tuple[int, ...],
                       inputs: tuple[Any, ...]) -> bool:
            ptr = params[i0]
            end = ptr + 8 * params[n0]
            return len(inputs) == 1 and end <= len(view) and view[ptr:end] == inputs[0]
        return array_only
    if role is Role.IN_STR:
        def string(view: memoryview, params: tuple[int, ...],
                   inputs: tuple[Any, ...]) -> bool:
            ptr = params[i0]
            end = ptr + params[n0]
            return len(inputs) == 1 and end <= len(view) and view[ptr:end] == inputs[0]
        return string
    return None


class FastReplay:
    """``CallInterceptor`` answering calls that match their journal entry exactly.

    The adapter asks ``call_for(sig)`` once per import and calls the returned
    function with each call's params; ``before_call`` is the same for callers
    that only know the generic seam.
    """

    def __init__(self, backend: JournalBackend) -> None:
        self.backend = backend
        self._cursor = backend.cursor
        self._calls: dict[int, Callable[[tuple[int, ...]], int | None]] = {}
        """By ``id`` of the (module-level, immortal) ``Signature`` objects."""
        self._tracker = backend.tracker
        self._history = backend.history.append
        self._adapter: HostAdapter
        self._mem: GuestMemory

    def before_call(self, signature: Signature, params: tuple[int, ...]) -> int | None:
        call = self._calls.get(id(signature))
        if call is None:
            call = self._calls[id(signature)] = self.call_for(signature)
        return call(params)

    def call_for(self, sig: Signature) -> Callable[[tuple[int, ...]], int | None]:
        """The fast path of ``sig``: ``(params) -> errno``, or None to decline."""
        cursor = self._cursor
        history = self._history
        tracker = self._tracker
        module, name = sig.module, sig.name
        if name == "proc_exit":
            return lambda params: None
        compare = _comparer(sig)
        plan = _plan(sig) if compare is None else None
        no_inputs = compare is _NO_INPUTS

        def decline(raw: tuple[Any, ...], i: int) -> int | None:
            """Leave the entry peeked for the normal path; None (declined)."""
            if i >= 0:
                cursor._i = i
                cursor._raw = raw
            return None
        tracked = name in TRACKED_CALLS
        stdio_write = name in ("fd_write", "fd_pwrite")

        adapter = self._adapter
        mem = self._mem
        stdio_fds = tracker.stdio_fds

        def call(params: tuple[int, ...]) -> int | None:
            raw = cursor._raw
            if raw is None:
                # inline of cursor.peek_raw() for the common case: the next item
                # of the current batch is a syscall of the replayed process (taken
                # only once accepted; ``decline`` leaves it peeked)
                batch = cursor._batch
                i = cursor._i
                if i < len(batch) and type(raw := batch[i]) is tuple \
                        and raw[7] == cursor.pid:
                    i += 1
                else:
                    raw = cursor.guarded_peek_raw()  # a damaged journal stops the run here
                    if raw is None:
                        return None
                    i = -1
            else:
                i = -1
            # raw: seq, module, name, params, inputs, errno, writes, pid
            if raw[3] != params or raw[2] != name or raw[1] != module:
                return decline(raw, i)
            view = mem.view
            recorded = raw[4]
            if no_inputs:
                if recorded:
                    return decline(raw, i)
                inputs = recorded
            elif compare is not None:
                if not compare(view, params, recorded):
                    return decline(raw, i)
                inputs = recorded
            else:
                assert plan is not None
                got = plan(mem, params)
                if got != recorded:
                    return decline(raw, i)
                inputs = got
            writes = raw[6]
            if len(writes) == 1:  # the common case (clock, fd_write, fd_seek...)
                addr, data = writes[0]
                end = addr + len(data)
                if end > mem.size:
                    mem.refresh()  # the guest may have grown its memory
                    view = mem.view
                    if end > mem.size:
                        # the normal path reports it as a divergence
                        return decline(raw, i)
                view[addr:end] = data
            elif writes:
                size = mem.size
                for addr, data in writes:
                    if addr + len(data) > size:
                        mem.refresh()  # the guest may have grown its memory
                        size = mem.size
                        view = mem.view
                        if addr + len(data) > size:
                            # the normal path reports it as a divergence
                            return decline(raw, i)
                for addr, data in writes:
                    view[addr:addr + len(data)] = data
            if i < 0:
                cursor._raw = None
                cursor._peeked = None
            else:
                cursor._i = i
            cursor.consumed += 1
            adapter.seq += 1
            # (a successful write to another fd than stdout/stderr is a no-op for it)
            if tracked and not (stdio_write and (raw[5] or params[0] not in stdio_fds)):
                tracker.observe(SyscallEntry(*raw), inputs)
            history(raw)
            return raw[5]  # type: ignore[no-any-return]
        return call

    def attach(self, adapter: HostAdapter) -> None:
        """Bind to the adapter serving the instance (after constructing it, before
        the module is linked: ``call_for`` captures both)."""
        self._adapter = adapter
        self._mem = adapter.memory
