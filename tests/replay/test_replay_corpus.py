"""Every corpus program, recorded then replayed from an empty directory by the
CLI, reproduces its stdout/stderr byte for byte and its exit status."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from replay_helpers import TRACES, record_guest, wasi_rr

from wasi_rr.exitcodes import ExitStatus
from wasi_rr.replay import replay
from wasi_rr.replay.manifest import load_manifest

MANIFEST = load_manifest(TRACES / "manifest.toml")


@pytest.mark.parametrize("name", sorted(MANIFEST.traces))
def test_recorded_corpus_program_replays_byte_identically(
        name: str, guest: Callable[[str], Path], tmp_path: Path) -> None:
    spec = MANIFEST.traces[name]
    rec = record_guest(guest(spec.program), tmp_path / f"{name}.wrr", args=spec.args,
                       env=dict(spec.env), tmpfs=spec.tmpfs, stdin=spec.stdin)
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = wasi_rr("replay", rec.journal, cwd=empty)
    assert proc.stdout == rec.stdout
    if rec.result.trap is not None:
        assert proc.returncode == ExitStatus.TRAP
        assert proc.stderr == rec.stderr + f"wasi-rr: guest trapped: {rec.result.trap}\n".encode()
    else:
        assert proc.returncode == rec.result.exit_code & 0xFF
        assert proc.stderr == rec.stderr
    assert list(empty.iterdir()) == []


@pytest.mark.parametrize("program", ["random", "clocks", "poll_sleep"])
def test_nondeterministic_guests_never_diverge_from_their_own_journal(
        program: str, guest: Callable[[str], Path], tmp_path: Path) -> None:
    """Each recording differs (clock values, random bytes), yet each replays exactly."""
    outputs = []
    for i in range(3):
        rec = record_guest(guest(program), tmp_path / f"{i}.wrr", args=["/data"],
                           tmpfs=["/data"])
        out_sink, err_sink = _Sink(), _Sink()
        result = replay(rec.journal, stdout=out_sink, stderr=err_sink)  # type: ignore[arg-type]
        assert result.divergence is None
        assert result.exit_code == rec.result.exit_code
        assert out_sink.data == rec.stdout and err_sink.data == rec.stderr
        outputs.append(rec.journal.read_bytes())
    assert len(set(outputs)) == 3  # the recordings really differ


def test_committed_traces_replay_in_process() -> None:
    """The committed regression traces replay (what CI's plugin run also checks)."""
    journals = sorted(TRACES.glob("*.wrr"))
    assert {j.stem for j in journals} == set(MANIFEST.traces)
    for journal in journals:
        result = replay(journal, stdout=_Sink(), stderr=_Sink())  # type: ignore[arg-type]
        assert result.divergence is None, result.divergence.report()
        assert result.entries_consumed > 0


def test_large_stdout_write_is_reproduced_even_when_stored_as_digest(
        guest: Callable[[str], Path], tmp_path: Path) -> None:
    """stdin_cat copies 100 KB to stdout in big writes; the output comes from the
    replaying guest's own buffers."""
    data = bytes(range(256)) * 400
    rec = record_guest(guest("stdin_cat"), tmp_path / "cat.wrr", stdin=data)
    assert rec.stdout == data
    out = _Sink()
    result = replay(rec.journal, stdout=out, stderr=_Sink())  # type: ignore[arg-type]
    assert result.divergence is None
    assert out.data == data


class _Sink:
    """A binary stream that remembers what was written."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, b: bytes) -> int:
        self.data += bytes(b)
        return len(b)

    def flush(self) -> None:
        pass
