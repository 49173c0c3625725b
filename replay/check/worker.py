"""What runs in a worker: replay a batch of traces and classify each ending.

This is the only module of ``check`` that calls the replay engine, and it uses
nothing but its public API (``wasi_rr.replay.replay`` and the exceptions it
raises), so the engine can be rewritten underneath. Every way a replay can end
becomes a ``TraceResult``; nothing a single trace does may raise out of here,
because an exception would fail the whole batch, and a batch shares a task
with innocent traces.

Journals arrive either as a path the worker can open or as bytes (a worker on
another machine); bytes are written to a temporary file because ``replay``
takes a path, which costs ~0.1 ms next to a replay's milliseconds.

A worker process lives for the whole run and replays many traces, so its
imports and wasmtime's compiled-module cache (keyed by the module's SHA-256,
see ``host/process.py``) stay warm: a corpus recorded from one program compiles
it once.
"""

from __future__ import annotations

import importlib
import io
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .model import TraceJob, TraceResult, TraceStatus

__all__ = ["REPORT_LINES", "BatchOutcome", "ReplayOptions", "replay_batch", "warm_up"]

REPORT_LINES = 12
"""Lines of a divergence report kept in a result (the summary, expected/actual,
the differing fields and the first history lines: enough to triage; the full
report is one ``wasi-rr replay`` away)."""


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """How each trace is replayed.

    ``timeout`` (seconds) is enforced here, per trace, whatever the executor:
    the replay runs in a thread, and past the deadline the batch stops and
    reports the trace as timed out (the rest of the batch goes back to the
    queue). The thread cannot be stopped (wasmtime offers no way to interrupt an
    engine built without epochs), so the outcome says ``poisoned``: a
    ``LocalPool`` worker then exits after its reply (``retire_worker``), a Dask
    worker is restarted by the client.
    """

    verify: bool = False
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What a worker hands back for one batch."""

    results: tuple[TraceResult, ...]
    unrun: tuple[TraceJob, ...] = ()
    """Jobs of the batch not started because a replay before them hung."""
    poisoned: bool = False
    """A replay thread is still running here: replace this worker."""
    worker: str = ""

    @property
    def retire_worker(self) -> bool:
        """``LocalPool``'s protocol: a poisoned worker exits after its reply."""
        return self.poisoned


def warm_up() -> None:
    """Import the engine (and wasmtime) before the first trace, so a worker is warm
    when it says it is ready and the first trace's time is the replay's own."""
    importlib.import_module("wasi_rr.replay.engine")


def replay_batch(jobs: Sequence[TraceJob], options: ReplayOptions) -> BatchOutcome:
    """Replay ``jobs`` in order; never raises for anything a trace does."""
    worker = worker_name()
    results: list[TraceResult] = []
    for n, job in enumerate(jobs):
        if options.timeout is None:
            results.append(replay_one(job, options.verify, worker))
            continue
        result = _replay_with_deadline(job, options, worker)
        results.append(result)
        if result.status is TraceStatus.TIMEOUT:
            return BatchOutcome(tuple(results), tuple(jobs[n + 1:]), True, worker)
    return BatchOutcome(tuple(results), (), False, worker)


def worker_name() -> str:
    """The Dask worker's address when running in one, else ``host:pid``."""
    if "distributed" in sys.modules:
        try:
            from distributed import get_worker

            return str(get_worker().address)
        except (ImportError, ValueError):
            pass
    return f"{socket.gethostname()}:{os.getpid()}"


def replay_one(job: TraceJob, verify: bool, worker: str) -> TraceResult:
    """Replay one journal (from its bytes or its location) and classify the ending."""
    start = time.perf_counter()
    if job.data is None:
        status, message, replay_s = _classify(job.location or job.path, verify)
    else:
        with tempfile.TemporaryDirectory(prefix="wasi-rr-check-") as tmp:
            local = os.path.join(tmp, "trace.wrr")
            with open(local, "wb") as f:
                f.write(job.data)
            status, message, replay_s = _classify(local, verify)
    return TraceResult(job.path, status, time.perf_counter() - start, message, replay_s,
                       job.attempt, worker)


def _classify(location: str, verify: bool) -> tuple[TraceStatus, str, float]:
    """Replay ``location``; (status, message, seconds spent inside ``replay``)."""
    from wasi_rr.errors import WasiRrError
    from wasi_rr.journal import JournalError

    # the public API (a lazily loaded name mypy cannot see exported)
    from wasi_rr.replay import replay  # type: ignore[attr-defined,unused-ignore]

    warnings: list[str] = []
    start = time.perf_counter()
    try:
        result = replay(location, verify=verify, stdout=io.BytesIO(), stderr=io.BytesIO(),
                        warn=warnings.append)
    except JournalError as exc:
        return TraceStatus.DAMAGED, str(exc), time.perf_counter() - start
    except WasiRrError as exc:
        return TraceStatus.ERROR, str(exc), time.perf_counter() - start
    except Exception as exc:  # one trace's internal error must not stop a run
        return (TraceStatus.ERROR, f"internal error: {type(exc).__name__}: {exc}",
                time.perf_counter() - start)
    elapsed = time.perf_counter() - start
    if result.divergence is not None:
        lines = result.divergence.report().splitlines()
        return TraceStatus.DIVERGED, "\n".join(lines[:REPORT_LINES]), elapsed
    return TraceStatus.PASSED, "", elapsed


@dataclass(slots=True)
class _Box:
    """Where the replay thread leaves its result."""

    result: TraceResult | None = None
    done: threading.Event = field(default_factory=threading.Event)


def _replay_with_deadline(job: TraceJob, options: ReplayOptions, worker: str) -> TraceResult:
    box = _Box()

    def run() -> None:
        try:
            box.result = replay_one(job, options.verify, worker)
        finally:
            box.done.set()

    start = time.perf_counter()
    threading.Thread(target=run, name=f"wasi-rr-check {job.path}", daemon=True).start()
    timeout = options.timeout if options.timeout is not None else 0.0
    if box.done.wait(timeout) and box.result is not None:
        return box.result
    if box.done.is_set():  # the thread died of a BaseException (e.g. MemoryError)
        return TraceResult(job.path, TraceStatus.ERROR, time.perf_counter() - start,
                           "internal error: the replay thread ended without a result",
                           attempts=job.attempt, worker=worker)
    return TraceResult(job.path, TraceStatus.TIMEOUT, time.perf_counter() - start,
                       timeout_message(timeout), attempts=job.attempt, worker=worker)


def timeout_message(timeout: float) -> str:
    return f"replay did not finish within {timeout:g} s (--timeout); its worker was replaced"
