"""Links the wasm replayer (``wat.py``) to a guest and feeds it the tape.

Around the guest's instantiation (``LinkHooks``):

- before: a funcref table and the stub instance; the guest's WASI imports are
  the stub's functions (the adapter leaves them to us: ``provided_imports``);
- after: the tape memory, the ``slow`` table holding the adapter's Python
  callbacks (``answer.Answerer``) at the rows the guest imports, the replayer
  instance (importing the guest's own exported memory, the tape memory and the
  ``slow`` table), and the stub's table filled with the replayer's exports
  (the Python callback itself for a row the replayer does not answer).

As the tape's ``TapeMirror`` it copies every frame into the tape memory and
reads back the cursor and the count of calls answered in wasm whenever
Python is entered, printing the output area on the way.
"""

from __future__ import annotations

import struct
from typing import Any, Final

from wasmtime import Limits, Linker, Memory, MemoryType, Module

from wasi_rr.host.boundary import fastcall
from wasi_rr.host.boundary.adapter import HostAdapter, functype
from wasi_rr.host.boundary.stub import ROWS, Stub, guest_signatures, row, row_table, stub_wat
from wasi_rr.host.runtime.modcache import compile_generated
from wasi_rr.host.runtime.process import ModuleCache, Process
from wasi_rr.host.table import Signature

from . import wat
from .output import Output
from .tape import Tape

_U32: Final = struct.Struct("<I")
_PAGE: Final = 65536
NEVER: Final = 0xFFFF_FFFF
"""``STOP_AFTER`` value that never stops."""


class Replayer:
    """One guest's replayer: its instances, its tape memory, its control block."""

    def __init__(self, sigs: list[Signature], adapter: HostAdapter, tape: Tape, output: Output,
                 cache: ModuleCache | None) -> None:
        self.sigs = sigs
        self.adapter = adapter
        self.tape = tape
        self.output = output
        self.cache = cache
        self.memory: Memory | None = None
        self._view: memoryview = memoryview(bytearray(wat.TAPE_BASE))
        self._source: Any = None
        self._keep: list[Any] = []
        self._stub: Stub | None = None
        self.loaded = 0
        self._store: Any = None

    @classmethod
    def for_guest(cls, module: Module, adapter: HostAdapter, tape: Tape, output: Output,
                  cache: ModuleCache | None) -> Replayer | None:
        """A replayer for ``module``'s WASI imports (None when it has none, or has
        an import shape the replayer does not handle: the Python path serves it)."""
        sigs = guest_signatures(module)
        if not sigs:
            return None
        adapter.provided_imports = frozenset(sig.key for sig in sigs)
        return cls(sigs, adapter, tape, output, cache)

    # -- linking ---------------------------------------------------------------------
    def _compile(self, process: Process, text: str) -> Module:
        return compile_generated(process.engine, text, name="wasi-rr replayer", cache=self.cache)

    def before_instantiate(self, process: Process) -> None:
        self._stub = Stub(process.store, process.linker, self.sigs,
                          lambda module: self._compile(process, stub_wat(module)))

    def after_instantiate(self, process: Process) -> None:
        store = self._store = process.store
        guest_memory = process.instance.exports(store)["memory"]
        assert isinstance(guest_memory, Memory)
        self.memory = Memory(store, MemoryType(Limits(wat.TAPE_BASE // _PAGE + 16, None)))
        self._source = fastcall.memory_view_source(store._context(), self.memory._memory)
        self._view = self._source()
        slow = row_table(store)
        callbacks = Linker(process.engine)
        for k, sig in enumerate(self.sigs):
            self._keep.append(fastcall.define_unchecked(callbacks, "slow", f"f{k}",
                                                        functype(sig), self.adapter.callback(sig)))
        python = [callbacks.get(store, "slow", f"f{k}") for k in range(len(self.sigs))]
        for sig, func in zip(self.sigs, python, strict=True):
            slow.set(store, row(sig), func)
        linker = Linker(process.engine)
        linker.define(store, "guest", "memory", guest_memory)
        linker.define(store, "rr", "tape", self.memory)
        linker.define(store, "rr", "slow", slow)
        replayer = linker.instantiate(store, self._compile(process, wat.replayer_wat()))
        # by name, only the guest's rows: wrapping every export in Python costs more
        callbacks.define_instance(store, "replayer", replayer)
        assert self._stub is not None
        self._stub.fill(store, [callbacks.get(store, "replayer", f"f{row(sig)}")
                                if wat.answerable(sig) else func
                                for sig, func in zip(self.sigs, python, strict=True)])
        self._init_control()
        self.tape.attach(self)

    def _init_control(self) -> None:
        v = self._view
        _U32.pack_into(v, wat.OUT_POS, wat.OUT_BASE)
        _U32.pack_into(v, wat.OUT_END, wat.OUT_BASE + wat.OUT_SIZE)
        _U32.pack_into(v, wat.STOP_AFTER, NEVER)
        names = {name: i for i, name in enumerate(f"{m}::{n}" for m, n in self.tape.functions)}
        for t, sig in enumerate(ROWS):
            fid = names.get(f"{sig.module}::{sig.name}", 0xFFFF)
            struct.pack_into("<H", v, wat.FIDMAP + 2 * t, fid)

    # -- the tape's mirror -----------------------------------------------------------
    def load(self, payload: bytes, off: int) -> None:
        need = wat.TAPE_BASE + len(payload)
        if need > len(self._view):
            assert self.memory is not None
            self.memory.grow(self._store, (need - len(self._view) + _PAGE - 1) // _PAGE)
            self._view = self._source()
        v = self._view
        v[wat.TAPE_BASE:need] = payload
        _U32.pack_into(v, wat.END, need)
        _U32.pack_into(v, wat.CURSOR, wat.TAPE_BASE + off)
        self.loaded += 1

    def take(self) -> tuple[int, int]:
        v = self._view
        self.flush_output()
        answered = _U32.unpack_from(v, wat.ANSWERED)[0]
        _U32.pack_into(v, wat.ANSWERED, 0)
        return _U32.unpack_from(v, wat.CURSOR)[0] - wat.TAPE_BASE, answered

    def put(self, off: int) -> None:
        _U32.pack_into(self._view, wat.CURSOR, wat.TAPE_BASE + off)

    def flush_output(self) -> None:
        v = self._view
        pos = _U32.unpack_from(v, wat.OUT_POS)[0]
        if pos > wat.OUT_BASE:
            self.output.flush_area(v[wat.OUT_BASE:pos], pos - wat.OUT_BASE)
            _U32.pack_into(v, wat.OUT_POS, wat.OUT_BASE)

    def stop_after(self, calls: int | None) -> None:
        """Let wasm answer at most ``calls`` more calls before entering Python
        (the debugger's stop points); None: no limit."""
        _U32.pack_into(self._view, wat.STOP_AFTER, NEVER if calls is None else calls)

    def set_enabled(self, enabled: bool) -> None:
        _U32.pack_into(self._view, wat.DISABLED, 0 if enabled else 1)


def answerable(sig: Signature) -> bool:
    return wat.answerable(sig)
