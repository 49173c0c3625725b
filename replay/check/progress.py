"""Showing a run while it goes: a progress bar on a terminal, plain lines elsewhere.

A CI log wants one line per trace and nothing that redraws itself; a person at
a terminal wants to see how far along a long run is. ``tqdm`` draws the bar (on
stderr, so stdout stays the per-trace lines and the summary) and its ``write``
prints lines above it without tearing it.
"""

from __future__ import annotations

from typing import IO, Any, Protocol

from .model import TraceResult, TraceStatus
from .text import trace_line

__all__ = ["BarProgress", "PlainProgress", "Progress", "make_progress"]


class Progress(Protocol):
    """Called with each result as it arrives; closed once at the end."""

    def __call__(self, result: TraceResult) -> None: ...

    def close(self) -> None: ...


class PlainProgress:
    """One line per trace (``quiet``: only those that did not pass)."""

    def __init__(self, out: IO[str], *, quiet: bool = False) -> None:
        self._out = out
        self._quiet = quiet

    def __call__(self, result: TraceResult) -> None:
        if self._quiet and result.status is TraceStatus.PASSED:
            return
        print(trace_line(result), file=self._out, flush=True)

    def close(self) -> None:
        pass


class BarProgress:
    """A ``tqdm`` bar on ``bar_stream``; the trace lines go above it to ``out``."""

    def __init__(self, total: int, out: IO[str], bar_stream: IO[str], *,
                 quiet: bool = False) -> None:
        from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]

        self._tqdm = tqdm
        self._bar: Any = tqdm(total=total, unit="trace", file=bar_stream, dynamic_ncols=True,
                              leave=False, desc="wasi-rr check")
        self._out = out
        self._quiet = quiet
        self._failed = 0

    def __call__(self, result: TraceResult) -> None:
        if result.status is not TraceStatus.PASSED:
            self._failed += 1
            self._bar.set_postfix(failed=self._failed, refresh=False)
        if not (self._quiet and result.status is TraceStatus.PASSED):
            self._tqdm.write(trace_line(result), file=self._out)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def make_progress(total: int, out: IO[str], bar_stream: IO[str], *,
                  quiet: bool = False) -> Progress:
    """A bar when ``bar_stream`` is a terminal, else plain lines."""
    if bar_stream.isatty():
        return BarProgress(total, out, bar_stream, quiet=quiet)
    return PlainProgress(out, quiet=quiet)
