"""``wasi-rr run``: wasmtime-style options, exit statuses, one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import wasmtime

from wasi_rr.cli import main
from wasi_rr.cmd_run import parse_dir, parse_env
from wasi_rr.errors import ConfigError
from wasi_rr.exitcodes import ExitStatus
from wasi_rr.host.kernel.hostdir import MountMode

WASI_RR = Path(sys.executable).with_name("wasi-rr")

# Prints argv (NUL-separated, after argv[0]) then the env var count, exits with argv[1]'s
# first byte minus '0' if argc > 1... kept simple: echo args and env, exit with $EXIT.
ECHO = r"""
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $asz (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $ag (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $esz (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $eg (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func $write_buf (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    ;; argv strings at 0x1000 (pointers at 0x100), environ strings at 0x2000 (pointers at 0x200)
    (drop (call $asz (i32.const 16) (i32.const 20)))
    (drop (call $ag (i32.const 0x100) (i32.const 0x1000)))
    (call $write_buf (i32.const 0x1000) (i32.load (i32.const 20)))
    (drop (call $esz (i32.const 24) (i32.const 28)))
    (drop (call $eg (i32.const 0x200) (i32.const 0x2000)))
    (call $write_buf (i32.const 0x2000) (i32.load (i32.const 28)))
    (call $exit (i32.sub (i32.load (i32.const 16)) (i32.const 1)))))
"""

TRAP = '(module (memory (export "memory") 1) (func (export "_start") unreachable))'
EXIT_300 = """(module (import "wasi_snapshot_preview1" "proc_exit" (func $e (param i32)))
  (memory (export "memory") 1) (func (export "_start") (call $e (i32.const 300))))"""
UNKNOWN = """(module (import "env" "mystery" (func $m)) (memory (export "memory") 1)
  (func (export "_start")))"""


def wasm(tmp_path: Path, name: str, wat: str) -> Path:
    path = tmp_path / name
    path.write_bytes(wasmtime.wat2wasm(wat))
    return path


def test_args_env_and_exit_status(tmp_path: Path, capfd: pytest.CaptureFixture[bytes],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    module = wasm(tmp_path, "echo.wasm", ECHO)
    monkeypatch.setenv("FROM_HOST", "yes")
    status = main(["run", "--env", "A=1", "--env", "FROM_HOST", "--env", "NOT_SET_ANYWHERE",
                   str(module), "x", "--dir", "-y"])
    out, err = capfd.readouterr()
    assert err == ""
    assert out == f"{module}\0x\0--dir\0-y\0A=1\0FROM_HOST=yes\0"
    assert status == 3  # argc - 1


def test_exit_status_keeps_low_8_bits(tmp_path: Path) -> None:
    assert main(["run", str(wasm(tmp_path, "e.wasm", EXIT_300))]) == 300 & 0xFF


def test_trap_is_one_line(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    status = main(["run", str(wasm(tmp_path, "t.wasm", TRAP))])
    _, err = capfd.readouterr()
    assert status == ExitStatus.TRAP
    assert err == "wasi-rr: guest trapped: wasm `unreachable` instruction executed\n"


@pytest.mark.parametrize(("argv", "needle"), [
    (["run", "/no/such/module.wasm"], "cannot read module /no/such/module.wasm"),
    (["run", "--dir", "/no/such/dir", "MOD"], "--dir /no/such/dir: not a directory"),
    (["run", "--dir", "a::", "MOD"], "bad directory mapping 'a::'"),
    (["run", "UNKNOWN"], "env::mystery"),
    (["run", "BAD"], "invalid module"),
])
def test_tool_errors_are_one_line(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                  argv: list[str], needle: str) -> None:
    paths = {"MOD": str(wasm(tmp_path, "t.wasm", TRAP)),
             "UNKNOWN": str(wasm(tmp_path, "u.wasm", UNKNOWN))}
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(b"\0asm\x01\0\0\0\x05")
    paths["BAD"] = str(bad)
    status = main([paths.get(a, a) for a in argv])
    _, err = capfd.readouterr()
    assert status == ExitStatus.TOOL_ERROR
    assert err.startswith("wasi-rr: error: ") and err.count("\n") == 1
    assert needle in err


def test_trap_unknown_imports_flag(tmp_path: Path) -> None:
    assert main(["run", "--trap-unknown-imports", str(wasm(tmp_path, "u.wasm", UNKNOWN))]) == 0


def test_usage_error_status(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == ExitStatus.USAGE
    assert main(["frobnicate"]) == ExitStatus.USAGE


def test_dir_and_env_parsing() -> None:
    d = parse_dir("data", MountMode.WRITE_THROUGH)
    assert (str(d.host), d.guest) == ("data", "data")
    d = parse_dir("/h/x::/guest", MountMode.OVERLAY)
    assert (str(d.host), d.guest, d.mode) == ("/h/x", "/guest", MountMode.OVERLAY)
    with pytest.raises(ConfigError):
        parse_dir("::g", MountMode.WRITE_THROUGH)
    assert parse_env(["A=1=2", "B", "C"], {"B": "b"}) == {"A": "1=2", "B": "b"}
    with pytest.raises(ConfigError):
        parse_env(["=x"], {})


def test_dir_tmpfs_and_overlay_reach_the_guest(tmp_path: Path,
                                               capfd: pytest.CaptureFixture[bytes]) -> None:
    # fd_prestat_dir_name of fds 3, 4, 5 printed in order
    wat = """(module
      (import "wasi_snapshot_preview1" "fd_prestat_get" (func $pg (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_prestat_dir_name"
        (func $pn (param i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func $show (param $fd i32)
        (drop (call $pg (local.get $fd) (i32.const 16)))
        (drop (call $pn (local.get $fd) (i32.const 0x100) (i32.load (i32.const 20))))
        (i32.store (i32.const 0) (i32.const 0x100))
        (i32.store (i32.const 4) (i32.add (i32.load (i32.const 20)) (i32.const 1)))
        (i32.store8 (i32.add (i32.const 0x100) (i32.load (i32.const 20))) (i32.const 10))
        (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
      (func (export "_start") (call $show (i32.const 3)) (call $show (i32.const 4))
        (call $show (i32.const 5))))"""
    module = wasm(tmp_path, "pre.wasm", wat)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    status = main(
        [
            "run",
            "--dir",
            f"{tmp_path / 'a'}::/data",
            "--dir-overlay",
            f"{tmp_path / 'b'}::/over",
            "--tmpfs",
            "/tmp",
            str(module),
        ]
    )
    out, _ = capfd.readouterr()
    assert status == 0
    assert out == "/data\n/over\n/tmp\n"


def test_console_script_and_python_m(tmp_path: Path) -> None:
    module = wasm(tmp_path, "t.wasm", TRAP)
    env = {**os.environ, "WASI_RR_CACHE_DIR": str(tmp_path / "cache")}
    for cmd in ([str(WASI_RR)], [sys.executable, "-m", "wasi_rr"]):
        proc = subprocess.run(
            [*cmd, "run", str(module)], capture_output=True, text=True, env=env, timeout=60
        )
        assert proc.returncode == ExitStatus.TRAP
        assert proc.stderr == "wasi-rr: guest trapped: wasm `unreachable` instruction executed\n"
        assert "Traceback" not in proc.stderr


SPIN = '(module (memory (export "memory") 1) (func (export "_start") (loop $l (br $l))))'


def test_ctrl_c_stops_a_guest_spinning_in_wasm(tmp_path: Path) -> None:
    module = wasm(tmp_path, "spin.wasm", SPIN)
    env = {**os.environ, "WASI_RR_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [str(WASI_RR), "run", str(module)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        time.sleep(1.0)  # let it reach the loop (not a timing assertion)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert err == "wasi-rr: interrupted\n"


def test_argv0_option(tmp_path: Path, capfd: pytest.CaptureFixture[bytes]) -> None:
    assert main(["run", "--argv0", "prog", str(wasm(tmp_path, "echo.wasm", ECHO)), "z"]) == 1
    out, _ = capfd.readouterr()
    assert out.startswith("prog\0z\0")


def test_host_bug_is_reported_as_internal_error(capfd: pytest.CaptureFixture[str]) -> None:
    from wasi_rr.api import RunResult
    from wasi_rr.cmd_run import report

    status = report(
        RunResult(
            134, "wasi-rr host error in fd_sync: ZeroDivisionError: x", ZeroDivisionError("x")
        )
    )
    _, err = capfd.readouterr()
    assert status == ExitStatus.TOOL_ERROR
    assert err == (
        "wasi-rr: error: internal error: wasi-rr host error in fd_sync: "
        "ZeroDivisionError: x (this is a wasi-rr bug, please report it)\n"
    )
