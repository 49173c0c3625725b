"""Fixtures of the debugger tests: recorded journals of corpus guests and a
``--batch --json`` session runner."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))

import guestbuild
from debug_helpers import cli


@pytest.fixture(scope="session")
def stale_journal(tmp_path_factory: pytest.TempPathFactory) -> Callable[[bool], Path]:
    """``corpus/debug_stale.c`` recorded on a tmpfs (``debug=True``: the -g build)."""
    made: dict[bool, Path] = {}

    def get(debug: bool = True) -> Path:
        if debug not in made:
            wasm = guestbuild.build("debug_stale", debug=debug)
            out = tmp_path_factory.mktemp("stale") / "stale.wrr"
            done = cli("record", "-o", out, "--tmpfs", "/data", wasm)
            assert done.returncode == 1, done.stderr
            made[debug] = out
        return made[debug]
    return get


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Record a corpus guest: ``recorded(name, *args, tmpfs="/data")``."""
    def get(name: str, *args: str, tmpfs: str | None = "/data", status: int = 0) -> Path:
        wasm = guestbuild.build(name)
        out = tmp_path_factory.mktemp(name) / f"{name}.wrr"
        opts = ["--tmpfs", tmpfs] if tmpfs else []
        done = cli("record", "-o", out, *opts, wasm, *args)
        assert done.returncode == status, done.stderr
        return out
    return get
