"""100k files opened and closed on a tmpfs with up to 100k fds open at once
(``corpus/many_fds.c``), recorded and replayed: the kernel finds the lowest
free fd in O(log n), so this takes seconds (bench/README.md has the times;
nothing is timed here)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from wasi_rr.api import RunConfig
from wasi_rr.journal import open_journal
from wasi_rr.record import record
from wasi_rr.replay import replay

N = 100_000
OUT = (f"opened {N} files: {N} numbered in order, {N // 2} freed numbers reused lowest "
       "first\n").encode()


@pytest.mark.slow
def test_100k_opens_and_closes_record_and_replay(guest: Callable[[str], Path],
                                                 tmp_path: Path) -> None:
    journal = tmp_path / "fds.wrr"
    out = io.BytesIO()
    result = record(RunConfig(module=guest("many_fds"), args=[str(N), "/tmp"], tmpfs=["/tmp"],
                              stdout=out, stderr=io.BytesIO()), journal)
    assert (result.exit_code, result.trap, out.getvalue()) == (0, None, OUT)
    with open_journal(journal) as r:
        counts: dict[str, int] = {}
        for call in r.calls():
            counts[call.name] = counts.get(call.name, 0) + 1
    assert counts["path_open"] == counts["fd_close"] == N + N // 2
    for fast in (True, False):
        replayed = io.BytesIO()
        rep = replay(journal, fast=fast, stdout=replayed, stderr=io.BytesIO())
        assert rep.divergence is None, rep.divergence.report()
        assert (rep.exit_code, replayed.getvalue()) == (0, OUT)
