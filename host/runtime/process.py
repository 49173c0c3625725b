"""Process lifecycle: compile (with a cache), link, instantiate, run ``_start``,
and translate how it ended into an exit status.

Who is at fault decides the shape of a failure: a module that cannot be
compiled or is not a WASI command is the user's (``ModuleError``, one line with
wasmtime's message); a guest trap is an outcome (``Outcome.trap``); an
exception from the adapter's seams that asked to abort (``GuestAbort``,
``KeyboardInterrupt``) propagates to the caller.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Final

from wasmtime import Config, Engine, Func, Linker, Module, Store, Trap, WasmtimeError

from wasi_rr.errors import ModuleError
from wasi_rr.exitcodes import ExitStatus
from wasi_rr.host.boundary.adapter import HostAdapter, StopKind

_CACHE_MAGIC: Final = b"WRRC"
"""Cache file = magic + sha256(payload) + ``Module.serialize()`` payload."""

CACHE_MIN_SIZE: Final = 4 * 1024
"""Modules smaller than this (hand-written WAT, tiny tests) compile in about a
millisecond; caching them would only litter the cache directory. Anything real
is worth caching: a 22 KiB C guest takes 23 ms to compile and 0.2 ms to
deserialize (measured with wasmtime 50 on the 2-core dev machine), and that
start-up cost used to be most of a short run, record or replay."""


def make_engine(*, interruptible: bool = False) -> Engine:
    """The engine every wasi-rr instance runs on.

    ``memory_may_move = False`` is load-bearing: the adapter keeps a view over
    linear memory and relies on its base address never changing (only its size
    grows). Wasm32 memories fit the default 4 GiB reservation, so growth never
    needs to move them.

    ``interruptible`` compiles epoch checks into the guest so that
    ``interrupt_on_sigint`` can stop a guest spinning without syscalls (a
    Python signal handler alone never runs while wasm code runs). Stores on
    such an engine need a deadline: ``Process`` sets one (``engine_is_interruptible``).
    """
    config = Config()
    config.memory_may_move = False
    if interruptible:
        config.epoch_interruption = True
        return InterruptibleEngine(config)
    return Engine(config)


class InterruptibleEngine(Engine):
    """An engine compiled with epoch checks (wasmtime cannot be asked whether
    a config enabled them, so the type says it)."""


def engine_is_interruptible(engine: Engine) -> bool:
    return isinstance(engine, InterruptibleEngine)


@contextmanager
def interrupt_on_sigint(engine: Engine) -> Iterator[None]:
    """While active, Ctrl-C also stops wasm code that never calls the host.

    CPython's C-level SIGINT handler writes the signal number to the wakeup fd
    even while the main thread is inside wasm; a watcher thread reading it bumps
    the engine's epoch, which makes the guest trap and hands control back to
    Python, where the pending ``KeyboardInterrupt`` is then raised as usual.
    No-op outside the main thread or for a non-interruptible engine.
    """
    if (not engine_is_interruptible(engine)
            or threading.current_thread() is not threading.main_thread()):
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


@functools.cache
def wasmtime_version() -> str:
    """The installed wasmtime package's version (part of every cache key).

    Cached: ``importlib.metadata`` parses the package's metadata file, ~1.2 ms,
    which used to be most of a short run's start-up."""
    try:
        return version("wasmtime")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def default_cache_dir() -> Path:
    """``$WASI_RR_CACHE_DIR``, else ``$XDG_CACHE_HOME/wasi-rr``, else ``~/.cache/wasi-rr``."""
    explicit = os.environ.get("WASI_RR_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "wasi-rr"


@dataclass(slots=True)
class ModuleCache:
    """Compiled modules keyed by module sha256 and wasmtime version.

    Every failure (unwritable directory, stale or corrupt entry) only costs a
    recompilation: caching is an optimisation, never a reason to fail a run.
    """

    directory: Path
    min_size: int = CACHE_MIN_SIZE

    def path_for(self, wasm: bytes, engine: Engine | None = None) -> Path:
        digest = hashlib.sha256(wasm).hexdigest()
        variant = "-epoch" if engine is not None and engine_is_interruptible(engine) else ""
        return self.directory / f"{digest}-wasmtime{wasmtime_version()}{variant}.cwasm"

    def load(self, engine: Engine, wasm: bytes) -> Module | None:
        if len(wasm) < self.min_size:
            return None
        try:
            data = self.path_for(wasm, engine).read_bytes()
        except OSError:
            return None
        # Deserializing is only safe for artifacts wasmtime itself produced:
        # verify our own checksum first, so a truncated or damaged file is a
        # cache miss, never undefined behaviour.
        header, digest, payload = data[:4], data[4:36], data[36:]
        if header != _CACHE_MAGIC or hashlib.sha256(payload).digest() != digest:
            return None
        try:
            return Module.deserialize(engine, payload)
        except (WasmtimeError, ValueError, TypeError):
            return None

    def store(self, engine: Engine, wasm: bytes, module: Module) -> None:
        if len(wasm) < self.min_size:
            return
        target = self.path_for(wasm, engine)
        try:
            payload = module.serialize()
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".cwasm")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(_CACHE_MAGIC + hashlib.sha256(payload).digest() + payload)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except (OSError, WasmtimeError):
            return


def compile_module(engine: Engine, wasm: bytes, *, name: str = "module",
                   cache: ModuleCache | None = None) -> Module:
    """Compile ``wasm`` (binary, or WAT text) or raise ``ModuleError``."""
    if cache is not None:
        cached = cache.load(engine, wasm)
        if cached is not None:
            return cached
    try:
        module = Module(engine, wasm)
    except WasmtimeError as e:
        detail = _error_chain(str(e))
        if not wasm.startswith(b"\0asm"):
            detail = f"not a WebAssembly binary (no \\0asm magic) nor WAT text ({detail})"
        raise ModuleError(f"invalid module {name}: {detail}") from None
    if cache is not None:
        cache.store(engine, wasm, module)
    return module


def read_module_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ModuleError(f"cannot read module {path}: {e.strerror or e}") from None


def check_command(module: Module, name: str = "module") -> None:
    """A WASI command exports ``_start`` and its ``memory``."""
    exports = {e.name for e in module.exports}
    missing = [n for n in ("_start", "memory") if n not in exports]
    if missing:
        raise ModuleError(f"{name} is not a WASI command: no {' or '.join(repr(m) for m in missing)}"
                          " export")


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended: ``exit_code`` (0 when ``_start`` returned), or a trap."""

    exit_code: int
    trap: str | None = None
    host_error: BaseException | None = None


class Process:
    """One guest instance: a store, its linker, its adapter."""

    def __init__(self, engine: Engine, module: Module, adapter: HostAdapter,
                 *, name: str = "module") -> None:
        check_command(module, name)
        self.engine = engine
        self.module = module
        self.adapter = adapter
        self.store = Store(engine)
        if engine_is_interruptible(engine):
            self.store.set_epoch_deadline(1)
        self.linker = Linker(engine)
        adapter.link(self.linker, module)
        self._before_instantiate()
        self._early: Outcome | None = None
        """Set when the module's start function already ended the run."""
        try:
            self.instance = self.linker.instantiate(self.store, module)
        except Trap as e:
            # the guest's own start function trapped or called proc_exit
            self._early = self._outcome_of_trap(e)
            return
        except WasmtimeError as e:
            if adapter.stop is not None:
                self._early = self._outcome_of_trap(e)
                return
            raise ModuleError(f"cannot instantiate {name}: {_error_chain(str(e))}") from None
        adapter.bind(self.store, self.instance)
        self._after_instantiate()
        start = self.instance.exports(self.store).get("_start")
        if not isinstance(start, Func):
            raise ModuleError(f"{name} is not a WASI command: '_start' is not a function")
        self._start = start

    def _after_instantiate(self) -> None:
        """Hook for subclasses: runs once the guest is instantiated and bound
        (replay links its wasm replayer to the guest's memory here)."""

    def _before_instantiate(self) -> None:
        """Hook for subclasses: define more on ``self.linker`` (in ``self.store``)
        after the adapter linked the imports, before instantiation (replay's
        shim shadows some of them). Does nothing here."""

    def run(self) -> Outcome:
        """Run ``_start`` to its end (may be called again, e.g. after an
        asyncify unwind returned from ``_start``)."""
        if self._early is not None:
            return self._early
        self.adapter.stop = None
        try:
            self._start(self.store)
        except (Trap, WasmtimeError) as e:
            return self._outcome_of_trap(e)
        return Outcome(0)

    def _outcome_of_trap(self, error: Exception) -> Outcome:
        stop = self.adapter.stop
        if stop is None:
            return Outcome(int(ExitStatus.TRAP), trap=_trap_message(error))
        if stop.kind is StopKind.EXIT:
            return Outcome(stop.exit_code)
        if stop.kind is StopKind.ABORT:
            assert stop.exception is not None
            raise stop.exception
        return Outcome(int(ExitStatus.TRAP), trap=stop.message, host_error=stop.exception)


def _trap_message(error: Exception) -> str:
    """The cause of a trap on one line, without wasmtime's backtrace:
    ``error while executing at wasm backtrace: ... Caused by: wasm trap: X`` -> ``X``."""
    text = getattr(error, "message", None) or str(error)
    if "Caused by:" in text:
        cause = text.split("Caused by:", 1)[1]
        lines = [re.sub(r"^\d+:\s*", "", line.strip())
                 for line in cause.strip().splitlines() if line.strip()]
        *details, root = lines or [text.strip()]
        root = root.removeprefix("wasm trap: ")
        return f"{root} ({'; '.join(details)})" if details else root
    return _one_line(text)


def _error_chain(text: str) -> str:
    """wasmtime's ``msg\n\nCaused by:\n    cause`` as ``msg: cause`` on one line."""
    lines = [line.strip() for line in text.strip().splitlines()]
    return ": ".join(line for line in lines if line and line != "Caused by:")


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else text.strip()
