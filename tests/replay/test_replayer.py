"""The wasm replayer: calls answered without Python, reports exactly as without it.

``replay(..., fast=False)`` answers every call in Python (``answer.Answerer``);
these tests compare the two paths on the same journals and count how often the
default path enters Python.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from replay_helpers import (
    assert_same_report,
    build_variant,
    record_guest,
    rewrite_journal,
)

from wasi_rr.journal import Call, open_journal
from wasi_rr.replay import replay
from wasi_rr.replay.divergence import DivergenceKind

REPO = Path(__file__).resolve().parents[2]
PROBE = (REPO / "corpus" / "replay_probe.c").read_text()
ROUNDS = 1200


def _replay(journal: Path, **kw: object) -> tuple[object, bytes]:
    out = io.BytesIO()
    result = replay(journal, stdout=out, stderr=io.BytesIO(), warn=lambda _m: None,
                    **kw)  # type: ignore[arg-type]
    return result, out.getvalue()


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A recorded probe run, and the same journal cut into frames of 97 records."""
    tmp = tmp_path_factory.mktemp("probe")
    wasm = build_variant(PROBE, tmp, "probe")
    rec = record_guest(wasm, tmp / "probe.wrr", args=[str(ROUNDS), "/t"], tmpfs=["/t"])
    assert rec.result.exit_code == 0
    small = rewrite_journal(rec.journal, tmp / "small.wrr", lambda e: e, flush_every=97)
    return rec.journal, small


def _calls(journal: Path) -> list[Call]:
    with open_journal(journal) as r:
        return list(r.calls())


def test_python_is_entered_a_handful_of_times_not_per_syscall(probe: tuple[Path, Path]) -> None:
    journal, small = probe
    calls = len(_calls(journal))
    assert calls > 2 * ROUNDS
    fast, out = _replay(journal)
    slow, slow_out = _replay(journal, fast=False)
    assert fast.ok and slow.ok and out == slow_out  # type: ignore[attr-defined]
    assert fast.entries_consumed == slow.entries_consumed == calls  # type: ignore[attr-defined]
    assert slow.python_entries == calls  # type: ignore[attr-defined]
    # the first call (after the start event), the irregular proc_exit, and the
    # frame loads: a handful, whatever the number of calls
    assert fast.python_entries <= 8  # type: ignore[attr-defined]
    many, _ = _replay(small)
    with open_journal(small) as r:
        frames = sum(1 for _ in r.frames())
    assert frames > 20
    assert many.ok and frames - 2 <= many.python_entries <= frames + 8  # type: ignore[attr-defined]


def _mutated(call: Call) -> Call:
    """The same call with one input byte (else one param) changed."""
    from dataclasses import replace

    for k, (addr, data) in enumerate(call.inputs):
        if isinstance(data, bytes) and data:
            inputs = list(call.inputs)
            inputs[k] = (addr, bytes([data[0] ^ 0x20]) + data[1:])
            return replace(call, inputs=tuple(inputs))
    params = list(call.params)
    params[0] ^= 1
    return replace(call, params=tuple(params))


@pytest.mark.parametrize("where", ["first", "middle", "frame_edge", "last"])
def test_divergence_is_reported_exactly_as_by_the_python_path(
        probe: tuple[Path, Path], tmp_path: Path, where: str) -> None:
    journal, _ = probe
    calls = _calls(journal)
    edge = 97 * 7  # records 0..N cut every 97 entries (the start event is entry 0)
    index = {"first": 0, "middle": len(calls) // 2, "frame_edge": edge - 1,
             "last": len(calls) - 2}[where]  # (the very last is proc_exit: Python anyway)
    target = calls[index]

    def transform(entries: list[object]) -> list[object]:
        return [_mutated(e) if isinstance(e, Call) and e.seq == target.seq else e
                for e in entries]

    bad = rewrite_journal(journal, tmp_path / f"{where}.wrr", transform, flush_every=97)
    fast, _ = _replay(bad)
    slow, _ = _replay(bad, fast=False)
    d = fast.divergence  # type: ignore[attr-defined]
    assert d is not None and d.kind is DivergenceKind.CALL_MISMATCH
    assert d.seq == target.seq
    assert_same_report(fast, slow)  # type: ignore[arg-type]
    assert fast.python_entries < slow.python_entries or where == "first"  # type: ignore[attr-defined]


def test_a_changed_byte_anywhere_in_an_input_is_a_divergence(tmp_path: Path) -> None:
    """The wasm compare covers every byte of every input length: 8 bytes at a
    time and a 4-, 2- and 1-byte tail (the probe's inputs are 1, 7, 8, 9, 10, 14
    and 16 bytes long). One changed byte at each position of the first input of
    each (input index, length) must stop the replay at that call, reported as the
    Python path reports it."""
    wasm = build_variant(PROBE, tmp_path, "probe")
    journal = record_guest(wasm, tmp_path / "p.wrr", args=["12", "/t"], tmpfs=["/t"]).journal
    targets: dict[tuple[int, int], Call] = {}
    for call in _calls(journal):
        for k, (_addr, data) in enumerate(call.inputs):
            if isinstance(data, bytes) and data:
                targets.setdefault((k, len(data)), call)
    assert {length for _k, length in targets} >= {1, 7, 8, 9, 10, 14, 16}
    for (k, length), target in sorted(targets.items()):
        for pos in range(length):
            def flip(entries: list[object], seq: int = target.seq, k: int = k,
                     pos: int = pos) -> list[object]:
                out = []
                for e in entries:
                    if isinstance(e, Call) and e.seq == seq:
                        inputs = list(e.inputs)
                        addr, data = inputs[k]
                        assert isinstance(data, bytes)
                        inputs[k] = (addr, data[:pos] + bytes([data[pos] ^ 1]) + data[pos + 1:])
                        e = dataclasses.replace(e, inputs=tuple(inputs))
                    out.append(e)
                return out

            bad = rewrite_journal(journal, tmp_path / "bad.wrr", flip)
            fast, _ = _replay(bad)
            d = fast.divergence  # type: ignore[attr-defined]
            assert d is not None and d.kind is DivergenceKind.CALL_MISMATCH, (k, length, pos)
            assert d.seq == target.seq, (k, length, pos)
            if pos in (0, length - 1):
                assert_same_report(fast, _replay(bad, fast=False)[0])  # type: ignore[arg-type]


def test_extra_and_missing_calls_at_the_end_match_the_python_path(
        probe: tuple[Path, Path], tmp_path: Path) -> None:
    journal, _ = probe
    cut = rewrite_journal(journal, tmp_path / "cut.wrr", lambda es: _drop_last_calls(es, 5))
    fast, _ = _replay(cut)
    slow, _ = _replay(cut, fast=False)
    assert fast.divergence is not None  # type: ignore[attr-defined]
    assert fast.divergence.kind is DivergenceKind.EXTRA_CALL  # type: ignore[attr-defined]
    assert_same_report(fast, slow)  # type: ignore[arg-type]


def _drop_last_calls(entries: list[object], n: int) -> list[object]:
    """The journal without its last ``n`` calls (the guest will make more)."""
    keep = list(entries)
    dropped = 0
    for i in range(len(keep) - 1, -1, -1):
        if isinstance(keep[i], Call) and dropped < n:
            del keep[i]
            dropped += 1
    return keep


def test_memory_grown_mid_replay_is_seen(probe: tuple[Path, Path]) -> None:
    journal, _ = probe
    grown = [c for c in _calls(journal) if c.name == "fd_pread"]
    assert len(grown) >= ROUNDS // 200
    top = max(a for c in grown for a, _ in c.writes)
    assert top > 2 * 1024 * 1024  # written into pages the guest grew during the run
    result, _ = _replay(journal)
    assert result.ok  # type: ignore[attr-defined]


def test_fork_journals_replay_through_the_python_path(
        guest: Callable[[str], Path], tmp_path: Path) -> None:
    rec = record_guest(guest("wasix_fork_pipe"), tmp_path / "fork.wrr")
    result, out = _replay(rec.journal)
    assert result.ok and out == rec.stdout  # type: ignore[attr-defined]
    assert result.python_entries == result.entries_consumed  # type: ignore[attr-defined]
