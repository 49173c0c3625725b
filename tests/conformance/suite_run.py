"""Run a guest the way WebAssembly/wasi-testsuite's runner does, under both hosts.

Why the real CLI in a subprocess: the suite drives a runtime only through its
command line (an adapter turns a test's JSON spec into ``--dir``/``--env`` flags
and the module's arguments, and the runner reads stdout and the exit status), so
this is what must behave like wasmtime. The reference is wasmtime's built-in WASI
(via ``guestrun.run_reference``) given the same argv, env and preopens.

Each run gets a fresh copy of the test directory, entered as the working
directory, so relative ``--dir fs-tests.dir`` mappings resolve as in the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guestrun import Invocation, copy_tree, run_reference, tree

TIMEOUT_S = 60.0
"""A run that takes longer is killed (the suite's runner gives 5 s after stdin)."""

WASI_RR = Path(sys.executable).with_name("wasi-rr")
"""The installed console script (same venv as the test interpreter)."""


@dataclass(frozen=True)
class SuiteOutcome:
    """What the suite's runner observes, plus the directory left behind."""

    stdout: bytes
    exit_code: int
    left_behind: dict[str, str | bytes]


@dataclass
class SuiteCase:
    """One test: module, argv[1:], env, and preopens as (dir in test dir, guest name)."""

    module: Path
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    dirs: list[tuple[str, str]] = field(default_factory=list)


def wasi_rr_argv(case: SuiteCase) -> list[str]:
    """The command line an adapter builds: env, ``--dir HOST::GUEST``, module, args."""
    argv = [str(WASI_RR), "run"]
    for key, value in case.env.items():
        argv += ["--env", f"{key}={value}"]
    for host, guest in case.dirs:
        argv += ["--dir", host if host == guest else f"{host}::{guest}"]
    return argv + [str(case.module), *case.args]


def run_cli(case: SuiteCase, test_dir: Path) -> SuiteOutcome:
    """Run ``wasi-rr run`` in a fresh copy of ``test_dir`` (the working directory)."""
    with tempfile.TemporaryDirectory(prefix="wts-rr-") as tmp:
        work = Path(tmp) / "t"
        copy_tree(test_dir, work)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        stdout, returncode = _run_like_the_suite(wasi_rr_argv(case), work, env)
        return SuiteOutcome(stdout, returncode, tree(work))


def _run_like_the_suite(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[bytes, int]:
    """Run as the suite's runner does: stdin is a pipe that stays open, with no
    data, until the guest has closed stdout (the runner reads stdout first and
    only then waits), so a poll on stdin must time out rather than see EOF."""
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    killer = threading.Timer(TIMEOUT_S, proc.kill)
    killer.start()
    stderr: list[bytes] = []
    drain = threading.Thread(target=lambda: stderr.append(proc.stderr.read()))  # type: ignore[union-attr]
    drain.start()
    try:
        assert proc.stdout is not None and proc.stdin is not None
        stdout = proc.stdout.read()
        proc.stdin.close()
        returncode = proc.wait()
    finally:
        killer.cancel()
        drain.join()
    return stdout, returncode


def run_ref(case: SuiteCase, test_dir: Path) -> SuiteOutcome:
    """Run under wasmtime's WASI with the same preopens, on a fresh copy."""
    with tempfile.TemporaryDirectory(prefix="wts-ref-") as tmp:
        work = Path(tmp) / "t"
        copy_tree(test_dir, work)
        inv = Invocation(
            module=case.module,
            args=list(case.args),
            env=dict(case.env),
            dirs=[(work / host, guest) for host, guest in case.dirs],
        )
        scratch = Path(tmp) / "scratch"
        scratch.mkdir()
        out = run_reference(inv, scratch=scratch)
        # run_reference works on copies under `scratch`: report what they hold.
        left: dict[str, str | bytes] = {}
        for index, (host, _guest) in enumerate(case.dirs):
            for rel, value in tree(scratch / f"dir{index}").items():
                left[f"{host}/{rel}"] = value
            left.setdefault(host, "<dir>")
        for rel, value in tree(work).items():
            top = rel.split("/", 1)[0]
            if top not in {h for h, _ in case.dirs}:
                left[rel] = value
        return SuiteOutcome(out.stdout, out.exit_code & 0xFF, dict(sorted(left.items())))
