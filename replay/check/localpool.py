"""``LocalPool``: a ``concurrent.futures.Executor`` over worker processes that
replaces a worker that dies or overruns its task, instead of breaking.

Why not ``ProcessPoolExecutor``: when one of its workers dies, the whole pool is
"broken" and every pending future fails, and it has no way to stop one task
that hangs (a guest spinning in wasm cannot be interrupted inside the process:
replay engines are built without epoch checks). A corpus run needs both: the
trace whose worker died or hung is reported (or tried again), the others go on.

Design: each worker is a spawned process with its own pipe; one dispatcher
thread hands a task to an idle worker, waits on every pipe and process sentinel
at once, and enforces ``task_timeout`` by killing the worker (SIGKILL) and
starting a fresh one. A worker announces itself ready after its
``initializer`` (e.g. importing wasmtime), so start-up never counts against a
task's timeout. A task whose result has a true ``retire_worker`` attribute
retires its worker after the reply (``check``'s watchdog gave up on a replay
thread that still runs there), and a fresh one takes its place. Workers ignore
SIGINT: Ctrl-C is the parent's to handle, and the parent's ``shutdown`` stops
them. Spawned, not forked: the parent has threads (this dispatcher, a progress
bar), and forking a threaded process can deadlock the child.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

__all__ = ["LocalPool", "PoolBroken", "PoolStats", "TaskTimeout", "WorkerDied"]

_READY = "ready"
_BOOT_FAILURES = 3
"""Workers in a row that die before they are ready: the pool is broken (e.g. the
initializer cannot import wasmtime), and every task fails instead of respawning
forever."""


class WorkerDied(RuntimeError):
    """The worker process running the task exited (killed, crashed, out of memory)."""

    def __init__(self, pid: int | None, exitcode: int | None) -> None:
        how = (
            f"exit code {exitcode}"
            if exitcode is not None and exitcode >= 0
            else f"signal {-exitcode}"
            if exitcode is not None
            else "unknown cause"
        )
        super().__init__(f"worker process {pid} died ({how})")
        self.pid = pid
        self.exitcode = exitcode


class PoolBroken(RuntimeError):
    """Workers cannot start, or the dispatcher failed: no task can run."""


class TaskTimeout(TimeoutError):
    """The task ran longer than ``task_timeout``; its worker was killed and replaced."""

    def __init__(self, seconds: float, pid: int | None) -> None:
        super().__init__(f"task ran longer than {seconds:g} s; worker {pid} killed")
        self.seconds = seconds
        self.pid = pid


@dataclass(slots=True)
class _Task:
    future: Future[Any]
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass(slots=True)
class _Worker:
    process: BaseProcess
    conn: Connection
    ready: bool = False
    retiring: bool = False
    task: _Task | None = None
    started: float = 0.0


@dataclass(slots=True)
class PoolStats:
    """What happened to the pool's workers (tests and the benchmark read it)."""

    started: int = 0
    died: int = 0
    timed_out: int = 0
    retired: int = 0


def _worker_main(conn: Connection, initializer: Callable[[], Any] | None) -> None:
    """A worker's loop: run tasks until told to stop or the parent goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if initializer is not None:
        initializer()
    try:
        conn.send(_READY)
    except OSError:
        return  # the parent went away while this worker started
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if message is None:
            return
        fn, args, kwargs = message
        try:
            reply: tuple[bool, Any] = (True, fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller's future
            reply = (False, exc)
        try:
            conn.send(reply)
        except OSError:
            return  # the parent is gone
        except Exception as exc:  # e.g. an unpicklable result
            conn.send((False, RuntimeError(f"cannot send the result back: {exc!r}")))
        if _retires(reply):
            # at once: a normal interpreter exit would wait on the abandoned thread
            conn.close()
            os._exit(0)


def _retires(reply: tuple[bool, Any]) -> bool:
    """The task asked for a fresh worker after it (module docstring)."""
    ok, value = reply
    return ok and bool(getattr(value, "retire_worker", False))


class LocalPool(Executor):
    """A process pool for CPU-bound tasks that survives dying and hanging workers.

    ``task_timeout`` (seconds, None: none) bounds each task from the moment a
    ready worker receives it; a task past it fails with ``TaskTimeout``, a task
    whose worker dies fails with ``WorkerDied``; either way the worker is
    replaced and the pool goes on.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        *,
        task_timeout: float | None = None,
        initializer: Callable[[], Any] | None = None,
        mp_context: BaseContext | None = None,
    ) -> None:
        self.max_workers = max_workers or os.cpu_count() or 1
        self.task_timeout = task_timeout
        self.stats = PoolStats()
        self._initializer = initializer
        # typeshed's BaseContext has no ``Process``; every concrete context does
        self._ctx: Any = mp_context or multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._pending: deque[_Task] = deque()
        self._shutdown = False
        self._broken: BaseException | None = None
        self._closed = False
        self._boot_failures = 0
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._workers: list[_Worker] = [self._spawn() for _ in range(self.max_workers)]
        self._thread = threading.Thread(
            target=self._dispatch, name="wasi-rr LocalPool", daemon=True
        )
        self._thread.start()

    # -- the Executor interface ------------------------------------------------------

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._broken is not None:
                raise PoolBroken(str(self._broken))
            if self._shutdown:
                raise RuntimeError("cannot schedule new tasks after shutdown")
            self._pending.append(_Task(future, fn, args, kwargs))
        self._wake()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                while self._pending:
                    self._pending.popleft().future.cancel()
        self._wake()
        if wait:
            self._thread.join()

    def terminate(self) -> None:
        """Stop now (Ctrl-C): cancel the pending tasks and kill every worker; the
        running tasks fail with ``WorkerDied``. Does not wait."""
        self.shutdown(wait=False, cancel_futures=True)
        for worker in list(self._workers):
            worker.process.kill()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until every worker finished its initializer (benchmarks: measure
        warm workers only). False if ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not all(w.ready for w in list(self._workers)):
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def pids(self) -> list[int]:
        """The current workers' process ids."""
        return [w.process.pid for w in list(self._workers) if w.process.pid is not None]

    # -- the dispatcher thread ---------------------------------------------------------

    def _wake(self) -> None:
        with self._lock:  # never write to a closed (maybe reused) descriptor number
            if self._closed:
                return
            try:
                os.write(self._wake_w, b"\0")
            except BlockingIOError:
                pass  # the pipe is full: the dispatcher is awake anyway

    def _spawn(self) -> _Worker:
        """Start a worker with SIGINT blocked (inherited through exec): a Ctrl-C
        while it boots is discarded once ``_worker_main`` ignores SIGINT."""
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_worker_main,
            args=(child, self._initializer),
            name="wasi-rr check worker",
            daemon=True,
        )
        with _sigint_blocked():
            process.start()
        child.close()
        self.stats.started += 1
        return _Worker(process, parent)

    def _dispatch(self) -> None:
        try:
            while not self._finished():
                self._assign()
                self._poll()
        except BaseException as exc:  # a bug here must not hang callers
            self._break(PoolBroken(f"dispatcher failed: {type(exc).__name__}: {exc}"))
        finally:
            self._stop_workers()

    def _break(self, error: BaseException) -> None:
        """Fail every task, running or pending; refuse new ones."""
        with self._lock:
            self._broken = error
            self._shutdown = True
            pending, self._pending = list(self._pending), deque()
        running = [w.task for w in self._workers if w.task is not None]
        for worker in self._workers:
            worker.task = None
        for task in [*running, *pending]:
            if not task.future.done():
                task.future.set_exception(error)

    def _finished(self) -> bool:
        with self._lock:
            return (
                self._shutdown and not self._pending and all(w.task is None for w in self._workers)
            )

    def _assign(self) -> None:
        for worker in self._workers:
            if not worker.ready or worker.retiring or worker.task is not None:
                continue
            with self._lock:
                task = self._pending.popleft() if self._pending else None
            if task is None:
                return
            if not task.future.set_running_or_notify_cancel():
                continue
            try:
                worker.conn.send((task.fn, task.args, task.kwargs))
            except Exception as exc:  # unpicklable arguments, a broken pipe
                task.future.set_exception(exc)
                continue
            worker.task, worker.started = task, time.monotonic()

    def _poll(self) -> None:
        waitables: list[Any] = [self._wake_r]
        for w in self._workers:
            waitables += [w.conn, w.process.sentinel]
        ready = set(multiprocessing.connection.wait(waitables, self._next_deadline()))
        if self._wake_r in ready:
            os.read(self._wake_r, 4096)
        for worker in list(self._workers):
            if worker.conn in ready:
                self._receive(worker)
            elif worker.process.sentinel in ready:
                self._replace(worker, WorkerDied(worker.process.pid, _exitcode(worker)))
        self._expire()

    def _next_deadline(self) -> float | None:
        if self.task_timeout is None:
            return None
        started = [w.started for w in self._workers if w.task is not None]
        if not started:
            return None
        return max(0.0, min(started) + self.task_timeout - time.monotonic())

    def _receive(self, worker: _Worker) -> None:
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            self._replace(worker, WorkerDied(worker.process.pid, _exitcode(worker)))
            return
        except Exception as exc:  # a reply that cannot be unpickled here
            message = (False, RuntimeError(f"cannot read the worker's reply: {exc!r}"))
        if message == _READY:
            worker.ready = True
            self._boot_failures = 0
            return
        task, worker.task = worker.task, None
        worker.retiring = _retires(message)
        if task is None:
            return
        ok, value = message
        if ok:
            task.future.set_result(value)
        else:
            task.future.set_exception(value)

    def _expire(self) -> None:
        if self.task_timeout is None:
            return
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.task is None or now - worker.started < self.task_timeout:
                continue
            # The dispatcher may have been late (a busy machine, a slow join): a reply
            # or an exit that is already there wins over the deadline.
            if worker.conn.poll():
                self._receive(worker)
            elif not worker.process.is_alive():
                self._replace(worker, WorkerDied(worker.process.pid, _exitcode(worker)))
            else:
                worker.process.kill()
                self.stats.timed_out += 1
                self._replace(worker, TaskTimeout(self.task_timeout, worker.process.pid))

    def _replace(self, worker: _Worker, error: WorkerDied | TaskTimeout) -> None:
        """Fail the worker's task with ``error``; a fresh worker takes its place
        unless the pool is shutting down with nothing left to run."""
        worker.process.join(timeout=5)
        worker.conn.close()
        if worker.retiring:
            self.stats.retired += 1
        elif isinstance(error, WorkerDied):
            self.stats.died += 1
        if worker.task is not None:
            worker.task.future.set_exception(error)
            worker.task = None
        if not worker.ready:
            self._boot_failures += 1
            if self._boot_failures >= _BOOT_FAILURES:
                raise PoolBroken(
                    f"{_BOOT_FAILURES} worker processes in a row died while starting ({error})"
                )
        index = self._workers.index(worker)
        with self._lock:
            idle_shutdown = self._shutdown and not self._pending
        if idle_shutdown:
            del self._workers[index]
        else:
            self._workers[index] = self._spawn()

    def _stop_workers(self) -> None:
        for worker in self._workers:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        for worker in self._workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        with self._lock:
            self._closed = True
            os.close(self._wake_r)
            os.close(self._wake_w)


def _exitcode(worker: _Worker) -> int | None:
    worker.process.join(timeout=5)
    return worker.process.exitcode


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT blocked in this thread (where the platform has signal masks)."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not POSIX
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
