"""``freeze``/``unfreeze`` of ``WasiFs`` processes (the functions behind
``WasiFs.freeze`` and friends; the image itself is ``frozen.py``'s)."""

from __future__ import annotations

from collections.abc import Sequence

from .errors import FreezeError
from .frozen import FREEZE_VERSION, HostDirs
from .sources import Clock
from .wasifs import WasiFs

__all__ = [
    "FREEZE_VERSION",
    "FreezeError",
    "freeze_family",
    "freeze_fs",
    "unfreeze_family",
    "unfreeze_fs",
]


def freeze_fs(fs: WasiFs) -> bytes:
    """Freeze one process's view (its fd table and the whole tree)."""
    return fs.freeze()


def freeze_family(processes: Sequence[WasiFs]) -> bytes:
    """Freeze several processes that share one tree (a fork family)."""
    return WasiFs.freeze_family(processes)


def unfreeze_fs(
    data: bytes, *, clock: Clock | None = None, host_dirs: HostDirs | None = None
) -> WasiFs:
    """Rebuild a frozen process (the first one, for a frozen family)."""
    return WasiFs.unfreeze(data, clock=clock, host_dirs=host_dirs)


def unfreeze_family(
    data: bytes, *, clock: Clock | None = None, host_dirs: HostDirs | None = None
) -> list[WasiFs]:
    """Rebuild every frozen process, sharing one new tree."""
    return WasiFs.unfreeze_family(data, clock=clock, host_dirs=host_dirs)
