"""Fixtures for the snapshot tests: instrumented corpus guests, compiled once per session."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

sys.path.insert(0, str(Path(__file__).resolve().parent))

from minihost import Guest

from wasi_rr.host.runtime.instrument import instrument


@pytest.fixture(scope="session")
def engine() -> wasmtime.Engine:
    return wasmtime.Engine()


@pytest.fixture(scope="session")
def instrument_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private asyncify cache so tests never depend on (or fill) the user's cache."""
    return tmp_path_factory.mktemp("asyncify-cache")


@pytest.fixture(scope="session")
def snap_guest(
    guest: Callable[[str], Path], engine: wasmtime.Engine, instrument_cache: Path
) -> Callable[[str], Guest]:
    built: dict[str, Guest] = {}

    def get(name: str) -> Guest:
        if name not in built:
            original = guest(name).read_bytes()
            module = instrument(original, cache_dir=instrument_cache)
            built[name] = Guest(original, module, wasmtime.Module(engine, module.wasm))
        return built[name]

    return get
