"""Replay failures that are not divergences: damaged journals, missing modules,
unreadable files. One line on stderr, a documented status, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest
from replay_helpers import record_guest, wasi_rr

from wasi_rr.exitcodes import ExitStatus
from wasi_rr.journal import JournalTruncated
from wasi_rr.replay import ReplayError, replay


@pytest.fixture
def journal(guest: Callable[[str], Path], tmp_path: Path) -> Path:
    return record_guest(guest("exit_code"), tmp_path / "j.wrr", args=["4"]).journal


@pytest.mark.parametrize("keep", [0.3, 0.9, 0.999, -1])
def test_truncated_journal_is_a_journal_error(journal: Path, tmp_path: Path,
                                              keep: float) -> None:
    data = journal.read_bytes()
    cut = tmp_path / "cut.wrr"
    cut.write_bytes(data[:len(data) - 1] if keep == -1 else data[:int(len(data) * keep)])
    with pytest.raises(JournalTruncated):
        replay(cut, stdout=BytesIO(), stderr=BytesIO())
    proc = wasi_rr("replay", cut, cwd=tmp_path)
    assert proc.returncode == ExitStatus.JOURNAL_ERROR
    err = proc.stderr.decode()
    # the intact part is replayed (its output shown), then one error line
    last = err.splitlines()[-1]
    assert last.startswith("wasi-rr: error: cannot replay") and "truncated" in last
    assert "Traceback" not in err


def test_corrupt_journal_is_a_journal_error(journal: Path, tmp_path: Path) -> None:
    data = bytearray(journal.read_bytes())
    data[-40] ^= 0xFF
    bad = tmp_path / "bad.wrr"
    bad.write_bytes(bytes(data))
    proc = wasi_rr("replay", bad, cwd=tmp_path)
    assert proc.returncode == ExitStatus.JOURNAL_ERROR
    assert b"corrupt" in proc.stderr and b"Traceback" not in proc.stderr


def test_missing_journal_is_a_tool_error(tmp_path: Path) -> None:
    with pytest.raises(ReplayError):
        replay(tmp_path / "nope.wrr")
    proc = wasi_rr("replay", "nope.wrr", cwd=tmp_path)
    assert proc.returncode == ExitStatus.TOOL_ERROR
    assert proc.stderr.decode().startswith("wasi-rr: error: cannot open journal")


def test_journal_without_module_needs_module_option(
        guest: Callable[[str], Path], tmp_path: Path) -> None:
    rec = record_guest(guest("exit_code"), tmp_path / "nomod.wrr", args=["9"],
                       embed_module=False)
    # on the recording machine the compiled module is found by its hash...
    proc = wasi_rr("replay", rec.journal, cwd=tmp_path)
    assert proc.returncode == 9, proc.stderr
    # ...on another machine (an empty cache) the journal alone cannot replay
    proc = wasi_rr("replay", rec.journal, cwd=tmp_path, cache_dir=tmp_path / "cold")
    assert proc.returncode == ExitStatus.TOOL_ERROR
    assert b"--module" in proc.stderr and proc.stderr.count(b"\n") == 1
    proc = wasi_rr("replay", "--module", guest("exit_code"), rec.journal, cwd=tmp_path,
                   cache_dir=tmp_path / "cold")
    assert proc.returncode == 9 and b"warning" not in proc.stderr


def test_journal_truncated_mid_run_stops_with_journal_error(
        guest: Callable[[str], Path], tmp_path: Path) -> None:
    """Entries in many small frames, the file cut in the middle: the guest runs
    through the intact frames, then the replay stops with JournalTruncated
    (not a divergence), also when the fast path is the one reading ahead."""
    from replay_helpers import rewrite_journal

    rec = record_guest(guest("bench_clock"), tmp_path / "clk.wrr", args=["300"])
    framed = rewrite_journal(rec.journal, tmp_path / "framed.wrr", lambda e: e,
                             flush_every=8)
    assert replay(framed, stdout=BytesIO(), stderr=BytesIO()).divergence is None
    data = framed.read_bytes()
    cut = tmp_path / "cut.wrr"
    cut.write_bytes(data[:len(data) - 300])  # a few of the ~40 small frames lost
    with pytest.raises(JournalTruncated) as info:
        replay(cut, stdout=BytesIO(), stderr=BytesIO())
    assert info.value.entries > 20  # the guest ran through the intact frames
    proc = wasi_rr("replay", cut, cwd=tmp_path)
    assert proc.returncode == ExitStatus.JOURNAL_ERROR and b"truncated" in proc.stderr
