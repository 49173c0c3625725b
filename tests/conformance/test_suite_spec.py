"""wasi-rr driven exactly through wasi-testsuite's conventions.

A test directory as the suite ships it (``NAME.wasm`` next to ``NAME.json`` and an
``fs-tests.dir``), the JSON spec read the way the suite's runner reads it (legacy
keys ``args``/``env``/``dirs``/``exit_code``/``stdout``, or ``root``), the command
line built by our adapter (``wasi_rr_adapter.py``) under each calling convention
the runner has used, and the process run as the runner runs it: stdin a pipe left
open, stdout read for the expected length, then the exit status compared.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import pytest

HERE = Path(__file__).resolve().parent
ADAPTER = HERE / "wasi_rr_adapter.py"
WASI_RR = Path(sys.executable).with_name("wasi-rr")

STDIO_STDOUT = """\
fdstat 0: OK(0)
  prestat: EBADF(8)
fdstat 1: OK(0)
  prestat: EBADF(8)
fdstat 2: OK(0)
  prestat: EBADF(8)
to stdout
write stdout: OK(0) n=10
write stderr: OK(0) n=10
sock_shutdown bad fd: EBADF(8)
sock_shutdown stdout: ENOTSOCK(57)
tell stdout: ESPIPE(70)
close bad fd: EBADF(8)
fdstat bad fd: EBADF(8)
args_sizes_get: OK(0)
argc=3 arg bytes without argv[0]=15
environ_sizes_get: OK(0)
environ count=2 bytes=21
write to invalid fd: EBADF(8) n=0
write 0 bytes to stdout: OK(0) n=0
argc=3
arg 1=[exit]
arg 2=[two words]
env [WTS_A=x=y]
env [WTS_EMPTY=]
renumber fd 0 away: ok
renumber fd 2 away: ok
"""

STDIO_SPEC = {
    "dirs": ["fs-tests.dir"],
    "args": ["exit", "two words"],
    "env": {"WTS_A": "x=y", "WTS_EMPTY": ""},
    "exit_code": 7,
    "stdout": STDIO_STDOUT,
}


class Run(NamedTuple):
    """Stand-in for the runner's ``Run`` operation (matched by class name)."""

    args: list[str]
    env: dict[str, str]
    dirs: list[tuple[Path, str]]


class _Wait(NamedTuple):
    exit_code: int = 0


class _Config(NamedTuple):
    operations: list[Any]


def load_adapter() -> ModuleType:
    """Load the adapter the way the suite's runner does (a module from a path)."""
    spec = importlib.util.spec_from_file_location(ADAPTER.name, ADAPTER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.WASI_RR = [str(WASI_RR)]  # the installed CLI, not whatever is on PATH
    return module


def make_suite_dir(base: Path, module: Path, name: str, spec: dict[str, Any]) -> Path:
    """``base/NAME.wasm``, ``base/NAME.json`` and ``base/fs-tests.dir``."""
    base.mkdir(parents=True, exist_ok=True)
    shutil.copy(module, base / f"{name}.wasm")
    (base / f"{name}.json").write_text(json.dumps(spec))
    (base / "fs-tests.dir").mkdir(exist_ok=True)
    return base / f"{name}.wasm"


def run_spec(argv: list[str], spec: dict[str, Any], cwd: Path) -> list[str]:
    """Run like the suite's runner; return its failures (empty when the test passes)."""
    failures: list[str] = []
    proc = subprocess.Popen(
        argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    if spec.get("stdout") is not None:
        got = proc.stdout.read(len(spec["stdout"]))
        if got != spec["stdout"]:
            failures.append(f"stdout: expected {spec['stdout']!r}, got {got!r}")
    try:
        _out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return [*failures, "timeout"]
    if proc.returncode != spec.get("exit_code", 0):
        failures.append(f"exit {proc.returncode} != {spec.get('exit_code', 0)}: {err}")
    return failures


def conventions(adapter: ModuleType, test: Path, spec: dict[str, Any]) -> dict[str, list[str]]:
    """The command line under each ``compute_argv`` convention of the runner."""
    args, env = spec.get("args", []), spec.get("env", {})
    if "root" in spec:
        root = str(test.parent / spec["root"])
        return {"args_env_root": adapter.compute_argv(
            str(test), (args, env, root), [], "wasi:cli/command", "wasm32-wasip1")}
    dirs = [(test.parent / d, d) for d in spec.get("dirs", [])]
    return {
        "args_env_dirs": adapter.compute_argv(str(test), (args, env, dirs), [], "wasm32-wasip1"),
        "with_world": adapter.compute_argv(
            str(test), (args, env, dirs), [], "wasi:cli/command", "wasm32-wasip1"
        ),
        "separate": adapter.compute_argv(str(test), args, env, dirs, "wasm32-wasip1"),
        "config": adapter.compute_argv(
            str(test), _Config([_Wait(), Run(args, env, dirs)]), "wasm32-wasip1"
        ),
    }


def test_adapter_is_a_module_not_a_legacy_script() -> None:
    """The runner runs ``adapter --version`` and wants no output from a module adapter."""
    proc = subprocess.run([sys.executable, str(ADAPTER), "--version"], capture_output=True)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    adapter = load_adapter()
    assert adapter.get_name() == "wasi-rr"
    assert adapter.get_version().count(".") == 2
    assert adapter.get_wasi_versions() == ["wasm32-wasip1"]


def test_legacy_spec_args_env_dirs_exit_code_stdout(
    guest: Callable[[str], Path], tmp_path: Path
) -> None:
    adapter = load_adapter()
    test = make_suite_dir(tmp_path / "testsuite", guest("wts_stdio"), "wts_stdio", STDIO_SPEC)
    spec = json.loads(test.with_suffix(".json").read_text())
    for name, argv in conventions(adapter, test, spec).items():
        assert argv[:2] == [str(WASI_RR), "run"]
        assert run_spec(argv, spec, cwd=tmp_path) == [], name


def test_wrong_expectations_are_reported(guest: Callable[[str], Path], tmp_path: Path) -> None:
    """The harness above can fail: a wrong exit code or stdout is a failure."""
    adapter = load_adapter()
    spec = dict(STDIO_SPEC, exit_code=0, stdout=STDIO_STDOUT.replace("two words", "2 words"))
    test = make_suite_dir(tmp_path / "testsuite", guest("wts_stdio"), "wts_stdio", spec)
    argv = conventions(adapter, test, spec)["args_env_dirs"]
    failures = run_spec(argv, spec, cwd=tmp_path)
    assert len(failures) == 2 and failures[0].startswith("stdout") and "exit 7" in failures[1]


@pytest.mark.parametrize("name", ["wts_preopen", "wts_fd_misc", "wts_rights"])
def test_root_spec_preopens_the_test_root_as_slash(
    name: str, guest: Callable[[str], Path], tmp_path: Path
) -> None:
    """The newest spec form (``"root": "fs-tests.dir"``): the guest finds ``/``."""
    adapter = load_adapter()
    spec = {"root": "fs-tests.dir", "args": []}
    test = make_suite_dir(tmp_path / "testsuite", guest(name), name, spec)
    (argv,) = conventions(adapter, test, spec).values()
    assert argv[2:4] == ["--dir", f"{test.parent / 'fs-tests.dir'}::/"]
    assert run_spec(argv, {"exit_code": 0}, cwd=tmp_path) == []
    assert list((test.parent / "fs-tests.dir").iterdir()) == []  # cleaned up after itself
