"""``replay/shim.py``'s binary rewrite (a guest's one memory becomes an import)
and the generated shim module, without a journal: LEB128, modules with and
without an import section, custom sections, and every shape it must refuse
(the replay then runs without a shim)."""

from __future__ import annotations

import struct

import pytest
from wasmtime import (
    Config,
    Engine,
    Func,
    FuncType,
    Limits,
    Linker,
    Memory,
    MemoryType,
    Module,
    Store,
    ValType,
    wat2wasm,
)

from wasi_rr.host.boundary import fastcall
from wasi_rr.replay import shim
from wasi_rr.host.runtime.wasmbin import read_uleb, write_uleb
from wasi_rr.replay.shim import ShimFunc, import_memory, shim_wat


@pytest.mark.parametrize("n, encoded", [(0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"),
                                        (624485, b"\xe5\x8e\x26"),
                                        (2**32, b"\x80\x80\x80\x80\x10")])
def test_leb128(n: int, encoded: bytes) -> None:
    assert write_uleb(n) == encoded
    assert read_uleb(b"\xaa" + encoded + b"\xbb", 1) == (n, 1 + len(encoded))


def _engine() -> Engine:
    config = Config()
    config.memory_may_move = False  # as make_engine: the rewrite must work there
    return Engine(config)


def _memory_exports(wasm: bytes, minimum: int, maximum: int | None,
                    extra: dict[tuple[str, str], Func] | None = None) -> tuple[Store, Memory, object]:
    """Instantiate ``wasm`` with a host-made memory of these limits: its
    exported memory is that memory and its data segment landed in it."""
    engine = _engine()
    store = Store(engine)
    module = Module(engine, wasm)
    memory = Memory(store, MemoryType(Limits(minimum, maximum)))
    linker = Linker(engine)
    linker.define(store, "wasi_rr", "memory", memory)
    for (mod, name), func in (extra or {}).items():
        linker.define(store, mod, name, func)
    instance = linker.instantiate(store, module)
    exports = instance.exports(store)
    return store, memory, exports


GUEST_NO_IMPORTS = """
(module
  (memory (export "memory") 2 5)
  (data (i32.const 16) "hello")
  (func (export "peek") (result i32) (i32.load8_u (i32.const 16))))
"""

GUEST_IMPORTS = """
(module
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 8) "\\07")
  (func (export "peek") (result i32) (call $add (i32.load8_u (i32.const 8)) (i32.const 1))))
"""


def test_module_without_an_import_section() -> None:
    wasm = wat2wasm(GUEST_NO_IMPORTS)
    out = import_memory(wasm)
    assert out is not None and (out.minimum, out.maximum) == (2, 5)
    assert out.shift == len(out.wasm) - len(wasm) > 0
    imports = [(i.module, i.name) for i in Module(_engine(), out.wasm).imports]
    assert imports == [("wasi_rr", "memory")]
    store, memory, exports = _memory_exports(out.wasm, 2, 5)
    assert exports["peek"](store) == ord("h")
    assert memory.read(store, 16, 21) == b"hello"
    assert exports["memory"].size(store) == 2  # the export is the host's memory


def test_module_with_an_import_section() -> None:
    wasm = wat2wasm(GUEST_IMPORTS)
    out = import_memory(wasm)
    assert out is not None and (out.minimum, out.maximum) == (1, None)
    imports = [(i.module, i.name) for i in Module(_engine(), out.wasm).imports]
    assert imports == [("env", "add"), ("wasi_rr", "memory")]  # func indices unchanged
    engine = _engine()
    store = Store(engine)
    add = Func(store, FuncType([ValType.i32(), ValType.i32()], [ValType.i32()]),
               lambda a, b: a + b)
    module = Module(engine, out.wasm)
    memory = Memory(store, MemoryType(Limits(1, None)))
    linker = Linker(engine)
    linker.define(store, "wasi_rr", "memory", memory)
    linker.define(store, "env", "add", add)
    exports = linker.instantiate(store, module).exports(store)
    assert exports["peek"](store) == 8


def _custom(name: bytes, payload: bytes) -> bytes:
    body = write_uleb(len(name)) + name + payload
    return b"\x00" + write_uleb(len(body)) + body


def test_custom_sections_and_code_are_kept() -> None:
    wasm = wat2wasm(GUEST_NO_IMPORTS)
    first, last = _custom(b"first", b"\x01\x02"), _custom(b"last", b"xyz")
    wasm = wasm[:8] + first + wasm[8:] + last
    out = import_memory(wasm)
    assert out is not None
    assert out.wasm[8:8 + len(first)] == first and out.wasm.endswith(last)
    # the code section moved by exactly ``shift`` (backtrace offsets are corrected by it)
    code = _section(wasm, 10)
    assert out.wasm.index(code) == wasm.index(code) + out.shift
    store, _, exports = _memory_exports(out.wasm, 2, 5)
    assert exports["peek"](store) == ord("h")


def _section(wasm: bytes, sid: int) -> bytes:
    pos = 8
    while pos < len(wasm):
        size, p = read_uleb(wasm, pos + 1)
        if wasm[pos] == sid:
            return wasm[pos:p + size]
        pos = p + size
    raise AssertionError(sid)


@pytest.mark.parametrize("wat", [
    '(module (import "env" "memory" (memory 1)) (func (export "f")))',
    '(module (func (export "f")))',
    '(module (memory 1) (memory 1))',
    '(module (memory 1 2 shared))',
    '(module (memory i64 1))',
])
def test_refused_shapes(wat: str) -> None:
    """Memory imported, none, two, shared, 64-bit: no shim."""
    assert import_memory(wat2wasm(wat)) is None


def test_refused_bytes() -> None:
    wasm = wat2wasm(GUEST_NO_IMPORTS)
    assert import_memory(b"(module)") is None  # WAT text: compiled as given
    assert import_memory(wasm[:-3]) is None  # truncated
    assert import_memory(b"\0asm\x02\0\0\0") is None  # another version (a component)


def test_shim_answers_armed_calls_and_falls_back() -> None:
    """The generated shim, driven by hand: armed with params, one input region
    and two writes with a step, it answers k..n-1 in wasm; anything else (a
    param, an input byte, k == n, disarmed) reaches the fallback."""
    engine = _engine()
    store = Store(engine)
    guest = Memory(store, MemoryType(Limits(1, None)))
    calls: list[tuple[int, ...]] = []
    slots = fastcall.raw_slots(3)

    def fallback(env: object, caller: object, args: int, count: int) -> int:
        view = fastcall.slots_at(slots, args)
        p = struct.unpack_from("<I12xQ8xI", view)
        calls.append(p)
        struct.pack_into("<i", view, 0, 99)
        return 0

    linker = Linker(engine)
    linker.define(store, "wasi_rr", "memory", guest)
    ty = FuncType([ValType.i32(), ValType.i64(), ValType.i32()], [ValType.i32()])
    thunk = fastcall.define_unchecked(linker, shim.FALLBACK_MODULE, "f0", ty, fallback)
    func = ShimFunc("m", "f", ("i32", "i64", "i32"))
    exports = linker.instantiate(store, Module(engine, shim_wat([func]))).exports(store)
    f = exports[func.export]
    control = shim.ShimControl(store, exports["control"], {("m", "f"): 0}, [thunk])
    guest.write(store, b"question", 100)
    run = bytes(range(40))  # repeat k: bytes [10k, 10k+4) and [10k+4, 10k+6)
    control.arm(0, -1, 1, 3, 5, (7, 2**40, 100), [(100, 8, b"question")], run,
                [(200, 4, 0, 10), (300, 2, 4, 10)])
    assert f(store, 7, 2**40, 100) == 5
    assert guest.read(store, 200, 204) == bytes([10, 11, 12, 13])
    assert guest.read(store, 300, 302) == bytes([14, 15])
    assert f(store, 7, 2**40 + 1, 100) == 99  # another param
    assert calls == [(7, 2**40 + 1, 100)]
    guest.write(store, b"Q", 107)
    assert f(store, 7, 2**40, 100) == 99  # another input byte (in the tail)
    guest.write(store, b"n", 107)
    assert f(store, 7, 2**40, 100) == 5 and guest.read(store, 200, 201) == bytes([20])
    assert f(store, 7, 2**40, 100) == 99  # k == n
    assert control.fold(0) == 3
    control.arm(0, -1, 1, 3, 5, (7, 2**40, 100), [(100, 8, b"question")], run,
                [(200, 4, 0, 10), (300, 2, 4, 10)])
    assert control.fold(0) == 1
    assert f(store, 7, 2**40, 100) == 99  # disarmed
    assert len(calls) == 4


def test_a_run_larger_than_the_control_memory_grows_it() -> None:
    """A run's bytes beyond the control memory's first page: ``arm`` grows it,
    and repeat ``k`` is copied from ``k * step`` past the first 64 KiB."""
    engine = _engine()
    store = Store(engine)
    guest = Memory(store, MemoryType(Limits(1, None)))
    linker = Linker(engine)
    linker.define(store, "wasi_rr", "memory", guest)
    ty = FuncType([ValType.i32()], [ValType.i32()])
    thunk = fastcall.define_unchecked(linker, shim.FALLBACK_MODULE, "f0", ty,
                                      lambda env, caller, args, count: 0)
    func = ShimFunc("m", "f", ("i32",))
    exports = linker.instantiate(store, Module(engine, shim_wat([func]))).exports(store)
    control = shim.ShimControl(store, exports["control"], {("m", "f"): 0}, [thunk])
    step, count = 10, 30_000
    run = b"".join(k.to_bytes(4, "little") + b"......" for k in range(count))
    control.arm(0, -1, count - 2, count, 0, (3,), [], run, [(64, 4, 0, step)])
    assert exports["control"].size(store) > 1
    assert exports[func.export](store, 3) == 0
    assert guest.read(store, 64, 68) == (count - 2).to_bytes(4, "little")
    assert exports[func.export](store, 3) == 0
    assert guest.read(store, 64, 68) == (count - 1).to_bytes(4, "little")
    assert control.fold(0) == count
