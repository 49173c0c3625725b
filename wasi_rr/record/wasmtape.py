"""Links the wasm recorder (``wasmgen.py``) to a guest and hands its tape to the writer.

Around the guest's instantiation (``LinkHooks``):

- before: the stub (``host.boundary.stub``): the guest's imports call through
  a table;
- after: the tape memory (fixed size: it never moves, so its bytes can be read
  from the writer's timer thread), the recorder instance (importing the
  guest's memory, the tape, the adapter's RUN callbacks as ``run.f<k>``, its
  RECORD callbacks as ``slow.f<k>``, and ``rr.drain``/``rr.fail``), and the
  table filled with the recorder's exports.

As the writer's ``RecordTail`` it hands over the published records: the
writer pulls them into its buffer before anything else is appended (events,
Python-recorded calls), when the tape is full (``rr.drain``), and its timer
thread writes out what was published while the guest computes or blocks, so
a quiet guest's journal stays as current as with the Python recorder.
"""

from __future__ import annotations

import struct
from typing import Any, Final

from wasmtime import Limits, Linker, Memory, MemoryType, Module

from wasi_rr.host.boundary import fastcall
from wasi_rr.host.boundary.adapter import HostAdapter, functype
from wasi_rr.host.boundary.stub import Stub, guest_signatures, stub_wat
from wasi_rr.host.runtime.modcache import compile_generated
from wasi_rr.host.runtime.process import ModuleCache, Process
from wasi_rr.host.table import Signature
from wasi_rr.journal import JournalWriter

from . import wasmgen

_U32: Final = struct.Struct("<I")
_DRAIN: Final = struct.Struct("<I12x")
_FAIL: Final = struct.Struct("<I12xI12xI12x")


class WasmTape:
    """One guest's wasm recorder: its instances, its tape memory."""

    def __init__(self, sigs: list[Signature], adapter: HostAdapter, writer: JournalWriter,
                 cache: ModuleCache | None) -> None:
        self.sigs = sigs
        self.adapter = adapter
        self.writer = writer
        self.cache = cache
        self.memory: Memory | None = None
        self.drains = 0
        """Times the wasm recorder entered Python to empty a full tape (tests count)."""
        self._view: memoryview | None = None
        self._taken = wasmgen.TAPE_BASE
        self._seen = wasmgen.TAPE_BASE
        self._resets = 0
        self._seen_resets = -1
        self._stub: Stub | None = None
        self._keep: list[Any] = []
        self._store: Any = None

    @classmethod
    def for_guest(cls, module: Module, adapter: HostAdapter, writer: JournalWriter,
                  cache: ModuleCache | None) -> WasmTape | None:
        """A recorder for ``module``'s imports (None when it imports no table row)."""
        sigs = guest_signatures(module)
        if not sigs:
            return None
        adapter.provided_imports = frozenset(sig.key for sig in sigs)
        return cls(sigs, adapter, writer, cache)

    # -- linking ---------------------------------------------------------------------
    def _compile(self, process: Process, text: str) -> Module:
        return compile_generated(process.engine, text, name="wasi-rr recorder", cache=self.cache)

    def before_instantiate(self, process: Process) -> None:
        self._stub = Stub(process.store, process.linker, self.sigs,
                          lambda module: self._compile(process, stub_wat(module)))

    def after_instantiate(self, process: Process) -> None:
        store = self._store = process.store
        guest_memory = process.instance.exports(store)["memory"]
        assert isinstance(guest_memory, Memory)
        pages = wasmgen.MEMORY_PAGES
        self.memory = Memory(store, MemoryType(Limits(pages, pages)))
        self._view = fastcall.memory_view_source(store._context(), self.memory._memory)()
        self._view[wasmgen.COMMIT:wasmgen.COMMIT + 4] = _U32.pack(wasmgen.TAPE_BASE)
        threshold = self.writer.threshold
        _U32.pack_into(self._view, wasmgen.THRESHOLD,
                       0xFFFF_FFFF if threshold is None else min(threshold, 0xFFFF_FFFF))
        _U32.pack_into(
            self._view,
            wasmgen.LIMIT,
            wasmgen.TAPE_BASE + min(self.writer.limit, wasmgen.TAPE_END - wasmgen.TAPE_BASE),
        )
        linker = Linker(process.engine)
        linker.define(store, "guest", "memory", guest_memory)
        linker.define(store, "rr", "tape", self.memory)
        self._define(linker, "rr", "drain", 1, _DRAIN, self._drain, result=False)
        self._define(linker, "rr", "fail", 3, _FAIL, self._fail, result=False)
        for k, sig in enumerate(self.sigs):
            ty = functype(sig)  # one type object for both definitions
            self._keep.append(
                fastcall.define_unchecked(linker, "slow", f"f{k}", ty, self.adapter.callback(sig))
            )
            if wasmgen.recordable(sig):
                self._keep.append(
                    fastcall.define_unchecked(
                        linker, "run", f"f{k}", ty, self.adapter.run_callback(sig)
                    )
                )
        fids = [self.writer.function_id(sig.module, sig.name) for sig in self.sigs]
        recorder = linker.instantiate(
            store, self._compile(process, wasmgen.recorder_wat(self.sigs, fids))
        )
        assert self._stub is not None
        exports = recorder.exports(store)
        self._stub.fill(store, [exports[f"f{k}"] for k in range(len(self.sigs))])
        self.writer.tail = self

    def _define(
        self,
        linker: Linker,
        module: str,
        name: str,
        count: int,
        layout: struct.Struct,
        call: Any,
        result: bool,
    ) -> None:
        from wasmtime import FuncType, ValType

        ty = FuncType([ValType.i32()] * count, [ValType.i32()] if result else [])
        sig = self.sigs[0]

        def stop(exc: BaseException) -> int:
            return self.adapter.stop_guest(sig, exc)

        cb = fastcall.params_callback(count, layout.unpack_from, call, stop, has_result=result)
        self._keep.append(fastcall.define_unchecked(linker, module, name, ty, cb))

    # -- calls from the recorder ------------------------------------------------------
    def _drain(self, params: tuple[int, ...]) -> int:
        """The tape is full: pull it into the writer (which may cut a frame)."""
        self.drains += 1
        self.writer.pull()
        return 0

    def _fail(self, params: tuple[int, ...]) -> int:
        """A call with a path failed with ``ILSEQ``: journal it as the Python
        recorder does, with the inputs read before decoding stopped."""
        k, rec, errno = params
        sig = self.sigs[k]
        assert self._view is not None
        n = len(sig.params)
        values = struct.unpack_from(f"<{n}Q", self._view, rec + 16)
        self.writer.pull()
        ins, _, _ = self.adapter.observer(sig)(values)
        self.adapter.emit(self.writer.function_id(sig.module, sig.name), 0, values, errno, ins, [])
        return 0

    # -- the writer's tail --------------------------------------------------------------
    def pending(self, *, timer: bool = False) -> bytes:
        view = self._view
        if view is None:
            return b""
        commit = _U32.unpack_from(view, wasmgen.COMMIT)[0]
        if timer:
            # Another thread: take only records published before the previous
            # tick (their bytes were stored long before; a weakly ordered CPU
            # could otherwise show the new COMMIT before the bytes it covers).
            settled = self._seen if self._seen_resets == self._resets else self._taken
            self._seen, self._seen_resets = commit, self._resets
            commit = min(commit, settled)
        if commit <= self._taken:
            return b""
        data = bytes(view[self._taken : commit])
        self._taken = commit
        return data

    def reset(self) -> None:
        self._resets += 1
        if self._view is not None:
            _U32.pack_into(self._view, wasmgen.COMMIT, wasmgen.TAPE_BASE)
        self._taken = wasmgen.TAPE_BASE
