"""The executor seam: where traces replay, behind ``concurrent.futures.Executor``.

``check`` only ever calls ``executor.submit(replay_batch, jobs, options)`` and
waits on the futures, so any executor works. What differs between them, and
what the scheduler needs to know, travels with the executor in ``Workers``:

- how many tasks run at once (``slots``: how much to keep in flight);
- whether the workers can open the client's paths (else journals are shipped
  as bytes);
- how to replace a worker whose replay thread the per-trace watchdog gave up
  on (``recycle``: a Dask worker is restarted; a local pool worker retires
  itself after its reply, and the pool also kills a task that overruns a hard
  deadline, for a hang the watchdog cannot see);
- how many traces to put in one task: a Dask task costs the scheduler and
  client about a millisecond of CPU, and a local pool task ~0.3 ms in this
  process, next to ~4 ms to replay a small trace on the same two cores, so
  tasks carry small batches (docs/scale.md has the measurements).

Three sources: ``local_workers`` (``LocalPool``, the default), ``dask_workers``
(a running scheduler, or a ``LocalCluster`` it starts), ``wrap_executor`` (an
executor or Dask client the caller already has).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from .discover import CheckError
from .localpool import LocalPool
from .worker import warm_up

__all__ = [
    "DASK_MAX_BATCH",
    "LOCAL_MAX_BATCH",
    "Workers",
    "cpu_count",
    "dask_workers",
    "local_workers",
    "wrap_executor",
]

DASK_MAX_BATCH = 64
"""Traces per Dask task at most: past this the per-task cost is noise, and smaller
tasks keep the end of a run balanced across workers."""
LOCAL_MAX_BATCH = 4
"""Traces per local pool task at most: 4 cuts this process's CPU per trace from
~0.32 to ~0.13 ms (1 -> 2 workers: 1.67x -> 1.9x on two cores)."""
BACKSTOP_GRACE = 10.0
"""Seconds past ``timeout x batch`` after which the local pool kills a task: the
watchdog answers first unless the replay holds the GIL in C code."""
READY_TIMEOUT = 300.0


@dataclass(slots=True)
class Workers:
    """An executor and the facts the scheduler needs about it (module docstring)."""

    executor: Executor
    name: str
    slots: int
    same_paths: bool
    max_batch: int = 1
    recycle: Callable[[str], None] | None = None
    """Replace the worker named by ``BatchOutcome.worker`` (a replay thread hangs there)."""
    startup_s: float = 0.0


def cpu_count() -> int:
    """The cores this process may use (``-j auto``): the affinity mask, not the host's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def local_workers(jobs: int | None = None, *, timeout: float | None = None) -> Iterator[Workers]:
    """A ``LocalPool`` of ``jobs`` processes (default: the cores), warm before the run."""
    count = jobs or cpu_count()
    start = time.perf_counter()
    backstop = None if timeout is None else timeout * LOCAL_MAX_BATCH + BACKSTOP_GRACE
    pool = LocalPool(count, task_timeout=backstop, initializer=warm_up)
    try:
        pool.wait_ready(READY_TIMEOUT)
        yield Workers(pool, "local", count, same_paths=True, max_batch=LOCAL_MAX_BATCH,
                      startup_s=time.perf_counter() - start)
    except BaseException:
        pool.terminate()  # Ctrl-C or an error of the run: stop the workers now
        raise
    pool.shutdown(wait=True)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise CheckError("the Dask executor needs dask.distributed: "
                         "pip install 'wasi-rr[dask]'") from None
    return distributed


@contextlib.contextmanager
def dask_workers(scheduler: str | None = None, jobs: int | None = None) -> Iterator[Workers]:
    """Workers of the Dask cluster at ``scheduler`` (``tcp://HOST:PORT``), or of a
    ``LocalCluster`` of ``jobs`` single-threaded worker processes started here."""
    distributed = _import_distributed()
    import dask

    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            # the workers' statistical profiler samples every thread's stack every
            # 10 ms: diagnosis for interactive work, a tax on a batch run
            stack.enter_context(dask.config.set({"distributed.worker.profile.enabled": False}))
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=jobs or cpu_count(), threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR,
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}))
            client = stack.enter_context(distributed.Client(cluster))
        else:
            try:
                client = stack.enter_context(distributed.Client(scheduler, timeout=30))
            except OSError as exc:
                raise CheckError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
        workers = client_workers(client)
        workers.startup_s = time.perf_counter() - start
        yield workers


def client_workers(client: Any) -> Workers:
    """``Workers`` over a connected ``distributed.Client`` (its workers warmed up)."""
    infos = client.scheduler_info().get("workers", {})
    if not infos:
        client.wait_for_workers(1, timeout=READY_TIMEOUT)
        infos = client.scheduler_info().get("workers", {})
    slots = sum(int(w.get("nthreads", 1)) for w in infos.values()) or 1
    hosts = set(client.run(socket.gethostname).values())
    client.run(warm_up)

    def recycle(address: str) -> None:
        with contextlib.suppress(Exception):  # no nanny: the worker keeps its stuck thread
            client.restart_workers([address], raise_for_error=False)

    return Workers(client.get_executor(pure=False), "dask", slots,
                   same_paths=hosts == {socket.gethostname()}, max_batch=DASK_MAX_BATCH,
                   recycle=recycle)


def wrap_executor(executor: Any, slots: int | None = None) -> Workers:
    """``Workers`` for an executor the caller made: a ``LocalPool``, any
    ``concurrent.futures.Executor`` (assumed to see this machine's files), or a
    Dask ``Client`` / ``ClientExecutor``."""
    if isinstance(executor, LocalPool):
        return Workers(executor, "local", executor.max_workers, same_paths=True,
                       max_batch=LOCAL_MAX_BATCH)
    client = _dask_client_of(executor)
    if client is not None:
        return client_workers(client)
    if not isinstance(executor, Executor):
        raise TypeError(f"not a concurrent.futures.Executor nor a Dask client: {executor!r}")
    count = slots or getattr(executor, "_max_workers", None) or cpu_count()
    return Workers(executor, type(executor).__name__, int(count), same_paths=True)


def _dask_client_of(executor: Any) -> Any:
    module = type(executor).__module__ or ""
    if not module.startswith("distributed"):
        return None
    if hasattr(executor, "get_executor") and hasattr(executor, "scheduler_info"):
        return executor  # a Client
    return getattr(executor, "_client", None)  # a ClientExecutor
