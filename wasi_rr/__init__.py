"""wasi-rr: a deterministic record/replay journaling host for WASI preview1 programs.

The public names are loaded lazily (PEP 562): ``import wasi_rr.journal`` or
``wasi_rr.host.table`` must not pull in wasmtime, which ``wasi_rr.api`` needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .exitcodes import ExitStatus

if TYPE_CHECKING:
    from .api import DirMount, MountMode, RunConfig, RunResult, run
    from .errors import ConfigError, ModuleError, UnknownImportsError, WasiRrError
    from .replay.check import CheckReport, check

from ._version import __version__

_LAZY = {
    "run": "api",
    "RunConfig": "api",
    "RunResult": "api",
    "DirMount": "api",
    "MountMode": "api",
    "WasiRrError": "errors",
    "ModuleError": "errors",
    "ConfigError": "errors",
    "UnknownImportsError": "errors",
    "check": "replay.check",
    "CheckReport": "replay.check",
}

__all__ = [
    "CheckReport",
    "ConfigError",
    "DirMount",
    "ExitStatus",
    "ModuleError",
    "MountMode",
    "RunConfig",
    "RunResult",
    "UnknownImportsError",
    "WasiRrError",
    "__version__",
    "check",
    "run",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wasi_rr' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
