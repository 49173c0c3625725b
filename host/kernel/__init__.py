"""The WASI kernel: syscalls as plain-value methods over a virtual filesystem.

``from wasi_rr.host.kernel import WasiKernel, WasiFs, MountSpec`` is the public
surface; the modules behind it are one concern each (docs/wasifs.md). The
names load lazily (PEP 562) so that importing one module of the kernel (the
boundary imports ``wasi_types``) does not load all of it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import FreezeError, MountError
    from .hostdir import MountMode
    from .kernel import WasiKernel
    from .sources import (
        Clock,
        RandomSource,
        SeededRandom,
        SystemClock,
        SystemRandom,
        VirtualClock,
    )
    from .wasifs import MountSpec, WasiFs

_LAZY = {
    "WasiKernel": "kernel",
    "WasiFs": "wasifs",
    "MountSpec": "wasifs",
    "MountMode": "hostdir",
    "MountError": "errors",
    "FreezeError": "errors",
    "Clock": "sources",
    "SystemClock": "sources",
    "VirtualClock": "sources",
    "RandomSource": "sources",
    "SystemRandom": "sources",
    "SeededRandom": "sources",
}

__all__ = [
    "Clock",
    "FreezeError",
    "MountError",
    "MountMode",
    "MountSpec",
    "RandomSource",
    "SeededRandom",
    "SystemClock",
    "SystemRandom",
    "VirtualClock",
    "WasiFs",
    "WasiKernel",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
