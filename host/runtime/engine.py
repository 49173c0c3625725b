"""The one engine configuration every wasi-rr instance runs on, and its stops.

``run``, ``record``, ``replay``, ``--verify``, ``resume`` and the debugger all
compile a module for the same configuration, so one cached compilation serves
them all (a replay right after a record compiles nothing). Epoch interruption
is always on: it lets Ctrl-C (``interrupt_on_sigint``) and ``replay --timeout``
(``deadline``) stop a guest spinning in pure wasm, where no Python signal
handler ever runs. The only other configuration is ``debug=True`` (DWARF for
gdb/lldb, no optimisation), which has its own cache entries.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from wasmtime import Config, Engine

__all__ = [
    "Deadline",
    "deadline",
    "engine_variant",
    "interrupt_on_sigint",
    "make_engine",
    "wasmtime_version",
]


class _DebugEngine(Engine):
    """An engine compiled with DWARF and without optimisation (``--gdb``)."""


def make_engine(*, debug: bool = False) -> Engine:
    """The engine (see module docstring).

    ``memory_may_move = False`` is load-bearing: the adapter and the wasm
    replayer keep views over linear memory and rely on its base address never
    changing (only its size grows). Wasm32 memories fit the default 4 GiB
    reservation, so growth never needs to move them.
    """
    config = Config()
    config.memory_may_move = False
    config.epoch_interruption = True
    if debug:
        config.debug_info = True
        config.cranelift_opt_level = "none"
        return _DebugEngine(config)
    return Engine(config)


def engine_variant(engine: Engine) -> str:
    """What distinguishes this engine's compiled code in the module cache."""
    return "-debug" if isinstance(engine, _DebugEngine) else ""


@functools.cache
def wasmtime_version() -> str:
    """The installed wasmtime package's version (part of every cache key).

    Read from the name of its ``wasmtime-X.Y.Z.dist-info`` directory: importing
    ``importlib.metadata`` alone costs about as much as importing wasmtime,
    which used to be a visible share of a short run's start-up."""
    import wasmtime

    site = os.path.dirname(os.path.dirname(wasmtime.__file__))
    try:
        for entry in os.scandir(site):
            name = entry.name
            if name.startswith("wasmtime-") and name.endswith(".dist-info"):
                return name[len("wasmtime-"):-len(".dist-info")]
    except OSError:
        pass

    from importlib import metadata  # only when the scan finds nothing (see above)

    try:
        return metadata.version("wasmtime")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


@contextmanager
def interrupt_on_sigint(engine: Engine) -> Iterator[None]:
    """While active, Ctrl-C also stops wasm code that never calls the host.

    CPython's C-level SIGINT handler writes the signal number to the wakeup fd
    even while the main thread is inside wasm; a watcher thread reading it bumps
    the engine's epoch, which makes the guest trap and hands control back to
    Python, where the pending ``KeyboardInterrupt`` is then raised as usual.
    No-op outside the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    try:
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except ValueError:
        os.close(read_fd)
        os.close(write_fd)
        yield
        return
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                data = os.read(read_fd, 64)
            except OSError:
                return
            if done.is_set() or not data:
                return
            if signal.SIGINT in data:
                engine.increment_epoch()

    watcher = threading.Thread(target=watch, name="wasi-rr-sigint", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        done.set()
        try:
            os.write(write_fd, b"\0")
        except OSError:
            pass
        watcher.join(timeout=1)
        os.close(write_fd)
        os.close(read_fd)


class Deadline:
    """Whether a ``deadline`` expired (it bumped the engine's epoch)."""

    def __init__(self) -> None:
        self.expired = False


@contextmanager
def deadline(engine: Engine, seconds: float | None) -> Iterator[Deadline]:
    """Stop the guest after ``seconds`` of wall time (None: never): the engine's
    epoch is bumped, so even a guest spinning in wasm traps at once."""
    state = Deadline()
    if seconds is None:
        yield state
        return

    def expire() -> None:
        state.expired = True
        engine.increment_epoch()

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield state
    finally:
        timer.cancel()
