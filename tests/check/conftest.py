"""Fixtures of the ``check`` tests: the corpus (recorded once per session, ~2 s)
and a real ``dask.distributed`` cluster of two worker processes on loopback."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from check_helpers import (
    DIVERGING_SOURCE,
    SPINNING_SOURCE,
    Corpus,
    build_variant,
    record_good,
    record_journal,
    splice_module,
    spoil,
)

from wasi_rr.replay.check import TraceStatus

CORPUS_DIR = Path(__file__).resolve().parents[2] / "corpus"


@pytest.fixture(scope="session")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Other builds of ``exit_code.c``: one that prints other bytes, one that spins."""
    directory = tmp_path_factory.mktemp("variants")
    source = CORPUS_DIR / "exit_code.c"
    return {"diverging": build_variant(source, DIVERGING_SOURCE, directory, "diverging"),
            "spinning": build_variant(source, SPINNING_SOURCE, directory, "spinning")}


@pytest.fixture(scope="session")
def corpus(guest: Callable[[str], Path], variants: dict[str, bytes],
           tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """205 journals that pass, and one each: truncated, flipped bit, another build
    (diverges), no embedded module (error); plus files discovery must skip."""
    root = tmp_path_factory.mktemp("corpus")
    expected = record_good(guest, root)
    bad = root / "bad"
    source = record_journal(guest("exit_code"), bad / "source.wrr.src", ["5"])
    data = source.read_bytes()
    (bad / "truncated.wrr").write_bytes(spoil(data, "truncate"))
    (bad / "bitflip.wrr").write_bytes(spoil(data, "flip"))
    splice_module(source, variants["diverging"], bad / "diverged.wrr")
    record_journal(guest("exit_code"), bad / "no-module.wrr", ["6"], embed_module=False)
    expected.update({str(bad / "truncated.wrr"): TraceStatus.DAMAGED,
                     str(bad / "bitflip.wrr"): TraceStatus.DAMAGED,
                     str(bad / "diverged.wrr"): TraceStatus.DIVERGED,
                     str(bad / "no-module.wrr"): TraceStatus.ERROR})
    # not journals of the corpus: another suffix, a hidden (half-written) file
    (root / "good" / "README.txt").write_text("not a journal\n")
    (root / "good" / ".partial.wrr").write_bytes(data[:100])
    return Corpus(root, expected)


@pytest.fixture(scope="session")
def spinning_journal(guest: Callable[[str], Path], variants: dict[str, bytes],
                     tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A journal of ``exit_code 0`` whose embedded build spins ~30 s before its
    first syscall: a replay that hangs (from a test's point of view)."""
    directory = tmp_path_factory.mktemp("spin")
    source = record_journal(guest("exit_code"), directory / "source.wrr.src", ["0"])
    return splice_module(source, variants["spinning"], directory / "spinning.wrr")


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """A ``LocalCluster`` of two single-threaded worker processes on 127.0.0.1 and a
    client of it; closed at the end of the session."""
    import distributed  # a test dependency: these tests must run, never skip
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.wait_for_workers(2, timeout=120)
        yield client


@pytest.fixture
def fresh_dask_client(dask_client: Any) -> Any:
    """The session's client, with two workers up again (a test may restart or kill one)."""
    dask_client.wait_for_workers(2, timeout=120)
    return dask_client
