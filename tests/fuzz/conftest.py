"""Seed journals for the crafted-journal fuzzer: real recordings of corpus guests."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from fuzz_run import SEEDS

from wasi_rr.api import RunConfig
from wasi_rr.record import record


@pytest.fixture(scope="session")
def seed_journals(guest: Callable[[str], Path],
                  tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each guest of ``SEEDS`` recorded once per session (per xdist worker)."""
    out_dir = tmp_path_factory.mktemp("seeds")
    journals = {}
    for name, kw in SEEDS.items():
        opts = dict(kw)
        stdin = opts.pop("stdin", None)
        config = RunConfig(module=guest(name), stdout=io.BytesIO(), stderr=io.BytesIO(),
                           stdin=io.BytesIO(stdin if isinstance(stdin, bytes) else b""),
                           argv0=f"{name}.wasm", **opts)  # type: ignore[arg-type]
        path = out_dir / f"{name}.wrr"
        record(config, path)
        journals[name] = path
    return journals
