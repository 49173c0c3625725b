"""``host.wasmbin``: the section walk shared by snapshot instrumentation and the
replay shim's memory rewrite."""

from __future__ import annotations

import pytest
import wasmtime

from wasi_rr.host.runtime import wasmbin

WAT = """
(module
  (import "env" "f" (func (param i32)))
  (import "env" "t" (table 2 funcref))
  (import "env" "g" (global (mut i32)))
  (import "env" "m" (memory 1 3))
  (memory 2)
  (memory 4 9)
  (func (export "x")))
"""


def _wasm(wat: str) -> bytes:
    return wasmtime.wat2wasm(wat)


def test_memories_in_index_order_past_other_imports() -> None:
    wasm = _wasm(WAT)
    mems = wasmbin.memories(wasm)
    assert [(m.imported, m.minimum, m.maximum, m.plain) for m in mems] == [
        (True, 1, 3, True), (False, 2, None, True), (False, 4, 9, True)]
    # each memory's limits bytes are where it says
    for m in mems:
        flags, _ = wasmbin.read_uleb(wasm, m.start)
        assert flags == m.flags and m.start < m.end


def test_shared_memory_is_not_plain() -> None:
    mems = wasmbin.memories(_wasm("(module (memory 1 2 shared))"))
    assert len(mems) == 1 and not mems[0].plain


@pytest.mark.parametrize("cut", [3, 9, 20, 40])
def test_truncated_bytes_are_a_format_error(cut: int) -> None:
    wasm = _wasm(WAT)
    with pytest.raises(wasmbin.WasmFormatError):
        wasmbin.memories(wasm[:cut])
