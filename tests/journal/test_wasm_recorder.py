"""The wasm recorder (``wasi_rr.record.wasmgen``/``wasmtape``) writes exactly the
journal the Python recorder writes, enters Python's record paths only for the
shapes it leaves to them, and keeps a quiet guest's journal current."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from journal_helpers import read_prefix

from wasi_rr.api import RunConfig
from wasi_rr.host.boundary import codegen, fastgen
from wasi_rr.host.boundary.adapter import HostAdapter
from wasi_rr.host.kernel.sources import SeededRandom, VirtualClock
from wasi_rr.journal import Call, Entry, JournalTruncated, open_journal
from wasi_rr.record import record
from wasi_rr.record.recorder import JournalRecorder
from wasi_rr.replay.manifest import load_manifest

REPO = Path(__file__).resolve().parents[2]
MANIFEST = load_manifest(REPO / "corpus" / "traces" / "manifest.toml")
CASES: dict[str, tuple[str, list[str], dict[str, str], list[str], bytes]] = {
    name: (t.program, list(t.args), dict(t.env), list(t.tmpfs), t.stdin)
    for name, t in MANIFEST.traces.items()}
CASES["rec_shapes"] = ("rec_shapes", ["/t"], {}, ["/t"], b"")
CASES["bench_mixed"] = ("bench_mixed", ["300", "/t"], {}, ["/t"], b"")
CASES["bench_walk"] = ("bench_walk", ["60", "/t"], {}, ["/t"], b"")
CASES["stdio_mix"] = ("stdio_mix", [], {}, [], b"")


def _record(wasm: Path, journal: Path, case: tuple[str, list[str], dict[str, str], list[str],
                                                    bytes], fast: bool) -> tuple[bytes, bytes]:
    _, args, env, tmpfs, stdin = case
    out, err = io.BytesIO(), io.BytesIO()
    config = RunConfig(module=wasm, args=args, env=env, tmpfs=tmpfs, stdin=io.BytesIO(stdin),
                       stdout=out, stderr=err, argv0="guest.wasm", clock=VirtualClock(tick=7),
                       random=SeededRandom(3))
    record(config, journal, fast=fast)
    return out.getvalue(), err.getvalue()


def _timeless(entries: list[Entry]) -> list[Any]:
    """Entries with the fields that hold the recording's wall-clock time blanked."""
    out: list[Any] = []
    for e in entries:
        if isinstance(e, Call):
            out.append(e)
        else:
            fields = {k: v for k, v in vars(e).items() if "time" not in k and "elapsed" not in k
                      and k != "wall_ns"} if hasattr(e, "__dict__") else repr(type(e))
            out.append((type(e).__name__, fields if fields else _slots(e)))
    return out


def _slots(e: Any) -> dict[str, Any]:
    return {k: getattr(e, k) for k in getattr(e, "__slots__", ())
            if "time" not in k and "elapsed" not in k}


def _entries(journal: Path) -> list[Entry]:
    with open_journal(journal) as r:
        return list(r)


@contextlib.contextmanager
def generic_only() -> Iterator[None]:
    """Python's generic RECORD callbacks for every call (no straight-line ones)."""
    real = fastgen.is_simple
    codegen.factory.cache_clear()
    fastgen.is_simple = lambda sig: False  # type: ignore[assignment]
    try:
        yield
    finally:
        fastgen.is_simple = real  # type: ignore[assignment]
        codegen.factory.cache_clear()


@pytest.mark.parametrize("name", sorted(CASES))
def test_wasm_recorder_writes_the_python_recorders_journal(
        name: str, guest: Callable[[str], Path], tmp_path: Path) -> None:
    case = CASES[name]
    wasm = guest(case[0])
    wasm_out = _record(wasm, tmp_path / "wasm.wrr", case, fast=True)
    py_out = _record(wasm, tmp_path / "py.wrr", case, fast=False)
    assert wasm_out == py_out
    got, want = _entries(tmp_path / "wasm.wrr"), _entries(tmp_path / "py.wrr")
    assert len(got) == len(want)
    for a, b in zip(_timeless(got), _timeless(want), strict=True):
        assert a == b


@pytest.mark.parametrize("name", ["rec_shapes", "bench_mixed", "bench_walk"])
def test_generic_python_callbacks_write_the_same_journal(
        name: str, guest: Callable[[str], Path], tmp_path: Path) -> None:
    """The generic Python RECORD callbacks agree with the wasm recorder too (the
    straight-line ones are compared with it above)."""
    case = CASES[name]
    wasm = guest(case[0])
    with generic_only():
        generic_out = _record(wasm, tmp_path / "generic.wrr", case, fast=False)
    wasm_out = _record(wasm, tmp_path / "wasm.wrr", case, fast=True)
    assert generic_out == wasm_out
    generic = _timeless(_entries(tmp_path / "generic.wrr"))
    assert generic == _timeless(_entries(tmp_path / "wasm.wrr"))


def test_common_calls_stay_in_wasm(
    guest: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file-heavy run enters Python's record paths only for its few irregular
    calls, and the tape is drained in big pieces (a handful of times per MiB)."""
    slow_calls: list[str] = []
    real = HostAdapter.callback

    def spy(self: HostAdapter, sig: Any) -> Any:
        cb = real(self, sig)

        def counted(*args: Any) -> Any:
            slow_calls.append(sig.name)
            return cb(*args)

        return counted

    monkeypatch.setattr(HostAdapter, "callback", spy)
    tapes: list[Any] = []
    real_hooks = JournalRecorder.link_hooks

    def keep(self: JournalRecorder, *a: Any) -> Any:
        tapes.append(real_hooks(self, *a))
        return tapes[-1]

    monkeypatch.setattr(JournalRecorder, "link_hooks", keep)
    case = ("bench_lines", ["20000", "/t"], {}, ["/t"], b"")
    out, _ = _record(guest("bench_lines"), tmp_path / "lines.wrr", case, fast=True)
    assert out == b"lines 20000 bad 0\n"
    calls = [e for e in _entries(tmp_path / "lines.wrr") if isinstance(e, Call)]
    assert len(calls) > 40_000
    assert len(slow_calls) < 12, slow_calls  # args/environ sizes, prestat names, exit
    raw = tapes[0].writer.raw_bytes  # the records' bytes, as on the tape
    assert (
        1 <= tapes[0].drains <= 2 * raw // tapes[0].writer.limit + 2
    )  # one per frame, not per call


def test_stdio_writes_with_two_iovecs_stay_in_wasm(guest: Callable[[str], Path], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """wasi-libc's stdio writes through two iovecs (its buffer, then the caller's
    data, usually empty): the recorder's second ``fd_write`` function journals
    them in wasm, and the journal is the Python recorder's."""
    slow: list[str] = []
    real = HostAdapter.callback

    def spy(self: HostAdapter, sig: Any) -> Any:
        cb = real(self, sig)

        def counted(*args: Any) -> Any:
            slow.append(sig.name)
            return cb(*args)
        return counted
    monkeypatch.setattr(HostAdapter, "callback", spy)
    case = ("fs_fuzz", ["7", "400", "/t", "tame"], {}, ["/t"], b"")
    wasm = guest("fs_fuzz")
    _record(wasm, tmp_path / "w.wrr", case, fast=True)
    calls = [e for e in _entries(tmp_path / "w.wrr") if isinstance(e, Call)]
    two = [c for c in calls if c.name == "fd_write" and c.params[2] == 2]
    assert len(two) > 20, "the guest should print through stdio"
    assert slow.count("fd_write") < len(two) // 10, slow
    monkeypatch.setattr(HostAdapter, "callback", real)
    _record(wasm, tmp_path / "p.wrr", case, fast=False)
    assert _timeless(_entries(tmp_path / "w.wrr")) == _timeless(_entries(tmp_path / "p.wrr"))


QUIET = """
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "quiet\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (loop $spin (br $spin))))
"""


def test_quiet_guest_records_reach_the_file(tmp_path: Path) -> None:
    """Records the wasm recorder published reach the file while the guest spins
    without another call (the writer's timer reads the tape), and survive SIGKILL."""
    module = tmp_path / "quiet.wat"
    module.write_text(QUIET)
    journal = tmp_path / "quiet.wrr"
    proc = subprocess.Popen(
        [sys.executable, "-m", "wasi_rr", "record", "-o", str(journal), str(module)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        calls: list[Call] = []
        while time.monotonic() < deadline and len(calls) < 3:
            if proc.poll() is not None:
                pytest.fail(f"recording ended early: {proc.communicate()}")
            got, _ = read_prefix(journal) if journal.exists() else ([], None)
            calls = [e for e in got if isinstance(e, Call)]
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert [c.name for c in calls] == ["fd_write"] * 3
    assert all(c.stdio == 1 and c.writes == ((8, b"\x06\x00\x00\x00"),) for c in calls)
    _, exc = read_prefix(journal)
    assert isinstance(exc, JournalTruncated)


def test_cli_record_slow_writes_the_same_calls(
    guest: Callable[[str], Path], tmp_path: Path
) -> None:
    """``record --slow`` (all-Python recorder) and the default journal the same calls,
    and both replay."""
    wasm = guest("bench_mixed")
    names: list[list[tuple[str, tuple[int, ...], int]]] = []
    for flag in ([], ["--slow"]):
        journal = tmp_path / f"j{len(flag)}.wrr"
        cmd = [
            sys.executable,
            "-m",
            "wasi_rr",
            "record",
            *flag,
            "-o",
            str(journal),
            "--tmpfs",
            "/t",
            str(wasm),
            "50",
            "/t",
        ]
        done = subprocess.run(cmd, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
        calls = [e for e in _entries(journal) if isinstance(e, Call)]
        names.append(
            [
                (c.name, c.params, c.errno)
                for c in calls
                if c.name not in ("clock_time_get", "random_get")
            ]
        )
        replay = subprocess.run(
            [sys.executable, "-m", "wasi_rr", "replay", str(journal)],
            capture_output=True,
            timeout=120,
        )
        assert replay.returncode == 0, replay.stderr
        assert replay.stdout == done.stdout
    assert names[0] == names[1] and len(names[0]) > 50
