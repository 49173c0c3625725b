"""The pytest plugin, run as a user would: pytest in a fresh project directory
whose ini file lists a traces directory (entry point ``pytest11``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from replay_helpers import REPO, TRACES, rewrite_journal

from wasi_rr.journal import ExitEvent


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=env)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pytest.ini").write_text("[pytest]\nwasi_rr_traces = traces\n")
    traces = tmp_path / "traces"
    traces.mkdir()
    shutil.copy(TRACES / "exit_code.wrr", traces / "good.wrr")
    return tmp_path


def test_journals_are_collected_and_replayed_under_xdist(project: Path) -> None:
    """One run covers: collection from the listed directory only, a passing and a
    diverging trace, the report as the failure text, and pytest-xdist workers."""
    rewrite_journal(TRACES / "exit_code.wrr", project / "traces" / "bad.wrr",
                    lambda entries: [*entries[:-1], ExitEvent(1, 41)])
    shutil.copy(TRACES / "args_env.wrr", project / "traces" / "args.wrr")
    other = project / "elsewhere"
    other.mkdir()
    rewrite_journal(TRACES / "exit_code.wrr", other / "ignored.wrr",
                    lambda entries: [*entries[:-1], ExitEvent(1, 40)])
    proc = _pytest(project, "-rf", "-n", "2", "traces", "elsewhere")
    assert "1 failed, 2 passed" in proc.stdout, proc.stdout + proc.stderr
    assert "traces/bad.wrr::replay" in proc.stdout
    assert "replay divergence at syscall" in proc.stdout
    assert "exit status 42" in proc.stdout and "exit status 41" in proc.stdout
    assert "ignored.wrr" not in proc.stdout
    assert "Traceback" not in proc.stdout


def test_record_modes_follow_the_manifest(project: Path) -> None:
    builder = REPO / "tests" / "guestbuild.py"
    (project / "traces" / "manifest.toml").write_text(
        f'builder = "{builder}"\n\n[traces.fresh]\nprogram = "exit_code"\nargs = ["3"]\n')
    journal = project / "traces" / "fresh.wrr"
    proc = _pytest(project)  # none: a described trace without journal fails
    assert "1 failed, 1 passed" in proc.stdout, proc.stdout + proc.stderr
    assert "record-mode=once" in proc.stdout and not journal.exists()

    proc = _pytest(project, "--wasi-rr-record-mode=once")
    assert "2 passed" in proc.stdout, proc.stdout + proc.stderr
    first = journal.read_bytes()

    proc = _pytest(project, "--wasi-rr-record-mode=once")  # exists: kept as is
    assert "2 passed" in proc.stdout and journal.read_bytes() == first

    proc = _pytest(project, "--wasi-rr-record-mode=rewrite")
    assert "2 passed" in proc.stdout, proc.stdout + proc.stderr
    assert journal.read_bytes() != first  # re-recorded (new creation time)
    assert not [p for p in journal.parent.iterdir() if p.name.startswith(".")]
