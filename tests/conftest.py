"""Shared pytest fixtures: building corpus guests with zig.

``guest(name)`` returns the path of ``corpus/<name>.c`` built for wasm32-wasi,
cached by content under ``.cache/corpus/`` (see ``tests/guestbuild.py``), so the
fixture is cheap after the first build and safe under pytest-xdist.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import guestbuild


@pytest.fixture(scope="session")
def guest() -> Callable[[str], Path]:
    """Return a function building ``corpus/<name>.c`` and giving the .wasm path.

    A missing zig fails the test with a clear message: zig is a test dependency.
    """
    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in built:
            try:
                built[name] = guestbuild.build(name)
            except guestbuild.GuestBuildError as exc:
                pytest.fail(str(exc), pytrace=False)
        return built[name]

    return get
