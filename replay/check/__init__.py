"""``wasi-rr check``: replay a corpus of journals on a pool of workers and report
each trace as passed, diverged, damaged, error or timeout.

Journals embed their module, so a trace replays on any worker from its bytes
alone: the local process pool by default, or a Dask cluster for more than one
machine (``pip install 'wasi-rr[dask]'``). See docs/scale.md.

    from wasi_rr.replay.check import check
    report = check(["corpus/traces"], jobs=2)
    report.ok, report.counts, report.traces[0].status

Importing this package is cheap: the engine (wasmtime), Dask and the output
libraries are imported where they are used.
"""

from __future__ import annotations

from .api import Ship, check, open_workers
from .discover import CheckError, find_journals
from .executors import Workers
from .localpool import LocalPool, TaskTimeout, WorkerDied
from .model import CheckReport, TraceJob, TraceResult, TraceStatus, exit_status_for

__all__ = [
    "CheckError",
    "CheckReport",
    "LocalPool",
    "Ship",
    "TaskTimeout",
    "TraceJob",
    "TraceResult",
    "TraceStatus",
    "WorkerDied",
    "Workers",
    "check",
    "exit_status_for",
    "find_journals",
    "open_workers",
]
