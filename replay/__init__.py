"""The replay engine: re-drive a guest from its journal alone.

``replay(journal)`` answers every syscall from the journal (verbatim mode),
reproduces the guest's stdout/stderr, and reports the first divergence;
``verify=True`` also re-executes every call on a kernel rebuilt from the
journal. See docs/replay.md.

Names are loaded lazily so that ``import wasi_rr.replay.pytest_plugin`` (done
by pytest for every session through the entry point) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .divergence import Divergence, DivergenceError, DivergenceKind
    from .engine import ReplayError, ReplayResult, replay

_LAZY = {
    "replay": "engine",
    "ReplayResult": "engine",
    "ReplayError": "engine",
    "Divergence": "divergence",
    "DivergenceError": "divergence",
    "DivergenceKind": "divergence",
}

__all__ = [
    "Divergence",
    "DivergenceError",
    "DivergenceKind",
    "ReplayError",
    "ReplayResult",
    "replay",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wasi_rr.replay' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
