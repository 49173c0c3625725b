"""wasi-testsuite runtime adapter for wasi-rr.

Run the independent WASI conformance suite (WebAssembly/wasi-testsuite) against
wasi-rr with::

    python3 test-runner/wasi_test_runner.py \\
        -t ./tests/c/testsuite/ ./tests/rust/testsuite/ \\
        -r /path/to/wasi-rr/tests/conformance/wasi_rr_adapter.py

The runner imports this file as a module (it first runs it with ``--version`` and
requires that to print nothing, which is why there is no ``__main__`` block) and
calls ``get_name``, ``get_version``, ``get_wasi_versions`` and ``compute_argv``;
it then runs the command itself in the test's directory and checks the exit
status and stdout. ``WASI_RR`` overrides the command (split like a shell would,
e.g. ``WASI_RR="/opt/venv/bin/wasi-rr"``).

``compute_argv`` accepts every calling convention the runner has used: the
``(args, env, dirs)`` triple (with or without proposals / world / version
arguments), the older separate ``args, env, dirs`` arguments, and the newest
``(args, env, root)`` form where the test's root directory is preopened as ``/``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import Any

WASI_RR: list[str] = shlex.split(os.getenv("WASI_RR", "wasi-rr"))


def get_name() -> str:
    """The runtime's name in the suite's reports."""
    return "wasi-rr"


def get_version() -> str:
    """``wasi-rr --version`` prints ``wasi-rr X.Y.Z``; the runner wants X.Y.Z."""
    out = subprocess.run(
        [*WASI_RR, "--version"], capture_output=True, text=True, check=True
    ).stdout
    return out.split()[-1]


def get_wasi_versions() -> list[str]:
    """wasi-rr runs WASI preview1 command modules only."""
    return ["wasm32-wasip1"]


def get_wasi_worlds() -> list[str]:
    """Only plain commands (no ``wasi:http/service``)."""
    return ["wasi:cli/command"]


def _dir_flag(host: str | os.PathLike[str], guest: str) -> list[str]:
    return ["--dir", f"{host}::{guest}"]


def _run_operation(config: Any) -> tuple[list[str], dict[str, str], Any]:
    """(args, env, dirs) of the config's ``run`` operation (there is one per test)."""
    for op in config.operations:
        if type(op).__name__ == "Run":
            return list(op.args), dict(op.env), getattr(op, "dirs", getattr(op, "root", None))
    return [], {}, None


def compute_argv(test_path: str, *rest: Any) -> list[str]:
    """The ``wasi-rr run`` command line for one test.

    ``rest`` is ``((args, env, dirs_or_root), ...)``, ``(args, env, dirs, ...)`` or
    ``(config, ...)`` with the test's operations; trailing proposals / world /
    version arguments need no flags here.
    """
    first = rest[0]
    if hasattr(first, "operations"):  # a runner that passes its whole test config
        args, env, where = _run_operation(first)
    elif isinstance(first, tuple) and len(first) == 3:
        args, env, where = first
    else:
        args, env, where = first, rest[1], rest[2]
    argv = [*WASI_RR, "run"]
    for key, value in dict(env).items():
        argv += ["--env", f"{key}={value}"]
    if isinstance(where, (str, os.PathLike)):
        argv += _dir_flag(where, "/")  # newest layout: the test root is "/"
    elif where is not None:
        for host, guest in where:
            argv += _dir_flag(host, guest)
    return argv + [test_path, *args]
