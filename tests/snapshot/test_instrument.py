"""Asyncify instrumentation: exports, caching, and clear errors for bad modules."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

from wasi_rr.host.runtime import instrument as instr
from wasi_rr.host.runtime.instrument import (
    ASYNCIFY_EXPORTS,
    GLOBAL_EXPORT_PREFIX,
    GlobalType,
    InstrumentationError,
    instrument,
)

WAT_TWO_GLOBALS = """
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $sp (mut i32) (i32.const 1024))
  (global $k i32 (i32.const 5))
  (global $big (mut i64) (i64.const -7))
  (global $f (mut f64) (f64.const 1.5))
  (func (export "_start")
    (global.set $sp (i32.add (global.get $sp) (global.get $k)))
    (drop (call $w (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))
"""


def test_real_guest_gets_asyncify_and_global_exports(
    guest: Callable[[str], Path], engine: wasmtime.Engine, tmp_path: Path
) -> None:
    result = instrument(guest("snapshot_counter").read_bytes(), cache_dir=tmp_path)
    compiled = wasmtime.Module(engine, result.wasm)
    exports = {e.name: e.type for e in compiled.exports}
    for name in ASYNCIFY_EXPORTS:
        assert isinstance(exports[name], wasmtime.FuncType)
    assert {"memory", "_start"} <= exports.keys()
    # The C stack pointer is global 0, mutable i32, and now exported.
    assert result.globals[0].index == 0
    assert result.globals[0].type is GlobalType.I32
    for spec in result.globals:
        gtype = exports[spec.export]
        assert isinstance(gtype, wasmtime.GlobalType) and gtype.mutable
        assert spec.export == f"{GLOBAL_EXPORT_PREFIX}{spec.index}"


def test_only_mutable_globals_are_exported_with_their_types(tmp_path: Path) -> None:
    result = instrument(wasmtime.wat2wasm(WAT_TWO_GLOBALS), cache_dir=tmp_path)
    assert [(g.index, g.type) for g in result.globals] == [
        (0, GlobalType.I32),
        (2, GlobalType.I64),
        (3, GlobalType.F64),
    ]


def test_second_call_is_a_cache_hit(guest: Callable[[str], Path], tmp_path: Path) -> None:
    wasm = guest("snapshot_inputs").read_bytes()
    first = instrument(wasm, cache_dir=tmp_path)
    second = instrument(wasm, cache_dir=tmp_path)
    assert not first.from_cache and second.from_cache
    assert first.wasm == second.wasm and first.globals == second.globals
    assert first.sha256 == second.sha256
    assert len(list(tmp_path.glob("*.bin"))) == 1
    assert not list(tmp_path.glob(".tmp-*"))  # atomic write left no temp file
    # Other options are another cache entry.
    other = instrument(wasm, imports=("wasi_snapshot_preview1.fd_write",), cache_dir=tmp_path)
    assert not other.from_cache
    assert len(list(tmp_path.glob("*.bin"))) == 2


def test_damaged_cache_entry_is_rebuilt(tmp_path: Path) -> None:
    wasm = wasmtime.wat2wasm(WAT_TWO_GLOBALS)
    good = instrument(wasm, cache_dir=tmp_path)
    (entry,) = tmp_path.glob("*.bin")
    data = entry.read_bytes()
    entry.write_bytes(data[:-3] + b"xyz")
    again = instrument(wasm, cache_dir=tmp_path)
    assert not again.from_cache and again.wasm == good.wasm
    assert instrument(wasm, cache_dir=tmp_path).from_cache


def test_default_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert instr.default_cache_dir() == tmp_path / "wasi-rr" / "asyncify"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert instr.default_cache_dir() == Path.home() / ".cache" / "wasi-rr" / "asyncify"


@pytest.mark.parametrize(
    ("wasm", "reason"),
    [
        (b"", "bad magic"),
        (b"hello world, not wasm", "bad magic"),
        (b"\0asm\x0d\0\x01\0", "components"),
        (b"\0asm\x01\0\0\0\x01\x05\x01", "invalid WebAssembly"),
        (wasmtime.wat2wasm("(module)"), "exactly one linear memory, the module has 0"),
        (wasmtime.wat2wasm("(module (memory 1) (memory 1))"), "exactly one linear memory"),
        (wasmtime.wat2wasm('(module (import "env" "m" (memory 1)) (memory 1))'),
         "exactly one linear memory, the module has 2"),
        (wasmtime.wat2wasm("(module (memory 1 1 shared))"), "shared"),
        (wasmtime.wat2wasm("(module (memory 1) (global (mut v128) (v128.const i64x2 0 0)))"),
         "type snapshots cannot carry"),
    ],
)
def test_unusable_modules_raise_instrumentation_error(
    wasm: bytes, reason: str, tmp_path: Path
) -> None:
    with pytest.raises(InstrumentationError, match=reason):
        instrument(wasm, cache_dir=tmp_path)
    assert not list(tmp_path.glob("*.bin"))


def test_memory64_is_rejected(tmp_path: Path) -> None:
    try:
        wasm = wasmtime.wat2wasm("(module (memory i64 1))")
    except wasmtime.WasmtimeError:
        pytest.skip("wat2wasm without memory64")
    with pytest.raises(InstrumentationError, match=r"memory64|invalid"):
        instrument(wasm, cache_dir=tmp_path)


def test_binaryen_fatal_error_does_not_kill_the_host() -> None:
    """Binaryen exits its process on unreadable input: the worker isolates that."""
    lib, _ = instr.find_libbinaryen()
    opts = {"imports": ["a.*"], "export_prefix": "x", "optimize_level": 2}
    with pytest.raises(InstrumentationError, match=r"binaryen failed: .*parsing") as info:
        instr._run_worker(lib, opts, b"\0asm\x01\0\0\0\xff\xff")
    # Binaryen prints "[parse exception: X]Fatal: Y" glued on one line: both kept, readable.
    message = str(info.value)
    assert len(message.splitlines()) == 1 and "]Fatal" not in message
    assert message.endswith("error in parsing wasm binary (unexpected end of input (at 0:10))")


def test_worker_stages_reach_the_callback() -> None:
    lib, _ = instr.find_libbinaryen()
    wasm = wasmtime.wat2wasm(WAT_TWO_GLOBALS)
    stages: list[str] = []
    opts = instr.SETTINGS.worker_options(instr.DEFAULT_ASYNCIFY_IMPORTS)
    header, specs, out = instr._parse_output(instr._run_worker(lib, opts, wasm, stages.append))
    assert stages == ["read", "asyncify", "write"]
    assert {"read_s", "asyncify_s", "write_s", "cpu_total", "peak_rss_mib"} <= set(
        header["stats"])  # type: ignore[arg-type]
    assert len(specs) == 3 and out.startswith(b"\0asm")


def test_missing_binaryen_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> importlib.metadata.Distribution:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(instr.importlib.metadata, "distribution", missing)
    with pytest.raises(InstrumentationError, match="icpp-binaryen"):
        instrument(wasmtime.wat2wasm(WAT_TWO_GLOBALS), use_cache=False)
