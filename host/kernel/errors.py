"""The kernel's user-facing errors, on the tool's shared error classes.

These are the user's (or the environment's) fault, reported as one line by the
CLI with ``wasi_rr.errors``' exit statuses. A guest's own mistakes are not
here: they are errnos (``WasiError`` in ``wasi_types``), returned to the guest.
"""

from __future__ import annotations

from wasi_rr.errors import ConfigError, WasiRrError

__all__ = ["FreezeError", "MountError"]


class MountError(ConfigError):
    """A mount's host directory cannot be opened (a bad ``--dir``, or a resumed
    snapshot whose host directory is gone)."""


class FreezeError(WasiRrError):
    """The bytes are not a frozen ``WasiFs`` image this version can read."""
