"""``replay(journal)``: re-drive a guest from its journal alone.

Steps: open the journal, take the embedded module (or ``module=``; a different
SHA-256 is reported as a warning and the replay goes on, to show where the new
build behaves differently), instantiate it on the same engine configuration
and compiled-module cache as ``run``/``record`` (so a replay right after a
record compiles nothing), answer every import from the tape (the wasm
replayer for most calls, ``answer.Answerer`` for the rest), run ``_start``,
then check the ending: the guest must finish the way the journal says (same
exit status, or a trap with the same message) and must have consumed every
recorded syscall.

Who is at fault decides the shape of a failure: a divergence is a *result*
(``ReplayResult.divergence``); a journal that is truncated or corrupt raises
the journal's ``JournalError`` (the CLI: one line, status 126); a missing or
invalid module raises ``ReplayError`` (a ``WasiRrError``, status 125).
Journals with several processes (WASIX fork) and replays from a snapshot run
on the asyncify-instrumented module (``replay.procs``); ``replay`` picks that
path itself.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from wasmtime import Engine, Module

from wasi_rr.errors import WasiRrError
from wasi_rr.exitcodes import ExitStatus
from wasi_rr.host.boundary.adapter import CallbackSource, HostAdapter
from wasi_rr.host.runtime.policy import needs_procs
from wasi_rr.host.runtime.process import (
    ModuleBytes,
    ModuleCache,
    Outcome,
    Process,
    compile_module,
    deadline,
    default_cache_dir,
    interrupt_on_sigint,
    make_engine,
    read_module_file,
)
from wasi_rr.journal import ExitEvent, JournalReader, TrapEvent, open_journal

from .answer import Answerer, JournalAbort, RecordingEnded, Verifier
from .backtrace import frames_of
from .divergence import (
    Divergence,
    DivergenceError,
    DivergenceKind,
    describe_ending,
    format_entry,
)
from .output import Output
from .tape import Tape

if TYPE_CHECKING:
    from .replayer import Replayer

__all__ = [
    "ReplayError",
    "ReplayOptions",
    "ReplayResult",
    "ReplaySetup",
    "ReplayTimeout",
    "describe_ending",
    "replay",
    "setup_one",
]


class ReplayError(WasiRrError):
    """The replay cannot start: no module to run, unreadable/invalid module, or a
    journal that needs something this replay mode lacks."""


class ReplayTimeout(WasiRrError):
    """``timeout`` expired: the guest was stopped (a runaway or a hang)."""

    status = ExitStatus.TIMEOUT


@dataclass(slots=True)
class ReplayResult:
    """How a replay ended.

    ``exit_code`` is the status the CLI exits with: the recorded guest's status
    when the replay matched, ``ExitStatus.TRAP`` for a (matching) trap,
    ``ExitStatus.DIVERGENCE`` when ``divergence`` is set.
    """

    exit_code: int
    divergence: Divergence | None = None
    entries_consumed: int = 0
    """Syscalls replayed (equal to the journal's count when it matched)."""
    trap: str | None = None
    warnings: list[str] = field(default_factory=list)
    verified: int = 0
    """``verify=True``: calls re-executed on the rebuilt kernel and found equal."""
    python_entries: int = 0
    """Calls answered in Python (the rest were answered by the wasm replayer)."""

    @property
    def ok(self) -> bool:
        return self.divergence is None


@dataclass(slots=True)
class ReplayOptions:
    """How to replay (``replay``'s keyword arguments, bundled for the helpers)."""

    module: str | os.PathLike[str] | None = None
    verify: bool = False
    fast: bool = True
    """Let the generated wasm replayer answer calls (False: every call in Python)."""
    use_cache: bool = True
    from_snapshot: int | None = None
    interruptible: bool = False
    timeout: float | None = None


def describe_outcome(outcome: Outcome) -> str:
    return f"trap: {outcome.trap}" if outcome.trap is not None \
        else f"exit status {outcome.exit_code}"


class LinkHooks(Protocol):
    """What the wasm replayer does around the guest's instantiation."""

    def before_instantiate(self, process: Process) -> None: ...

    def after_instantiate(self, process: Process) -> None: ...


class ReplayProcess(Process):
    """``Process`` that keeps the guest's backtrace of a divergence (wasmtime's
    trap frames are only reachable while the trap object is at hand) and lets
    the wasm replayer link itself before instantiation."""

    def __init__(self, engine: Engine, module: Module, adapter: HostAdapter, *,
                 name: str = "module",
                 linker_hooks: LinkHooks | None = None) -> None:
        self._hooks = linker_hooks
        super().__init__(engine, module, adapter, name=name)

    def _before_instantiate(self) -> None:
        if self._hooks is not None:
            self._hooks.before_instantiate(self)

    def _after_instantiate(self) -> None:
        if self._hooks is not None:
            self._hooks.after_instantiate(self)

    def _outcome_of_trap(self, error: Exception) -> Outcome:
        stop = self.adapter.stop
        if stop is not None and isinstance(stop.exception, DivergenceError):
            stop.exception.divergence.backtrace = frames_of(error)
        return super()._outcome_of_trap(error)


def load_journal_module(reader: JournalReader, module: str | os.PathLike[str] | None,
                        warn: Callable[[str], None]) -> tuple[bytes, str]:
    """The module bytes to replay and a name for messages."""
    recorded = reader.header.module_sha256
    if module is not None:
        wasm = read_module_file(Path(module))
        sha = hashlib.sha256(wasm).hexdigest()
        if recorded and sha != recorded:
            warn(f"wasi-rr: warning: module {module} (sha256 {sha[:16]}) is not the recorded "
                 f"module (sha256 {recorded[:16]}); replaying it to show where it diverges")
        return wasm, str(module)
    wasm_or_none = reader.module_bytes()
    if wasm_or_none is None:
        raise ReplayError(f"journal {reader.path} does not embed its module (sha256 "
                          f"{recorded[:16]}...); pass --module PATH")
    return wasm_or_none, reader.header.module_name or "embedded module"


def replay(journal_path: str | os.PathLike[str], *, module: str | os.PathLike[str] | None = None,
           verify: bool = False, stdout: BinaryIO | None = None,
           stderr: BinaryIO | None = None, warn: Callable[[str], None] | None = None,
           use_cache: bool = True, fast: bool = True,
           from_snapshot: int | None = None, interruptible: bool = False,
           timeout: float | None = None) -> ReplayResult:
    """Replay ``journal_path``; see the module docstring and docs/replay.md.

    ``stdout``/``stderr`` receive the reproduced guest output (None: the
    process's real streams). ``warn`` receives one-line warnings (default:
    printed on the real stderr). ``verify=True`` also re-executes every call on
    a kernel rebuilt from the journal (``replay.verify``). ``fast=False``
    answers every call in Python (rules the wasm replayer out).
    ``interruptible``: Ctrl-C stops even a guest spinning in wasm (the CLI; main
    thread only). ``timeout``: stop after that many seconds of wall time
    (``ReplayTimeout``).
    """
    warnings: list[str] = []

    def _warn(message: str) -> None:
        warnings.append(message)
        if warn is not None:
            warn(message)
        else:
            print(message, file=sys.stderr, flush=True)

    opts = ReplayOptions(module, verify, fast, use_cache, from_snapshot, interruptible, timeout)
    output = Output(stdout if stdout is not None else sys.stdout.buffer,
                    stderr if stderr is not None else sys.stderr.buffer)
    try:
        opened = open_journal(journal_path)
    except OSError as exc:
        raise ReplayError(f"cannot open journal {journal_path}: {exc.strerror or exc}") from None
    with opened as reader:
        if from_snapshot is None and reader.header.meta.get("resumed_from_snapshot") is not None:
            from_snapshot = opts.from_snapshot = 1  # written by `resume -o`: it starts there
        if verify and from_snapshot is not None:
            raise ReplayError(_VERIFY_FROM_SNAPSHOT)
        engine = make_engine()
        cache = ModuleCache(default_cache_dir()) if use_cache else None
        compiled, name = _compiled(reader, engine, cache, module, _warn)
        if from_snapshot is not None or needs_procs(compiled):
            from .procs import replay_group

            wasm, _ = load_journal_module(reader, module, _warn)
            result = replay_group(reader, wasm, engine, output, opts)
        else:
            result = _replay_one(reader, engine, compiled, name, output, opts)
    result.warnings = warnings
    return result


_VERIFY_FROM_SNAPSHOT = (
    "--verify cannot start at a snapshot (--from-snapshot, or a journal written by "
    "'resume -o'): it rebuilds the kernel by re-executing every call from the journal's "
    "first one")


def _compiled(reader: JournalReader, engine: Engine, cache: ModuleCache | None,
              module: str | os.PathLike[str] | None,
              warn: Callable[[str], None]) -> tuple[Module, str]:
    """The compiled module to replay: straight from the cache by the header's
    SHA-256 when the journal's own module is wanted (no need to read the
    embedded copy at all), else compiled (and cached) from the bytes."""
    sha = reader.header.module_sha256
    name = reader.header.module_name or "embedded module"
    if module is None and cache is not None and sha:
        hit = cache.load_hash(engine, sha)
        if hit is not None:
            return hit, name
    wasm, name = load_journal_module(reader, module, warn)
    known = sha if module is None else None  # the reader checked the blob against it
    return compile_module(engine, ModuleBytes(wasm, known), name=name, cache=cache), name


@dataclass(slots=True)
class ReplaySetup:
    """One guest instantiated for a replay and ready to run (``setup_one``): the
    building block of ``replay()`` and of the debugger, which adds its hooks
    (``answerer.before_call``, ``replayer.stop_after``) before ``process.run()``."""

    tape: Tape
    answerer: Answerer
    adapter: HostAdapter
    process: ReplayProcess
    replayer: Replayer | None
    """The wasm replayer answering most calls, or None (``fast=False``, ``--verify``,
    a module without WASI imports)."""
    verifier: Verifier | None = None


def setup_one(reader: JournalReader, engine: Engine, compiled: Module, name: str,
              output: Output, opts: ReplayOptions,
              wrap_source: Callable[[CallbackSource], CallbackSource] | None = None
              ) -> ReplaySetup:
    """Tape, answerer, adapter and the instantiated guest of a single-process
    replay (a fresh ``Tape`` over ``reader``: a reader can be replayed again).

    ``wrap_source`` may put its own callbacks in front of the answerer's (``resume
    --at`` switches them from journal-fed to live answers at a syscall)."""
    tape = Tape(reader)
    verifier: Verifier | None = None
    if opts.verify:
        from .verify import KernelVerifier

        verifier = KernelVerifier.from_journal(reader)
    answerer = Answerer(tape, output, verifier)
    tape.next_call()  # the events before the first call: which process this is
    source: CallbackSource = answerer.source
    if verifier is not None and opts.fast:
        from .fastverify import FastVerifier

        source = FastVerifier(tape, answerer, verifier.kernel).source  # type: ignore[attr-defined]
    if wrap_source is not None:
        source = wrap_source(source)
    adapter = HostAdapter(None, source=source,
                          trap_unknown_imports=bool(
                              reader.header.options.get("trap_unknown_imports", False)))
    adapter.pid = tape.state.pid
    hooks: Replayer | None = None
    if opts.fast and verifier is None:
        from .replayer import Replayer

        hooks = Replayer.for_guest(compiled, adapter, tape, output,
                                   ModuleCache(default_cache_dir()) if opts.use_cache else None)
    try:
        process = ReplayProcess(engine, compiled, adapter, name=name, linker_hooks=hooks)
    except BaseException:
        if verifier is not None:
            verifier.close()
        raise
    return ReplaySetup(tape, answerer, adapter, process, hooks, verifier)


def _replay_one(reader: JournalReader, engine: Engine, compiled: Module, name: str,
                output: Output, opts: ReplayOptions) -> ReplayResult:
    setup = setup_one(reader, engine, compiled, name, output, opts)
    tape, answerer, adapter, process = setup.tape, setup.answerer, setup.adapter, setup.process
    verifier = setup.verifier
    try:
        sigint = interrupt_on_sigint(engine) if opts.interruptible else nullcontext()
        with sigint, deadline(engine, opts.timeout) as clock:
            outcome = process.run()
        if clock.expired:
            tape.sync_in()  # the calls the wasm replayer answered count too
            raise ReplayTimeout(f"the replay did not finish within {opts.timeout:g} s "
                                f"(stopped at syscall #{tape.seq})")
    except DivergenceError as exc:
        return _result(answerer, verifier, ExitStatus.DIVERGENCE, exc.divergence, None)
    except JournalAbort as exc:
        raise exc.error from None
    except RecordingEnded:
        tape.drain()
        return _result(answerer, verifier, ExitStatus.INTERRUPTED, None, None)
    finally:
        tape.sync_in()
        output.flush()
        if verifier is not None:
            verifier.close()
    if outcome.host_error is not None:
        raise outcome.host_error
    divergence = check_ending(tape, answerer, outcome, adapter.pid)
    if divergence is None:
        tape.drain()
        code = int(ExitStatus.TRAP) if outcome.trap is not None else outcome.exit_code
        return _result(answerer, verifier, code, None, outcome.trap)
    return _result(answerer, verifier, ExitStatus.DIVERGENCE, divergence, outcome.trap)


def _result(answerer: Answerer, verifier: Verifier | None, code: int,
            divergence: Divergence | None, trap: str | None) -> ReplayResult:
    verified = verifier.verified if verifier is not None else 0
    fast = getattr(answerer, "fast_verified", 0)
    return ReplayResult(int(code), divergence, answerer.tape.state.calls, trap=trap,
                        verified=verified + fast, python_entries=answerer.entries)


def check_ending(tape: Tape, answerer: Answerer, outcome: Outcome,
                 pid: int) -> Divergence | None:
    """The guest ``pid`` has ended: every one of its calls consumed, and the same ending."""
    pos = tape.next_call(pid)
    if pos is not None:
        first = tape.call(tape.parse(pos))
        history = answerer.history_lines()
        remaining = tape.count_remaining(pid)
        return Divergence(DivergenceKind.EARLY_END, first.seq,
                          f"the guest ended ({describe_outcome(outcome)}) while the journal "
                          f"has {remaining} more syscall(s)",
                          expected=format_entry(first), actual=describe_outcome(outcome),
                          history=history, remaining=remaining)
    item = tape.peek()
    ending = item if isinstance(item, (ExitEvent, TrapEvent)) else None
    if ending is None:
        if item is None and not tape.finished:
            return None  # the journal stops early: ``drain`` reports it as truncated
        return Divergence(DivergenceKind.END_MISMATCH, tape.seq,
                          f"the guest ended with {describe_outcome(outcome)}, the journal "
                          f"records no ending for process {pid}",
                          expected="no recorded ending", actual=describe_outcome(outcome),
                          history=answerer.history_lines())
    tape.consume_event(ending)
    if isinstance(ending, TrapEvent):
        same = outcome.trap is not None and outcome.trap == ending.message
    elif ending.interrupted:
        same = True  # the recording stopped here; the replay reached the same point
    else:
        same = outcome.trap is None and (outcome.exit_code & 0xFFFF_FFFF) == ending.status
    if same:
        return None
    return Divergence(DivergenceKind.END_MISMATCH, tape.seq,
                      f"the guest ended with {describe_outcome(outcome)}, the journal "
                      f"recorded {describe_ending(ending)}",
                      expected=describe_ending(ending), actual=describe_outcome(outcome),
                      history=answerer.history_lines())
