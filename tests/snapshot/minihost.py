"""A tiny WASI host for the snapshot tests and benchmark (not the real adapter).

It implements just what the corpus ``snapshot_*`` guests import (``fd_write``,
``fd_read``, ``clock_time_get``, ``proc_exit``; anything else returns ENOSYS)
with ``Linker.define_func``, and drives a ``SnapshotController`` the way the
real adapter will: check ``is_rewinding`` first, unwind instead of performing
the chosen call.  Its own syscall state (stdin offset, clock) is a small
dataclass that tests copy to a fresh host, standing in for the kernel's
``freeze``/``unfreeze``.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import wasmtime

from wasi_rr.host.runtime.instrument import InstrumentedModule
from wasi_rr.host.runtime.snapshot import InterruptedCall, Snapshot, SnapshotController

ENOSYS = 52
EBADF = 8


@dataclass(frozen=True)
class Guest:
    """A corpus guest: original bytes, instrumented module, compiled instrumented module."""

    original: bytes
    module: InstrumentedModule
    compiled: wasmtime.Module


class GuestExit(Exception):
    """``proc_exit`` was called."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class HostState:
    """Syscall-side state a snapshot must carry next to the wasm state."""

    stdin: bytes = b""
    stdin_pos: int = 0
    args: tuple[bytes, ...] = (b"guest",)
    clock_ns: int = 1_000_000_000
    calls: Counter[str] = field(default_factory=Counter)

    def copy(self) -> HostState:
        return replace(self, calls=Counter(self.calls))


UnwindPolicy = Callable[[str, int], bool]
"""``policy(name, nth)`` → unwind at the ``nth`` (1-based) call of import ``name``?"""


class MiniHost:
    """One store + instance of an instrumented module with a SnapshotController."""

    def __init__(
        self,
        engine: wasmtime.Engine,
        compiled: wasmtime.Module,
        module: InstrumentedModule,
        state: HostState | None = None,
        policy: UnwindPolicy | None = None,
        *,
        store_as_ctx: bool = False,
    ) -> None:
        """``store_as_ctx``: drive the controller with the Store instead of the
        call's Caller, as the adapter's unchecked dispatch (which has no
        wasmtime-py Caller) will."""
        self.state = state or HostState()
        self.store_as_ctx = store_as_ctx
        self.fork_result = 0
        """What the (re-entered) ``proc_fork`` answers: the child's pid, or 0 in the child."""
        self.policy = policy
        self.stdout = bytearray()
        self.snapshots: list[Snapshot] = []
        self.store = wasmtime.Store(engine)
        linker = wasmtime.Linker(engine)
        for imp in compiled.imports:
            assert isinstance(imp.type, wasmtime.FuncType)
            linker.define_func(imp.module, imp.name, imp.type, self._handler(imp.module, imp.name),
                               access_caller=True)
        self.instance = linker.instantiate(self.store, compiled)
        self.controller = SnapshotController(module, self.store, self.instance)
        self._start = self.instance.exports(self.store)["_start"]

    # -- driving ------------------------------------------------------------------

    def run(self) -> int | Snapshot:
        """Call ``_start``; return the exit code, or the Snapshot if the guest unwound."""
        try:
            self._start(self.store)
        except GuestExit as exc:
            return exc.code
        except wasmtime.ExitTrap as exc:  # pragma: no cover - defensive
            return exc.code
        snap = self.controller.after_start_returned()
        if snap is None:
            return 0
        self.snapshots.append(snap)
        return snap

    def resume(self, snapshot: Snapshot, *, load: bool) -> int | Snapshot:
        """Continue ``snapshot`` in this instance (``load`` it first if fresh)."""
        if load:
            self.controller.load(snapshot)
        self.controller.start_rewind(snapshot)
        return self.run()

    def run_to_end(self, *, keep_going: bool) -> int:
        """Run; at each unwind capture and continue in this same instance."""
        result = self.run()
        while isinstance(result, Snapshot):
            if not keep_going:
                raise AssertionError("unexpected unwind")
            result = self.resume(result, load=False)
        return result

    # -- imports ------------------------------------------------------------------

    def _handler(self, module: str, name: str) -> Callable[..., object]:
        impl = getattr(self, f"_{name}", None)

        def handler(caller: wasmtime.Caller, *params: int) -> object:
            call = InterruptedCall(module, name, tuple(p & 0xFFFFFFFFFFFFFFFF for p in params))
            ctl = self.controller
            ctx = self.store if self.store_as_ctx else caller
            if ctl.is_rewinding:
                ctl.finish_rewind(ctx, call)
            else:
                self.state.calls[name] += 1
                if self.policy is not None and self.policy(name, self.state.calls[name]):
                    ctl.request_unwind(ctx, call)
                    return 0
            if impl is None:
                return ENOSYS
            return impl(caller, *params)

        return handler

    def _mem(self, caller: wasmtime.Caller) -> wasmtime.Memory:
        mem = caller.get("memory")
        assert isinstance(mem, wasmtime.Memory)
        return mem

    def _iovecs(self, caller: wasmtime.Caller, iovs: int, n: int) -> list[tuple[int, int]]:
        raw = self._mem(caller).read(caller, iovs, iovs + 8 * n)
        return [struct.unpack_from("<II", raw, 8 * i) for i in range(n)]

    def _fd_write(self, caller: wasmtime.Caller, fd: int, iovs: int, n: int, out: int) -> int:
        if fd not in (1, 2):
            return EBADF
        mem = self._mem(caller)
        total = 0
        for ptr, length in self._iovecs(caller, iovs, n):
            self.stdout += mem.read(caller, ptr, ptr + length)
            total += length
        mem.write(caller, struct.pack("<I", total), out)
        return 0

    def _fd_read(self, caller: wasmtime.Caller, fd: int, iovs: int, n: int, out: int) -> int:
        if fd != 0:
            return EBADF
        mem = self._mem(caller)
        st = self.state
        total = 0
        for ptr, length in self._iovecs(caller, iovs, n):
            chunk = st.stdin[st.stdin_pos : st.stdin_pos + length]
            mem.write(caller, chunk, ptr)
            st.stdin_pos += len(chunk)
            total += len(chunk)
        mem.write(caller, struct.pack("<I", total), out)
        return 0

    def _clock_time_get(self, caller: wasmtime.Caller, clock: int, precision: int, out: int) -> int:
        self.state.clock_ns += 1_234_567
        self._mem(caller).write(caller, struct.pack("<Q", self.state.clock_ns), out)
        return 0

    def _args_sizes_get(self, caller: wasmtime.Caller, argc: int, size: int) -> int:
        args = self.state.args
        mem = self._mem(caller)
        mem.write(caller, struct.pack("<I", len(args)), argc)
        mem.write(caller, struct.pack("<I", sum(len(a) + 1 for a in args)), size)
        return 0

    def _args_get(self, caller: wasmtime.Caller, argv: int, buf: int) -> int:
        mem = self._mem(caller)
        for i, arg in enumerate(self.state.args):
            mem.write(caller, struct.pack("<I", buf), argv + 4 * i)
            mem.write(caller, arg + b"\0", buf)
            buf += len(arg) + 1
        return 0

    def _environ_sizes_get(self, caller: wasmtime.Caller, count: int, size: int) -> int:
        self._mem(caller).write(caller, bytes(4), count)
        self._mem(caller).write(caller, bytes(4), size)
        return 0

    def _environ_get(self, caller: wasmtime.Caller, environ: int, buf: int) -> int:
        return 0

    def _fd_fdstat_get(self, caller: wasmtime.Caller, fd: int, out: int) -> int:
        if fd not in (0, 1, 2):
            return EBADF
        # filetype character_device (2), no flags, all rights
        stat = struct.pack("<BxHxxxxQQ", 2, 0, 0xFFFFFFFF, 0xFFFFFFFF)
        self._mem(caller).write(caller, stat, out)
        return 0

    def _fd_prestat_get(self, caller: wasmtime.Caller, fd: int, out: int) -> int:
        return EBADF  # no preopened directories

    def _proc_fork(self, caller: wasmtime.Caller, copy_memory: int, ret_pid: int) -> int:
        self._mem(caller).write(caller, struct.pack("<I", self.fork_result), ret_pid)
        return 0

    def _proc_exit(self, caller: wasmtime.Caller, code: int) -> None:
        raise GuestExit(code)
