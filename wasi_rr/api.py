"""The public Python API: ``run(RunConfig(...)) -> RunResult``.

This is what the CLI's ``run`` does and what differential tests call. The
pieces are exposed separately (``build_kernel``, ``load_module``) so that
``record``/``resume`` can assemble the same process with other backends or
observers without re-implementing configuration handling.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from wasmtime import Engine, Module, WasmtimeError, wat2wasm

from wasi_rr.host.boundary.adapter import HostAdapter, Recorder
from wasi_rr.host.kernel.hostdir import MountError, MountMode
from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.kernel.sources import Clock, RandomSource
from wasi_rr.host.kernel.wasifs import MountSpec, WasiFs
from wasi_rr.host.runtime.policy import SnapshotPolicy, binary_needs_procs
from wasi_rr.host.runtime.process import (
    LinkHooks,
    ModuleBytes,
    ModuleCache,
    Outcome,
    Process,
    compile_module,
    default_cache_dir,
    interrupt_on_sigint,
    make_engine,
    read_module_file,
)

from .errors import ConfigError, ModuleError

if TYPE_CHECKING:  # the group and asyncify machinery load only when a run needs them
    from wasi_rr.host.runtime.instrument import InstrumentedModule
    from wasi_rr.host.runtime.procs import ProcessEvents, ProcessGroup

__all__ = [
    "DirMount",
    "MountMode",
    "RunConfig",
    "RunResult",
    "SnapshotPolicy",
    "build_kernel",
    "instrument_module",
    "load_module",
    "make_group",
    "module_bytes",
    "needs_group",
    "refuse_uninstrumentable",
    "run",
    "run_group",
]


@dataclass(frozen=True)
class DirMount:
    """A host directory preopened in the guest at ``guest``."""

    host: Path
    guest: str
    mode: MountMode = MountMode.WRITE_THROUGH


@dataclass
class RunConfig:
    """Everything that defines a run. ``args`` is argv[1:]; argv[0] is
    ``argv0`` or, by default, the module path as given (wasmtime's choice)."""

    module: Path
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    dirs: list[DirMount] = field(default_factory=list)
    tmpfs: list[str] = field(default_factory=list)
    stdin: BinaryIO | None = None
    """None: the process's real stdin (binary buffer)."""
    stdout: BinaryIO | None = None
    """None: the process's real stdout (binary buffer)."""
    stderr: BinaryIO | None = None
    """None: the process's real stderr (binary buffer)."""
    argv0: str | None = None
    trap_unknown_imports: bool = False
    """Define imports wasi-rr does not provide as functions that trap when
    called, instead of refusing to instantiate."""
    recorder: Recorder | None = None
    """Journals every call (``wasi_rr.record.JournalRecorder``); None: plain run."""
    clock: Clock | None = None
    random: RandomSource | None = None
    cache_dir: Path | None = None
    """Compiled-module cache; None = ``host.process.default_cache_dir()``."""
    use_cache: bool = True
    interruptible: bool = False
    """Let Ctrl-C (SIGINT) stop a guest even inside pure wasm loops (the CLI sets
    it; it installs a SIGINT wakeup watcher, so only from the main thread)."""
    wasm: ModuleBytes | None = None
    """The module's bytes if already read (``record`` reads and hashes them once)."""
    snapshots: SnapshotPolicy = field(default_factory=SnapshotPolicy)
    """When to snapshot (empty: never). Any trigger makes the run use the
    asyncify-instrumented module (docs/snapshots.md)."""
    process_events: ProcessEvents | None = None
    """Receives snapshots, forks and process switches (the journal recorder)."""


@dataclass(frozen=True)
class RunResult:
    """How the guest ended."""

    exit_code: int
    """The guest's exit status (0 when ``_start`` returned); with a trap, the
    status the CLI exits with (``ExitStatus.TRAP``)."""
    trap: str | None = None
    """None, or the one-line trap message."""
    host_error: BaseException | None = None
    """When the trap is a wasi-rr bug: the exception behind it (for debugging)."""


def build_fs(config: RunConfig) -> WasiFs:
    """The guest's filesystem: ``dirs`` then ``tmpfs`` mounts, preopened in that order."""
    specs = [MountSpec(d.guest, host=Path(d.host), mode=d.mode) for d in config.dirs]
    specs += [MountSpec.tmpfs(guest) for guest in config.tmpfs]
    try:
        return WasiFs(specs)
    except MountError as e:
        raise ConfigError(str(e)) from None


def build_kernel(config: RunConfig, fs: WasiFs | None = None) -> WasiKernel:
    """A live kernel for ``config`` (real stdio streams unless given)."""
    argv0 = config.argv0 if config.argv0 is not None else str(config.module)
    return WasiKernel(
        args=[argv0, *config.args],
        env=dict(config.env),
        fs=fs if fs is not None else build_fs(config),
        clock=config.clock,
        random=config.random,
        stdin=config.stdin if config.stdin is not None else sys.stdin.buffer,
        stdout=config.stdout if config.stdout is not None else sys.stdout.buffer,
        stderr=config.stderr if config.stderr is not None else sys.stderr.buffer,
    )


def module_bytes(config: RunConfig) -> ModuleBytes:
    """``config.wasm``, or the bytes of ``config.module`` (``ModuleError``)."""
    if config.wasm is not None:
        return config.wasm
    return ModuleBytes(read_module_file(Path(config.module)))


def load_module(config: RunConfig, engine: Engine) -> tuple[bytes, Module]:
    """Read and compile ``config.module`` (``ModuleError`` if that fails)."""
    wasm = module_bytes(config)
    return wasm.data, _compile(config, engine, wasm)


def _compile(config: RunConfig, engine: Engine, wasm: ModuleBytes) -> Module:
    cache = None
    if config.use_cache:
        cache = ModuleCache(config.cache_dir if config.cache_dir is not None
                            else default_cache_dir())
    return compile_module(engine, wasm, name=str(config.module), cache=cache)


def _binary(wasm: bytes) -> bytes:
    """The binary module: ``wasm`` itself, or its WAT text assembled (Binaryen
    and the section scans read binaries only). ``ValueError`` with wasmtime's
    message when it is neither."""
    if wasm.startswith(b"\0asm"):
        return wasm
    try:
        return bytes(wat2wasm(wasm.decode("utf-8")))
    except (UnicodeDecodeError, WasmtimeError) as e:
        raise ValueError(str(e)) from None


def needs_group(config: RunConfig, wasm: bytes) -> bool:
    """Whether the run goes through a process group (the instrumented module):
    snapshots are requested, or the module imports WASIX ``proc_*``. Decided
    from the bytes, so a group run never compiles the plain module."""
    if config.snapshots:
        return True
    try:
        return binary_needs_procs(_binary(wasm))
    except ValueError:
        return False  # not a module: compiling it says so


def refuse_uninstrumentable(config: RunConfig, wasm: bytes) -> None:
    """``ModuleError`` (one line, in milliseconds) when the module is invalid or
    asyncify cannot take it: ``record`` calls it before it opens the journal,
    so nothing is compiled or written first."""
    from wasi_rr.host.runtime.instrument import InstrumentationError, check_instrumentable

    try:
        check_instrumentable(_binary(wasm))
    except ValueError as e:
        raise ModuleError(f"invalid module {config.module}: {e}") from None
    except InstrumentationError as e:
        raise ModuleError(f"{config.module}: {e}") from None


def instrument_module(wasm: bytes, config: RunConfig, engine: Engine
                      ) -> tuple[InstrumentedModule, Module]:
    """The asyncify-instrumented module (cached on disk) and its compiled form.

    ``ModuleError`` (one line) when the module cannot be instrumented; the
    refusal comes before anything is compiled."""
    from wasi_rr.host.runtime.instrument import InstrumentationError, instrument

    cache_root = config.cache_dir if config.cache_dir is not None else default_cache_dir()
    try:
        wasm = _binary(wasm)
    except ValueError as e:
        raise ModuleError(f"invalid module {config.module}: {e}") from None
    try:  # instrument() refuses first, in milliseconds (asyncify_scan)
        im = instrument(wasm, cache_dir=cache_root / "asyncify", use_cache=config.use_cache)
    except InstrumentationError as e:
        raise ModuleError(f"{config.module}: {e}") from None
    cache = ModuleCache(cache_root) if config.use_cache else None
    return im, compile_module(engine, im.wasm, name=str(config.module), cache=cache)


def make_group(config: RunConfig, engine: Engine, wasm: bytes) -> ProcessGroup:
    """A process group running ``config``'s module instrumented."""
    from wasi_rr.host.runtime.procs import ProcessGroup

    im, module = instrument_module(wasm, config, engine)
    return ProcessGroup(engine, im, module, policy=config.snapshots,
                        events=config.process_events,
                        recorder=config.recorder,
                        trap_unknown_imports=config.trap_unknown_imports,
                        name=str(config.module))


def run_group(config: RunConfig, engine: Engine, group: ProcessGroup,
              kernel: WasiKernel) -> RunResult:
    """Run a group whose first process is already spawned on ``kernel``."""
    sigint = interrupt_on_sigint(engine) if config.interruptible else nullcontext()
    try:
        with sigint:
            outcome: Outcome = group.run()
    finally:
        _flush(config.stdout if config.stdout is not None else sys.stdout.buffer)
        _flush(config.stderr if config.stderr is not None else sys.stderr.buffer)
        for proc in group.procs.values():
            proc.kernel.fs.close()
        kernel.fs.close()
        kernel.fs.close_mounts()
    return RunResult(outcome.exit_code, outcome.trap, outcome.host_error)


def run(config: RunConfig) -> RunResult:
    """Run a WASI command to completion.

    Raises ``WasiRrError`` subclasses for the user's mistakes (unreadable or
    invalid module, bad mount, unknown imports); a guest trap is a result.
    Snapshots (``config.snapshots``) and WASIX processes run the module
    asyncify-instrumented in a ``ProcessGroup``; everything else takes the
    adapter's fast path.
    """
    engine = make_engine()
    wasm = module_bytes(config)
    if needs_group(config, wasm.data):
        group = make_group(config, engine, wasm.data)
        kernel = build_kernel(config)
        try:
            group.spawn(kernel)
        except BaseException:
            kernel.fs.close()
            kernel.fs.close_mounts()
            raise
        return run_group(config, engine, group, kernel)
    module = _compile(config, engine, wasm)
    sigint = interrupt_on_sigint(engine) if config.interruptible else nullcontext()
    kernel = build_kernel(config)
    try:
        adapter = HostAdapter(kernel, recorder=config.recorder,
                              trap_unknown_imports=config.trap_unknown_imports)
        hooks = _link_hooks(config, adapter, module)
        process = Process(engine, module, adapter, name=str(config.module), hooks=hooks)
        with sigint:
            outcome = process.run()
    finally:
        _flush(config.stdout if config.stdout is not None else sys.stdout.buffer)
        _flush(config.stderr if config.stderr is not None else sys.stderr.buffer)
        kernel.fs.close()
        kernel.fs.close_mounts()
    return RunResult(outcome.exit_code, outcome.trap, outcome.host_error)


def _link_hooks(config: RunConfig, adapter: HostAdapter, module: Module) -> LinkHooks | None:
    """The recorder's wasm half, when it has one (``wasi_rr.record.wasmtape``)."""
    make = getattr(config.recorder, "link_hooks", None)
    if make is None:
        return None
    cache = None
    if config.use_cache:
        cache = ModuleCache(config.cache_dir if config.cache_dir is not None
                            else default_cache_dir())
    hooks: LinkHooks | None = make(adapter, module, cache)
    return hooks


def _flush(stream: BinaryIO) -> None:
    try:
        stream.flush()
    except (OSError, ValueError):
        pass
