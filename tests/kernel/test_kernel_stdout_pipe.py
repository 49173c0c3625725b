"""A guest writing to a stdout pipe whose reader has gone, run by the
``wasi-rr run`` CLI in a subprocess: the write fails with EPIPE, every time,
and the guest goes on (no signal, no trap, no Python noise on stderr).

wasmtime's WASI answers EIO there (while it passes ENOSPC through for a full
disk); wasi-rr keeps the host's errno, the one POSIX programs test for to
stop quietly (README: deliberate differences). The reference run pins
wasmtime's answer so the difference is noticed if wasmtime changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

WASI_RR = Path(sys.executable).with_name("wasi-rr")

WASMTIME_RUNNER = """
import sys, wasmtime
engine = wasmtime.Engine()
linker = wasmtime.Linker(engine)
linker.define_wasi()
store = wasmtime.Store(engine)
config = wasmtime.WasiConfig()
config.inherit_stdout()
config.inherit_stderr()
store.set_wasi(config)
instance = linker.instantiate(store, wasmtime.Module.from_file(engine, sys.argv[1]))
try:
    instance.exports(store)["_start"](store)
except wasmtime.ExitTrap as e:
    sys.exit(e.code)
"""


def run_into_closed_pipe(
    argv: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` with stdout a pipe whose read end is already closed."""
    r, w = os.pipe()
    os.close(r)
    try:
        return subprocess.run(
            argv, stdout=w, stderr=subprocess.PIPE, env=env, timeout=120, check=False
        )
    finally:
        os.close(w)


def test_wasi_rr_run_reports_epipe(guest: Callable[[str], Path], tmp_path: Path) -> None:
    env = {**os.environ, "WASI_RR_CACHE_DIR": str(tmp_path / "cache")}
    proc = run_into_closed_pipe([str(WASI_RR), "run", str(guest("stdout_closed"))], env)
    assert proc.stderr == b"write: EPIPE(64) then EPIPE(64)\n"
    assert proc.returncode == 0


def test_wasmtime_reports_eio(guest: Callable[[str], Path]) -> None:
    proc = run_into_closed_pipe(
        [sys.executable, "-c", WASMTIME_RUNNER, str(guest("stdout_closed"))]
    )
    assert proc.stderr == b"write: EIO(29) then EIO(29)\n"
    assert proc.returncode == 0
