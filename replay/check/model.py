"""The records of a ``check`` run: what a trace is, how its replay ended, the totals.

Plain frozen dataclasses and an enum, with no behaviour beyond derived counts:
they cross process boundaries (pickled to and from local pool workers and Dask
workers) and are written out as text, JSON and JUnit, so they must stay cheap to
pickle and free of references to engines, files or executors.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wasi_rr.exitcodes import ExitStatus

__all__ = ["CheckReport", "TraceJob", "TraceResult", "TraceStatus", "exit_status_for"]


class TraceStatus(enum.Enum):
    """How one trace's replay ended (``value`` is the word printed and written)."""

    PASSED = "passed"
    """The replay matched the journal to its end (whatever the guest's own exit status)."""
    DIVERGED = "diverged"
    """The guest no longer does what was recorded; ``message`` has the report's first lines."""
    DAMAGED = "damaged"
    """The journal is truncated, corrupt or of a newer format (``JournalError``)."""
    ERROR = "error"
    """The replay could not run: no or invalid module, unreadable file, a worker that
    died twice on it, or an internal error of wasi-rr."""
    TIMEOUT = "timeout"
    """The replay did not finish within ``--timeout`` seconds; its worker was replaced."""


@dataclass(frozen=True, slots=True)
class TraceJob:
    """One journal to replay, as it travels to a worker.

    ``path`` is the journal as the user named it (what reports show); ``location``
    is where the worker opens it (absolute) when the workers see the client's
    files, and ``data`` carries the journal's bytes when they do not.
    """

    path: str
    size: int
    location: str = ""
    data: bytes | None = None
    attempt: int = 1
    """1 for the first try; a trace whose worker died is tried again once."""


@dataclass(frozen=True, slots=True)
class TraceResult:
    """The outcome of one trace."""

    path: str
    status: TraceStatus
    seconds: float
    """Wall time of this trace in its worker (bytes to a temporary file, replay, checks)."""
    message: str = ""
    """Empty when passed; else the divergence report's first lines or the one-line error."""
    replay_seconds: float = 0.0
    """Time inside ``wasi_rr.replay.replay`` alone (``seconds`` minus the check's own cost)."""
    attempts: int = 1
    worker: str = ""
    """Which worker replayed it (``host:pid``, or the Dask worker's address)."""


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Every trace's result (sorted by path) and the run's wall time."""

    traces: tuple[TraceResult, ...]
    wall_s: float
    """From the first submission to the last result (executor start-up excluded)."""
    executor: str = "local"
    workers: int = 1
    startup_s: float = 0.0
    """Time to start the executor (a local pool's processes, a Dask cluster)."""
    retried: int = 0
    """Traces tried again because their worker died (each is still reported once)."""
    counts: Mapping[TraceStatus, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        counted = Counter(t.status for t in self.traces)
        object.__setattr__(self, "counts", {s: counted.get(s, 0) for s in TraceStatus})

    @property
    def total(self) -> int:
        return len(self.traces)

    def count(self, status: TraceStatus) -> int:
        return self.counts[status]

    @property
    def ok(self) -> bool:
        """True when every trace passed."""
        return self.counts[TraceStatus.PASSED] == self.total

    @property
    def traces_per_s(self) -> float:
        return self.total / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def exit_status(self) -> int:
        return exit_status_for(self.counts)

    def failures(self) -> list[TraceResult]:
        """The traces that did not pass, in path order."""
        return [t for t in self.traces if t.status is not TraceStatus.PASSED]

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document (docs/scale.md lists the keys)."""
        doc: dict[str, Any] = {"total": self.total}
        doc.update({s.value: n for s, n in self.counts.items()})
        doc.update({
            "wall_s": round(self.wall_s, 6),
            "traces_per_s": round(self.traces_per_s, 3),
            "startup_s": round(self.startup_s, 6),
            "retried": self.retried,
            "executor": self.executor,
            "workers": self.workers,
            "exit_status": self.exit_status,
            "traces": [_trace_dict(t) for t in self.traces],
        })
        return doc


def _trace_dict(t: TraceResult) -> dict[str, Any]:
    return {"path": t.path, "status": t.status.value, "seconds": round(t.seconds, 6),
            "message": t.message, "replay_seconds": round(t.replay_seconds, 6),
            "attempts": t.attempts, "worker": t.worker}


def exit_status_for(counts: Mapping[TraceStatus, int]) -> int:
    """The process status of a run, by precedence (README, docs/scale.md).

    A divergence is the finding a regression run exists for, so it wins (97); a
    damaged journal says the corpus itself needs attention (126); an error or a
    timeout means wasi-rr could not judge a trace (125); 0 only when all passed.
    """
    if counts.get(TraceStatus.DIVERGED, 0):
        return int(ExitStatus.DIVERGENCE)
    if counts.get(TraceStatus.DAMAGED, 0):
        return int(ExitStatus.JOURNAL_ERROR)
    if counts.get(TraceStatus.ERROR, 0) or counts.get(TraceStatus.TIMEOUT, 0):
        return int(ExitStatus.TOOL_ERROR)
    return 0


def sorted_results(results: Sequence[TraceResult]) -> tuple[TraceResult, ...]:
    """Results in path order: reports do not depend on which worker finished first."""
    return tuple(sorted(results, key=lambda t: t.path))
