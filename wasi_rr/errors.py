"""Errors that are the *user's* (or the environment's) fault, not a host bug.

Each carries a one-line message fit for ``wasi-rr: error: <message>`` and the
process status the CLI exits with. Guest faults never appear here (they are
errnos); host bugs are ordinary exceptions, reported as such.
"""

from __future__ import annotations

from collections.abc import Sequence

from .exitcodes import ExitStatus


class WasiRrError(Exception):
    """A tool error with a one-line, user-facing message."""

    status: ExitStatus = ExitStatus.TOOL_ERROR


class ModuleError(WasiRrError):
    """The module cannot be run: unreadable, malformed, not a WASI command,
    or it needs imports we do not provide."""


class UnknownImportsError(ModuleError):
    """The module imports functions wasi-rr does not implement."""

    def __init__(self, imports: Sequence[str]) -> None:
        self.imports = list(imports)
        super().__init__(
            f"module needs {len(self.imports)} import(s) wasi-rr does not provide: "
            f"{', '.join(self.imports)} (use --trap-unknown-imports to run anyway)")


class ConfigError(WasiRrError):
    """A run configuration is invalid (bad --dir, --env, missing host directory...)."""
