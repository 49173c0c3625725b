"""Progress of a cold instrumentation; names and custom sections of the output."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import wasmtime

from wasi_rr.host.runtime import instrument as instr
from wasi_rr.host.runtime import wasmbin
from wasi_rr.host.runtime.instrument import InstrumentationError, instrument
from wasi_rr.host.runtime.progress import Progress, console_progress

WAT = """
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
  (memory (export "memory") 1)
  (global $sp (mut i32) (i32.const 1024))
  (func $boom (unreachable))
  (func $work (export "work") (drop (call $yield)) (call $boom))
  (func (export "_start") (call $work)))
"""


def test_cold_run_reports_each_stage_then_done(tmp_path: Path) -> None:
    events: list[Progress] = []
    wasm = wasmtime.wat2wasm(WAT)
    instrument(wasm, cache_dir=tmp_path, on_progress=events.append)
    assert [e.stage for e in events] == ["check", "read", "asyncify", "write", "cache", "done"]
    assert all(e.module_bytes == len(wasm) for e in events)
    times = [e.elapsed for e in events]
    assert times == sorted(times) and times[0] >= 0
    assert events[-1].final and not any(e.final for e in events[:-1])


def test_cache_hit_reports_nothing(tmp_path: Path) -> None:
    wasm = wasmtime.wat2wasm(WAT)
    instrument(wasm, cache_dir=tmp_path, on_progress=None)
    events: list[Progress] = []
    assert instrument(wasm, cache_dir=tmp_path, on_progress=events.append).from_cache
    assert events == []


def test_failure_ends_with_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> bytes:
        raise InstrumentationError("cannot instrument module for snapshots: binaryen failed: x")

    monkeypatch.setattr(instr, "_run_worker", broken)
    events: list[Progress] = []
    with pytest.raises(InstrumentationError):
        instrument(wasmtime.wat2wasm(WAT), cache_dir=tmp_path, on_progress=events.append)
    assert [e.stage for e in events] == ["check", "failed"]


def test_console_reporter_is_silent_off_a_terminal_unless_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WASI_RR_PROGRESS", raising=False)
    assert console_progress(io.StringIO()) is None
    monkeypatch.setenv("WASI_RR_PROGRESS", "1")
    out = io.StringIO()
    report = console_progress(out)
    assert report is not None
    for i, stage in enumerate(["check", "read", "asyncify", "write", "cache", "done"]):
        report(Progress(stage, float(i), 2_000_000))
    lines = out.getvalue().splitlines()
    assert len(lines) == 6 and "\x1b" not in out.getvalue()
    assert "2.0 MB" in lines[0] and "running asyncify [2.0 s]" in lines[2]
    assert lines[-1].endswith("done in 5.0 s (cached for later runs)")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_console_reporter_uses_rich_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WASI_RR_PROGRESS", raising=False)
    out = _Tty()
    report = console_progress(out)
    assert report is not None
    report(Progress("asyncify", 1.0, 1_000_000))
    report(Progress("done", 2.5, 1_000_000))
    assert "done in 2.5 s" in out.getvalue()
    monkeypatch.setenv("WASI_RR_PROGRESS", "0")
    assert console_progress(_Tty()) is None


def test_function_names_survive_and_debug_sections_do_not(tmp_path: Path) -> None:
    """Names are put back after Binaryen (wasmtime shows them in traps); DWARF
    and other custom sections, stale after the rewrite, are dropped."""
    wasm = wasmtime.wat2wasm(WAT) + wasmbin.custom_section(".debug_info", b"\x01" * 64)
    im = instrument(wasm, cache_dir=tmp_path, on_progress=None)
    customs = [wasmbin.custom_name(im.wasm, s) for s in wasmbin.sections(im.wasm) if s.id == 0]
    assert customs == ["name"]
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    module = wasmtime.Module(engine, im.wasm)
    yield_ = wasmtime.Func(store, wasmtime.FuncType([], [wasmtime.ValType.i32()]), lambda: 0)
    inst = wasmtime.Instance(store, module, [yield_])
    work = inst.exports(store)["work"]
    assert isinstance(work, wasmtime.Func)
    with pytest.raises(wasmtime.Trap) as trap:
        work(store)
    assert "boom" in str(trap.value) and "work" in str(trap.value)
