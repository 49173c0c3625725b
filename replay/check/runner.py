"""Scheduling a corpus over ``Workers``: largest traces first, a bounded window of
tasks in flight, and every trace accounted for exactly once.

Why largest first: the run ends when its last task does, and a big trace
started last would leave every other worker idle while it replays; started
first, the small ones fill in around it (longest-processing-time-first).
Size on disk stands in for replay time (both grow with the syscalls).

Why batches that shrink: a task costs the client (and a Dask scheduler) a
fixed amount of CPU, so a task carries several traces; guided self-scheduling
makes early tasks large and the last ones single traces, which keeps the end of
a run balanced.

Why a window instead of submitting everything: journals are read (when shipped
as bytes) only as they are submitted, so a million-trace corpus is never all in
memory, and a worker loss only puts the window's traces back in the queue.

A trace whose worker died is queued again once, alone (so in a batch only the
culprit pays); a second death is reported as ``error``. A hung trace is
``timeout``: the worker's watchdog gives up on it, the rest of its batch goes
back to the queue, and the worker is replaced (a local pool worker retires
itself, a Dask worker goes through ``Workers.recycle``). Should the watchdog
never answer, the local pool's hard deadline kills the task: its traces are
tried again alone, and the one that is killed alone is the ``timeout``.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace

from .discover import Found
from .executors import Workers
from .localpool import TaskTimeout, WorkerDied
from .model import TraceJob, TraceResult, TraceStatus
from .worker import BatchOutcome, ReplayOptions, replay_batch, timeout_message

__all__ = ["BATCH_BYTES", "MAX_ATTEMPTS", "WINDOW_PER_SLOT", "Runner", "guided_batch"]

MAX_ATTEMPTS = 2
"""Tries per trace when its worker dies: once more on a fresh worker, then ``error``."""
WINDOW_PER_SLOT = 2
"""Tasks in flight per slot: one running, one queued, so a worker never waits
for the client between two tasks."""
BATCH_BYTES = 16 << 20
"""A batch stops growing past this many journal bytes (bytes shipped per task)."""
GUIDED_DIVISOR = 4
"""Guided batches: a task takes 1/(slots x this) of what is left (module docstring)."""

ResultCallback = Callable[[TraceResult], None]


def guided_batch(remaining: int, slots: int, max_batch: int) -> int:
    """Traces for the next task: a share of what is left, at most ``max_batch``.

    Guided self-scheduling: early tasks are large (few tasks, little per-task cost
    for the client and the scheduler), and they shrink as the queue empties, so
    the last tasks are single traces and no worker is left with a long batch
    while the others idle."""
    share = -(-remaining // max(1, slots * GUIDED_DIVISOR))  # ceiling
    return max(1, min(max_batch, share))


def is_worker_lost(exc: BaseException) -> bool:
    """A failure of the worker, not of the trace: worth another try elsewhere."""
    return isinstance(exc, (WorkerDied, BrokenProcessPool)) or \
        type(exc).__name__ == "KilledWorker"  # distributed.scheduler.KilledWorker


@dataclass(slots=True)
class Runner:
    """Replays jobs on ``workers``; ``run`` returns one result per job."""

    workers: Workers
    options: ReplayOptions
    ship_bytes: bool
    batch: int | None = None
    """Traces per task; None: ``guided_batch`` up to ``workers.max_batch``."""
    on_result: ResultCallback | None = None
    retried: int = 0
    """Traces put back in the queue after their worker died."""
    _results: list[TraceResult] = field(default_factory=list)
    _queue: deque[TraceJob] = field(default_factory=deque)

    def run(self, found: Sequence[Found]) -> list[TraceResult]:
        ordered = sorted(found, key=lambda f: (-f.size, str(f.path)))
        self._queue.extend(TraceJob(str(f.path), f.size, os.path.abspath(f.path))
                           for f in ordered)
        in_flight: dict[Future[BatchOutcome], tuple[TraceJob, ...]] = {}
        window = max(1, self.workers.slots * WINDOW_PER_SLOT)
        while self._queue or in_flight:
            while self._queue and len(in_flight) < window:
                jobs = self._take()
                future = self._submit(jobs)
                if future is not None:
                    in_flight[future] = jobs
            if not in_flight:
                continue
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for future in done:
                self._settle(future, in_flight.pop(future))
        return self._results

    def _take(self) -> tuple[TraceJob, ...]:
        """The next task's jobs: a retried trace alone, else a batch."""
        limit = self.batch or guided_batch(len(self._queue), self.workers.slots,
                                           self.workers.max_batch)
        first = self._queue.popleft()
        jobs, size = [first], first.size
        if first.attempt > 1:
            return (first,)
        while (self._queue and len(jobs) < limit and self._queue[0].attempt == 1
               and size + self._queue[0].size <= BATCH_BYTES):
            job = self._queue.popleft()
            jobs.append(job)
            size += job.size
        return tuple(jobs)

    def _submit(self, jobs: tuple[TraceJob, ...]) -> Future[BatchOutcome] | None:
        """Submit a task; a journal that cannot be read to ship is its own ``error``."""
        if self.ship_bytes:
            loaded = []
            for job in jobs:
                try:
                    with open(job.location, "rb") as f:
                        loaded.append(replace(job, data=f.read()))
                except OSError as exc:
                    self._finish(TraceResult(job.path, TraceStatus.ERROR, 0.0,
                                             f"cannot read {job.path}: {exc.strerror or exc}",
                                             attempts=job.attempt))
            jobs = tuple(loaded)
            if not jobs:
                return None
        try:
            return self.workers.executor.submit(replay_batch, jobs, self.options)
        except Exception as exc:  # e.g. the pool broke: report, do not crash
            self._fail(jobs, f"cannot submit: {type(exc).__name__}: {exc}")
            return None

    def _settle(self, future: Future[BatchOutcome], jobs: tuple[TraceJob, ...]) -> None:
        try:
            outcome = future.result()
        except TaskTimeout as exc:  # the local pool's backstop killed the task
            if len(jobs) > 1:
                self._retry(jobs, exc)  # alone, the hung trace is found out
            else:
                self._finish(TraceResult(jobs[0].path, TraceStatus.TIMEOUT, exc.seconds,
                                         timeout_message(exc.seconds),
                                         attempts=jobs[0].attempt, worker=f"pid {exc.pid}"))
        except (Exception, CancelledError) as exc:  # reported per trace
            if is_worker_lost(exc):
                self._retry(jobs, exc)
            else:
                self._fail(jobs, f"{type(exc).__name__}: {exc}")
        else:
            for result in outcome.results:
                self._finish(result)
            self._queue.extendleft(reversed([replace(j, data=None) for j in outcome.unrun]))
            if outcome.poisoned and self.workers.recycle is not None:
                with contextlib.suppress(Exception):
                    self.workers.recycle(outcome.worker)

    def _retry(self, jobs: tuple[TraceJob, ...], exc: BaseException) -> None:
        for job in reversed(jobs):
            if job.attempt < MAX_ATTEMPTS:
                self.retried += 1
                self._queue.appendleft(replace(job, data=None, attempt=job.attempt + 1))
            else:
                self._fail((job,), f"its worker died {job.attempt} times while replaying "
                                   f"it (last: {type(exc).__name__}: {exc})")

    def _fail(self, jobs: Sequence[TraceJob], message: str) -> None:
        for job in jobs:
            self._finish(TraceResult(job.path, TraceStatus.ERROR, 0.0, message,
                                     attempts=job.attempt))

    def _finish(self, result: TraceResult) -> None:
        self._results.append(result)
        if self.on_result is not None:
            self.on_result(result)
