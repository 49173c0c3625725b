"""``check(paths, executor=...)``: replay a corpus of journals, return a ``CheckReport``.

The Python face of ``wasi-rr check``: discovery, the choice of executor, the
run, the report. The command line adds printing and files on top and nothing
else, so a CI script or notebook gets the same results the CLI prints.
"""

from __future__ import annotations

import contextlib
import enum
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

from .discover import CheckError, Found, find_journals
from .executors import Workers, dask_workers, local_workers, wrap_executor
from .model import CheckReport, sorted_results
from .runner import ResultCallback, Runner
from .worker import ReplayOptions

__all__ = ["Ship", "check", "open_workers"]


class Ship(enum.Enum):
    """How journals reach the workers."""

    AUTO = "auto"
    """Paths when every worker runs on this host (a local pool, a LocalCluster,
    a cluster whose workers all report this host name), else bytes."""
    PATHS = "paths"
    """Paths (resolved to absolute): the workers share this machine's filesystem."""
    BYTES = "bytes"
    """The journal's bytes travel with the task (no shared filesystem needed)."""


@contextlib.contextmanager
def open_workers(executor: Any = None, *, jobs: int | None = None,
                 scheduler: str | None = None,
                 timeout: float | None = None) -> Iterator[Workers]:
    """``Workers`` for ``executor``: None or ``"local"`` (a ``LocalPool`` of ``jobs``
    processes), ``"dask"`` (the cluster at ``scheduler``, else a ``LocalCluster``
    of ``jobs`` workers), or an executor / Dask client made by the caller (used
    as is, not shut down)."""
    if executor is None and scheduler is not None:
        executor = "dask"
    if executor is None or executor == "local":
        if scheduler is not None:
            raise CheckError("--scheduler needs --executor dask")
        with local_workers(jobs, timeout=timeout) as workers:
            yield workers
    elif executor == "dask":
        with dask_workers(scheduler, jobs) as workers:
            yield workers
    elif isinstance(executor, str):
        raise CheckError(f"unknown executor {executor!r} (local or dask)")
    else:
        yield wrap_executor(executor, jobs)


def check(paths: Iterable[str | os.PathLike[str] | Found], *, executor: Any = None,
          jobs: int | None = None, scheduler: str | None = None, verify: bool = False,
          timeout: float | None = None, ship: Ship | str = Ship.AUTO,
          batch: int | None = None, on_result: ResultCallback | None = None) -> CheckReport:
    """Replay every journal under ``paths`` and report each one's ending.

    ``paths``: files and directories (``find_journals``), or the ``Found`` list
    ``find_journals`` returned (a caller that needed the count first does not
    walk the tree twice).
    ``executor``: see ``open_workers``. ``verify``: replay with ``--verify``.
    ``timeout``: seconds per trace (``TraceStatus.TIMEOUT`` past it). ``ship``:
    a ``Ship`` or its value. ``batch``: traces per task (default: shrinking
    batches of at most 4 on a local pool, 64 on Dask; ``runner.guided_batch``).
    ``on_result`` is called with each trace's result as it arrives (in the
    caller's thread). Raises ``CheckError`` when there is nothing to check or
    no executor; a trace's failure is never raised, it is in the report.
    """
    if timeout is not None and timeout <= 0:
        raise CheckError(f"--timeout must be positive, not {timeout:g}")
    if batch is not None and batch < 1:
        raise CheckError(f"--batch must be at least 1, not {batch}")
    given = list(paths)
    found = [p for p in given if isinstance(p, Found)]
    if not given or len(found) != len(given):
        found = find_journals(p for p in given if not isinstance(p, Found))
    with open_workers(executor, jobs=jobs, scheduler=scheduler, timeout=timeout) as workers:
        mode = Ship(ship)
        ship_bytes = mode is Ship.BYTES or (mode is Ship.AUTO and not workers.same_paths)
        options = ReplayOptions(verify, timeout)
        runner = Runner(workers, options, ship_bytes, batch, on_result)
        start = time.perf_counter()
        results = runner.run(found)
        wall = time.perf_counter() - start
    return CheckReport(sorted_results(results), wall, workers.name, workers.slots,
                       workers.startup_s, runner.retried)
