"""Showing a run while it goes: a progress bar on a terminal, plain lines elsewhere.

A CI log wants one line per trace and nothing that redraws itself; a person at
a terminal wants to see how far along a long run is. ``rich`` draws the bar on
stderr (the library wasi-rr already uses for instrumentation progress,
``host/runtime/progress.py``; docs/snapshots.md says why one library), so
stdout stays the per-trace lines and the summary. When stdout is the very
terminal the bar is drawn on, a line goes through the bar's console instead,
above the bar, so the two never tear each other.
"""

from __future__ import annotations

import os
import sys
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
    """A ``rich`` bar on ``bar_stream`` (done/total, failures, elapsed time); the
    trace lines go to ``out``, above the bar (see the module docstring)."""

    def __init__(self, total: int, out: IO[str], bar_stream: IO[str], *,
                 quiet: bool = False) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as RichProgress

        console = Console(file=bar_stream, stderr=bar_stream is sys.stderr)
        self._bar: Any = RichProgress(
            TextColumn("wasi-rr check"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[failed]}"), TimeElapsedColumn(),
            console=console, transient=True, redirect_stdout=False, redirect_stderr=False)
        self._task = self._bar.add_task("check", total=total, failed="")
        self._bar.start()
        self._out = out
        self._shared = _same_terminal(out, bar_stream)
        self._quiet = quiet
        self._failed = 0

    def __call__(self, result: TraceResult) -> None:
        if result.status is not TraceStatus.PASSED:
            self._failed += 1
            self._bar.update(self._task, failed=f"{self._failed} failed")
        if not (self._quiet and result.status is TraceStatus.PASSED):
            line = trace_line(result)
            if self._shared:
                self._bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
            else:
                print(line, file=self._out, flush=True)
        self._bar.advance(self._task)

    def close(self) -> None:
        self._bar.stop()


def _same_terminal(a: IO[str], b: IO[str]) -> bool:
    """Both streams write to one terminal (a line printed to one would tear a
    bar drawn on the other)."""
    try:
        return a.isatty() and os.path.samestat(os.fstat(a.fileno()), os.fstat(b.fileno()))
    except (OSError, ValueError, AttributeError):
        return False


def make_progress(total: int, out: IO[str], bar_stream: IO[str], *,
                  quiet: bool = False) -> Progress:
    """A bar when ``bar_stream`` is a terminal, else plain lines."""
    if bar_stream.isatty():
        return BarProgress(total, out, bar_stream, quiet=quiet)
    return PlainProgress(out, quiet=quiet)
