"""Progress of a cold asyncify instrumentation, shown on stderr.

Why: instrumenting a big module takes from seconds to minutes (CPython on
WASI: ~45 s on a 2-core machine) and used to be silent, which looks like a
hang.  ``instrument()`` only calls a callback with ``Progress`` events (stage +
elapsed time); this module turns them into output, so the core function never
imports a terminal library and a library user can pass their own callback or
``None``.

The console reporter uses ``rich`` (a spinner, the stage and a live elapsed
clock that keeps ticking through a minute-long stage with no events; see
docs/snapshots.md for why rich) when stderr is a terminal.  Elsewhere it prints
nothing unless ``WASI_RR_PROGRESS=1`` asks for it, and then one plain line per
stage, so a CI log gets a handful of lines and no escape codes.
``WASI_RR_PROGRESS=0`` silences it on a terminal too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

__all__ = ["STAGES", "Progress", "ProgressCallback", "console_progress"]

STAGES: dict[str, str] = {
    "check": "checking the module",
    "read": "reading the module (Binaryen)",
    "asyncify": "running asyncify",
    "write": "writing the instrumented module",
    "cache": "caching",
    "done": "done",
    "failed": "failed",
}
"""Stage ids in the order a cold instrumentation goes through them, and their
labels.  ``done`` and ``failed`` are final: exactly one of them ends a run."""


@dataclass(frozen=True, slots=True)
class Progress:
    """One stage starting (or the run ending) ``elapsed`` seconds after the
    instrumentation began, for a module of ``module_bytes`` bytes."""

    stage: str
    elapsed: float
    module_bytes: int

    @property
    def label(self) -> str:
        return STAGES.get(self.stage, self.stage)

    @property
    def final(self) -> bool:
        return self.stage in ("done", "failed")


ProgressCallback = Callable[[Progress], None]


def _title(event: Progress) -> str:
    return f"wasi-rr: instrumenting a {event.module_bytes / 1e6:.1f} MB module for snapshots"


class _Lines:
    """One plain line per stage (for logs: no cursor movement, no colour)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, event: Progress) -> None:
        if event.stage == "done":
            text = f"{_title(event)}: done in {event.elapsed:.1f} s (cached for later runs)"
        else:
            text = f"{_title(event)}: {event.label} [{event.elapsed:.1f} s]"
        self.stream.write(text + "\n")
        self.stream.flush()


class _Rich:
    """A transient spinner line with the stage and a live elapsed clock; a
    final summary line stays when the run is done."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.live: Any = None
        self.task: Any = None

    def __call__(self, event: Progress) -> None:
        if self.live is None and not event.final:
            self._start(event)
        if self.live is None:
            return
        if event.final:
            self.live.stop()
            if event.stage == "done":
                self.live.console.print(
                    f"{_title(event)}: done in {event.elapsed:.1f} s (cached for later runs)",
                    highlight=False, markup=False)
            self.live = None
            return
        self.live.update(self.task, description=f"{_title(event)}: {event.label}")

    def _start(self, event: Progress) -> None:
        from rich.console import Console
        from rich.progress import Progress as RichProgress
        from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

        console = Console(file=self.stream, stderr=self.stream is sys.stderr)
        self.live = RichProgress(SpinnerColumn(), TextColumn("{task.description}"),
                                 TimeElapsedColumn(), console=console, transient=True)
        self.task = self.live.add_task(f"{_title(event)}: {event.label}", total=None)
        self.live.start()


def console_progress(stream: IO[str] | None = None) -> ProgressCallback | None:
    """The reporter for a person at ``stream`` (default ``sys.stderr``), or
    ``None`` when nothing should be printed (not a terminal and not asked for).

    ``WASI_RR_PROGRESS=1`` prints even when ``stream`` is not a terminal (one
    line per stage); ``WASI_RR_PROGRESS=0`` never prints."""
    out = stream if stream is not None else sys.stderr
    wanted = os.environ.get("WASI_RR_PROGRESS", "").strip().lower()
    if wanted in ("0", "no", "never", "off"):
        return None
    isatty = getattr(out, "isatty", None)
    if isatty is not None and isatty():
        return _Rich(out)
    if wanted in ("1", "yes", "always", "on"):
        return _Lines(out)
    return None
