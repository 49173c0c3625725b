"""``replay --verify`` on journals with snapshots and with WASIX fork.

Snapshot entries are stepped over; with several processes every one re-executes
its calls on a kernel of its own, the child's forked from its parent's at the
recorded fork (shared pipes and open descriptions), closed when it exits."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from wasi_rr.api import RunConfig
from wasi_rr.exitcodes import ExitStatus
from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.runtime.procs import SnapshotPolicy
from wasi_rr.journal import Call, ForkEvent, SnapshotEvent, open_journal
from wasi_rr.record import record
from wasi_rr.replay import ReplayResult, replay
from wasi_rr.replay.divergence import DivergenceKind

FORK_GUESTS: list[tuple[str, list[str]]] = [
    ("wasix_fork_pipe", []),
    ("wasix_fork_redirect", []),
    ("wasix_fork_poll", []),
    ("wasix_fork_deadlock", []),
    ("wasix_fork_many", []),
    ("snapshot_fork", []),
]
SNAPSHOT_GUESTS: list[tuple[str, list[str]]] = [
    ("snapshot_counter", []),
    ("snapshot_inputs", []),
    ("snapshot_deep", []),
    ("snapshot_files", []),
    ("wasix_fds", ["/tmp"]),
]


def _record(wasm: Path, journal: Path, args: list[str], every: int = 0) -> bytes:
    out = io.BytesIO()
    config = RunConfig(module=wasm, args=args, tmpfs=["/tmp"], stdin=io.BytesIO(b""),
                       stdout=out, stderr=io.BytesIO(), argv0="guest.wasm",
                       snapshots=SnapshotPolicy(every=every))
    result = record(config, journal)
    assert result.trap is None, result.trap
    return out.getvalue()


def _verify(journal: Path) -> tuple[ReplayResult, bytes]:
    out = io.BytesIO()
    result = replay(journal, verify=True, stdout=out, stderr=io.BytesIO())
    assert result.divergence is None, result.divergence.report()
    return result, out.getvalue()


def _calls_by_pid(journal: Path) -> dict[int, int]:
    counts: dict[int, int] = {}
    with open_journal(journal) as r:
        for e in r:
            if isinstance(e, Call):
                counts[e.pid] = counts.get(e.pid, 0) + 1
    return counts


@pytest.mark.parametrize("every", [0, 3])
@pytest.mark.parametrize(("name", "args"), FORK_GUESTS)
def test_verify_fork_journals(name: str, args: list[str], every: int,
                              guest: Callable[[str], Path], tmp_path: Path) -> None:
    journal = tmp_path / "f.wrr"
    recorded = _record(guest(name), journal, args, every)
    with open_journal(journal) as r:
        entries = list(r)
    assert any(isinstance(e, ForkEvent) for e in entries)
    assert every == 0 or any(isinstance(e, SnapshotEvent) for e in entries)
    result, replayed = _verify(journal)
    assert replayed == recorded
    assert result.verified > 0


@pytest.mark.parametrize(("name", "args"), SNAPSHOT_GUESTS)
def test_verify_steps_over_snapshots(name: str, args: list[str],
                                     guest: Callable[[str], Path], tmp_path: Path) -> None:
    journal = tmp_path / "s.wrr"
    recorded = _record(guest(name), journal, args, every=1)
    with open_journal(journal) as r:
        assert any(isinstance(e, SnapshotEvent) for e in r)
    result, replayed = _verify(journal)
    assert replayed == recorded and result.verified > 0


def test_a_childs_calls_run_on_the_forked_kernel(guest: Callable[[str], Path], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel broken only in forked children is caught at the child's first
    fd_read: the child's calls really are re-executed, on the fork's kernel."""
    journal = tmp_path / "p.wrr"
    _record(guest("wasix_fork_pipe"), journal, [])
    assert _calls_by_pid(journal)[2] > 3
    real_fork = WasiKernel.fork

    def broken_fork(self: WasiKernel) -> WasiKernel:
        child = real_fork(self)
        real_read = child.fd_read

        def off_by_one(fd: int, *rest: object) -> object:
            data = real_read(fd, *rest)  # type: ignore[arg-type]
            return data[1:] if isinstance(data, bytes) and data else data

        child.fd_read = off_by_one  # type: ignore[method-assign]
        return child

    monkeypatch.setattr(WasiKernel, "fork", broken_fork)
    result = replay(journal, verify=True, stdout=io.BytesIO(), stderr=io.BytesIO())
    assert result.divergence is not None
    assert result.divergence.kind is DivergenceKind.RESULT_MISMATCH
    # the child's read of the pipe its parent filled (the parent reads the answer)
    assert result.divergence.expected is not None
    assert result.divergence.expected.startswith("fd_read(")
    assert 'data=b"hello child' in result.divergence.expected
    # the same journal without the breakage verifies
    monkeypatch.setattr(WasiKernel, "fork", real_fork)
    _verify(journal)


def test_cli_verify_fork_and_snapshots(guest: Callable[[str], Path], tmp_path: Path) -> None:
    rec = subprocess.run([sys.executable, "-m", "wasi_rr", "record", "-o", "fam.wrr",
                          "--snapshot-every", "3", str(guest("wasix_fork_pipe"))],
                         cwd=tmp_path, capture_output=True, timeout=120, check=False)
    assert rec.returncode == 0, rec.stderr
    rep = subprocess.run([sys.executable, "-m", "wasi_rr", "replay", "--verify", "fam.wrr"],
                         cwd=tmp_path, capture_output=True, timeout=120, check=False)
    assert (rep.returncode, rep.stdout, rep.stderr) == (0, rec.stdout, b"")
    bad = subprocess.run([sys.executable, "-m", "wasi_rr", "replay", "--verify",
                          "--from-snapshot", "1", "fam.wrr"],
                         cwd=tmp_path, capture_output=True, timeout=120, check=False)
    err = bad.stderr.decode()
    assert bad.returncode == ExitStatus.TOOL_ERROR and bad.stdout == b""
    assert err.count("\n") == 1 and "--verify cannot start at a snapshot" in err
