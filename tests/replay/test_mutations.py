"""Property: a journal whose *questions* were altered (a param, an input byte,
the function) always diverges exactly at the altered entry, and the report
names the altered field. Replay never passes a journal the guest cannot match."""

from __future__ import annotations

import shutil
from dataclasses import replace
from io import BytesIO
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from replay_helpers import TRACES, read_all, rewrite_journal

from wasi_rr.journal import Call, Entry
from wasi_rr.replay import DivergenceKind, replay

SOURCE = TRACES / "fd_misc.wrr"
_, _, ENTRIES = read_all(SOURCE)
CALLS = [i for i, e in enumerate(ENTRIES) if isinstance(e, Call)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("mutations")
    shutil.copy(SOURCE, d / "source.wrr")
    return d


def _mutate(entry: Call, how: str, pick: int) -> tuple[Call, str] | None:
    if how == "param" and entry.params:
        i = pick % len(entry.params)
        params = list(entry.params)
        params[i] ^= 1 << (pick % 7)
        return replace(entry, params=tuple(params)), "param"
    if how == "input" and any(isinstance(x, bytes) and x for _, x in entry.inputs):
        candidates = [k for k, (_, x) in enumerate(entry.inputs) if isinstance(x, bytes) and x]
        k = candidates[pick % len(candidates)]
        addr, old = entry.inputs[k]
        data = bytearray(old)  # type: ignore[arg-type]
        data[pick % len(data)] ^= 0x20
        inputs = list(entry.inputs)
        inputs[k] = (addr, bytes(data))
        return replace(entry, inputs=tuple(inputs)), "input"
    if how == "function":
        # another function with the same number of params (a wrong arity is a
        # corrupt journal, tested with the fuzzer, not a divergence)
        from wasi_rr.host.table import SIGNATURE_LIST

        others = [s for s in SIGNATURE_LIST if len(s.params) == len(entry.params)
                  and s.name != entry.name and s.irregular is None]
        if not others:
            return None
        other = others[pick % len(others)]
        return replace(entry, module=other.module, name=other.name), "function"
    return None


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    index=st.sampled_from(CALLS),
    how=st.sampled_from(["param", "input", "function"]),
    pick=st.integers(0, 1 << 16),
)
def test_altered_question_diverges_at_that_entry(
    workdir: Path, index: int, how: str, pick: int
) -> None:
    original = ENTRIES[index]
    assert isinstance(original, Call)
    mutated = _mutate(original, how, pick)
    if mutated is None:
        return
    entry, field = mutated

    def transform(entries: list[Entry]) -> list[Entry]:
        out = list(entries)
        out[index] = entry
        return out

    journal = rewrite_journal(workdir / "source.wrr", workdir / "mutated.wrr", transform)
    result = replay(journal, stdout=BytesIO(), stderr=BytesIO())
    d = result.divergence
    assert d is not None, f"{how} mutation of #{original.seq} {original.name} went unnoticed"
    assert d.kind is DivergenceKind.CALL_MISMATCH and d.seq == original.seq
    assert d.fields and d.fields[0].what.startswith(field)
    assert result.entries_consumed == CALLS.index(index)  # the calls replayed before it
