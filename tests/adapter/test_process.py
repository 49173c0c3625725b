"""Process lifecycle through the public API: reference equality with wasmtime's
own WASI, exits, traps, the compiled-module cache."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import wasmtime

from wasi_rr import ModuleError, RunConfig, run
from wasi_rr.exitcodes import ExitStatus
from wasi_rr.host.runtime.process import ModuleBytes, ModuleCache, compile_module, make_engine

HELLO = r"""(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\10\00\00\00\0e\00\00\00\20\00\00\00\05\00\00\00")
  (data (i32.const 16) "Hello, world!\n")
  (data (i32.const 32) "err!\n")
  (func (export "_start")
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 100)))
    (drop (call $w (i32.const 2) (i32.const 8) (i32.const 1) (i32.const 100)))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 100)))))"""
# (single iovecs: wasmtime's WASI writes only the first non-empty iovec of a call, a
# short write POSIX allows; we write them all, so only single-iovec output compares.)


def reference(module: Path, tmp_path: Path) -> tuple[bytes, bytes]:
    engine = wasmtime.Engine()
    config = wasmtime.WasiConfig()
    config.argv = [str(module)]
    config.stdout_file = str(tmp_path / "ref.out")
    config.stderr_file = str(tmp_path / "ref.err")
    store = wasmtime.Store(engine)
    store.set_wasi(config)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    instance = linker.instantiate(store, wasmtime.Module.from_file(engine, str(module)))
    start = instance.exports(store)["_start"]
    assert isinstance(start, wasmtime.Func)
    start(store)
    return (tmp_path / "ref.out").read_bytes(), (tmp_path / "ref.err").read_bytes()


def test_hello_world_matches_wasmtime_wasi(tmp_path: Path) -> None:
    module = tmp_path / "hello.wasm"
    module.write_bytes(wasmtime.wat2wasm(HELLO))
    out, err = io.BytesIO(), io.BytesIO()
    result = run(RunConfig(module=module, stdin=io.BytesIO(), stdout=out, stderr=err,
                           use_cache=False))
    assert (result.exit_code, result.trap) == (0, None)
    assert (out.getvalue(), err.getvalue()) == reference(module, tmp_path)
    assert out.getvalue() == b"Hello, world!\nHello, world!\n" and err.getvalue() == b"err!\n"


def test_run_reports_trap_and_exit(tmp_path: Path) -> None:
    trap = tmp_path / "trap.wasm"
    trap.write_bytes(wasmtime.wat2wasm(
        '(module (memory (export "memory") 1) (func (export "_start") '
        "(drop (i32.load (i32.const 70000)))))"))
    result = run(RunConfig(module=trap, stdout=io.BytesIO(), use_cache=False))
    assert result.exit_code == ExitStatus.TRAP
    assert result.trap is not None
    assert result.trap.startswith(
        "out of bounds memory access (memory fault at wasm address 0x11170"
    )


def test_missing_module_is_module_error(tmp_path: Path) -> None:
    with pytest.raises(ModuleError, match="cannot read module"):
        run(RunConfig(module=tmp_path / "nope.wasm"))


def test_module_cache_roundtrip_and_corruption(tmp_path: Path) -> None:
    engine = make_engine()
    wasm = wasmtime.wat2wasm(HELLO)
    cache = ModuleCache(tmp_path / "cache", min_size=0)
    compile_module(engine, wasm, cache=cache)
    mb = ModuleBytes(wasm)
    entry = cache.path_for(mb.sha256, engine)
    assert entry.is_file() and entry.suffix == ".cwasm"
    loaded = cache.load(engine, mb)
    assert loaded is not None and {e.name for e in loaded.exports} == {"memory", "_start"}
    good = entry.read_bytes()
    entry.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    assert cache.load(engine, mb) is None  # damaged entry: a miss, never a crash
    entry.write_bytes(good[:100])
    assert cache.load(engine, mb) is None  # truncated entry
    entry.write_bytes(b"garbage")
    assert cache.load(engine, mb) is None
    entry.write_bytes(good)
    Path(f"{entry}.crc").write_bytes(b"junk")
    assert cache.load(engine, mb) is None  # damaged sidecar
    module = compile_module(engine, wasm, cache=cache)
    assert {e.name for e in module.exports} == {"memory", "_start"}
    assert cache.load(engine, mb) is not None  # rewritten


def test_unwritable_cache_is_not_fatal(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = ModuleCache(blocker / "cache", min_size=0)
    module = compile_module(make_engine(), wasmtime.wat2wasm(HELLO), cache=cache)
    assert {e.name for e in module.exports} == {"memory", "_start"}


def test_small_modules_are_not_cached(tmp_path: Path) -> None:
    cache = ModuleCache(tmp_path / "cache")
    compile_module(make_engine(), wasmtime.wat2wasm(HELLO), cache=cache)
    assert not (tmp_path / "cache").exists()


ARGV0 = r"""(module
  (import "wasi_snapshot_preview1" "args_get" (func $ag (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $as (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $as (i32.const 0) (i32.const 4)))
    (drop (call $ag (i32.const 0x100) (i32.const 0x200)))
    (i32.store (i32.const 16) (i32.const 0x200))
    (i32.store (i32.const 20) (i32.load (i32.const 4)))
    (drop (call $w (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))"""


def test_argv0_defaults_to_module_path_and_can_be_set(tmp_path: Path) -> None:
    module = tmp_path / "argv.wasm"
    module.write_bytes(wasmtime.wat2wasm(ARGV0))
    out = io.BytesIO()
    run(RunConfig(module=module, args=["a", "b c"], stdout=out, use_cache=False))
    assert out.getvalue() == f"{module}\0a\0b c\0".encode()
    out = io.BytesIO()
    run(RunConfig(module=module, args=["x"], argv0="prog", stdout=out, use_cache=False))
    assert out.getvalue() == b"prog\0x\0"
