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

from wasi_rr.host.abi import Role, Signature
from wasi_rr.host.adapter import HostAdapter
from wasi_rr.host.memory import GuestMemory
from wasi_rr.host.wasi_types import WasiError

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


class FastReplay:
    """``CallInterceptor`` answering calls that match their journal entry exactly."""

    def __init__(self, backend: JournalBackend) -> None:
        self.backend = backend
        self._cursor = backend.cursor
        self._plans: dict[int, _Reader] = {}
        """By ``id`` of the (module-level, immortal) ``Signature`` objects."""
        self._observe = backend.tracker.observe
        self._history = backend.history.append
        self._adapter: HostAdapter
        self._mem: GuestMemory

    def before_call(self, signature: Signature, params: tuple[int, ...]) -> int | None:
        cursor = self._cursor
        entry = cursor._peeked
        if entry is None:
            entry = cursor.guarded_peek()  # a damaged journal stops the run here
            if entry is None:
                return None
        name = entry.name
        if (entry.params != params or name != signature.name
                or entry.module != signature.module or name == "proc_exit"):
            return None
        mem = self._mem
        plan = self._plans.get(id(signature))
        if plan is None:
            plan = self._plans[id(signature)] = _plan(signature)
        inputs = plan(mem, params)
        if inputs != entry.inputs:
            return None
        writes = entry.writes
        if writes:
            size = mem.size
            for addr, data in writes:
                if addr + len(data) > size:
                    mem.refresh()  # the guest may have grown its memory
                    size = mem.size
                    if addr + len(data) > size:
                        return None  # the normal path reports it as a divergence
            view = mem.view
            for addr, data in writes:
                view[addr:addr + len(data)] = data
        cursor._peeked = None
        cursor.consumed += 1
        self._adapter.seq += 1
        if name in TRACKED_CALLS:
            self._observe(entry, inputs)
        self._history(entry)
        return entry.errno

    def attach(self, adapter: HostAdapter) -> None:
        """Bind to the adapter serving the instance (after constructing it)."""
        self._adapter = adapter
        self._mem = adapter.memory
