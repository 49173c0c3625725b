"""Helpers of the debugger tests (a module of its own: ``conftest`` is a name
every test folder has, so tests cannot import from it by name)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def cli(*args: str | os.PathLike[str], cwd: Path | None = None, stdin: bytes = b"",
        timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "wasi_rr", *map(str, args)], check=False, cwd=cwd,
                          input=stdin, capture_output=True, timeout=timeout)


def debug_session(journal: Path, commands: list[str], *extra: str) -> list[dict]:
    """Run ``wasi-rr debug --batch --json`` with these commands: one object per command."""
    done = cli("debug", "--batch", "--json", *extra, journal,
               stdin="\n".join(commands).encode() + b"\n")
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    lines = [json.loads(line) for line in done.stdout.decode().splitlines() if line.strip()]
    assert len(lines) == len(commands), done.stdout.decode()
    for obj in lines:
        assert "seq" in obj and "pid" in obj
    return lines
