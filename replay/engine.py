"""``replay(journal)``: re-drive a guest from its journal alone.

Steps: open the journal, take the embedded module (or ``module=``; a different
SHA-256 is reported as a warning and the replay goes on, to show where the new
build behaves differently), instantiate it with the adapter over a
``JournalBackend``, run ``_start``, then check the ending: the guest must
finish the way the journal says (same exit status, or a trap with the same
message) and must have consumed every recorded syscall.

Who is at fault decides the shape of a failure: a divergence is a *result*
(``ReplayResult.divergence``); a journal that is truncated or corrupt raises
the journal's ``JournalError`` (the CLI: one line, status 126); a missing or
invalid module raises ``ReplayError`` (a ``WasiRrError``, status 125).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from wasmtime import Engine, Module, Trap, WasmtimeError

from wasi_rr.errors import ModuleError, WasiRrError
from wasi_rr.exitcodes import ExitStatus
from wasi_rr.host.boundary.adapter import HostAdapter
from wasi_rr.host.runtime.process import (
    ModuleCache,
    Outcome,
    Process,
    compile_module,
    default_cache_dir,
    make_engine,
    read_module_file,
)
from wasi_rr.journal import ExitEvent, JournalReader, TrapEvent, open_journal

from .backend import JournalBackend, Verifier
from .cursor import JournalAbort, JournalCursor
from .fastpath import FastReplay
from .divergence import Divergence, DivergenceError, DivergenceKind, WasmFrame
from .output import StdioTracker
from .shim import (
    MEMORY_NAME,
    SHIM_MODULE,
    SHIM_NAME,
    ImportedMemory,
    ShimControl,
    import_memory,
    install_shim,
)

__all__ = ["ReplayError", "ReplayResult", "replay", "describe_ending"]


class ReplayError(WasiRrError):
    """The replay cannot start: no module to run, unreadable/invalid module, or a
    journal that needs something this replay mode lacks."""


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
    """Syscall entries replayed (equal to the journal's count when it matched)."""
    trap: str | None = None
    warnings: list[str] = field(default_factory=list)
    """e.g. a module-hash mismatch with ``module=``."""
    verified: int = 0
    """``verify=True``: calls re-executed on the rebuilt kernel and found equal
    (the others, e.g. ``poll_oneoff``, are answered from the journal only)."""

    @property
    def ok(self) -> bool:
        return self.divergence is None


def describe_ending(ending: ExitEvent | TrapEvent | None) -> str:
    if ending is None:
        return "no recorded ending"
    if isinstance(ending, TrapEvent):
        return f"trap: {ending.message}"
    return f"exit status {ending.status}"


def _describe_outcome(outcome: Outcome) -> str:
    return f"trap: {outcome.trap}" if outcome.trap is not None \
        else f"exit status {outcome.exit_code}"


class _ReplayProcess(Process):
    """``Process`` that keeps the guest's backtrace of a divergence (wasmtime's
    trap frames are only reachable while the trap object is at hand), and
    installs the replay shim (``replay/shim.py``) when given a guest rewritten
    to import its memory (``shim``) and the fast replay whose lean callbacks
    the shim falls back to."""

    def __init__(self, engine: Engine, module: Module, adapter: HostAdapter, *,
                 name: str = "module", shim: ImportedMemory | None = None,
                 fast: FastReplay | None = None, cache: ModuleCache | None = None) -> None:
        self._shim = shim
        self._cache = cache
        self._fast = fast
        self.shim_control: ShimControl | None = None
        super().__init__(engine, module, adapter, name=name)

    def _before_instantiate(self) -> None:
        if self._shim is None or self._fast is None:
            return
        self.shim_control = install_shim(self.engine, self.store, self.linker, self.module,
                                         self._shim, self._fast.lean_callbacks, self._cache)
        if self.shim_control is not None:
            self._fast.install_shim(self.shim_control)

    def _outcome_of_trap(self, error: Exception) -> Outcome:
        stop = self.adapter.stop
        if stop is not None and isinstance(stop.exception, DivergenceError):
            # offsets in the module as given, not in the rewritten one
            shift = self._shim.shift if self._shim is not None else 0
            stop.exception.divergence.backtrace = [
                WasmFrame(f.func_index, f.func_name, f.module_offset - shift)
                for f in _frames(error)]
        return super()._outcome_of_trap(error)


_FRAME_LINE = re.compile(r"^\s*\d+:\s+(0x[0-9a-fA-F]+) - (?:(.*?)!)?(.*)$")
_UNNAMED = re.compile(r"^<wasm function (\d+)>$")


def _frames(error: Exception) -> list[WasmFrame]:
    """The guest's frames, innermost first.

    A trap returned by a host function reaches Python as a ``WasmtimeError``
    (not a ``Trap`` with ``frames``), whose text carries wasmtime's rendered
    backtrace (``N: 0xOFFSET - module!name``); a ``Trap`` has structured frames.
    The replay shim's frames (``replay/shim.py``) are not the guest's: left out.
    """
    if isinstance(error, Trap):
        try:
            return [WasmFrame(f.func_index, f.func_name, f.module_offset)
                    for f in error.frames if f.module_name != SHIM_NAME]
        except (WasmtimeError, AttributeError, ValueError):
            return []
    frames: list[WasmFrame] = []
    text = str(error).split("Caused by:", 1)[0]
    for line in text.splitlines():
        m = _FRAME_LINE.match(line)
        if m is None:
            continue
        if m.group(2) == SHIM_NAME:
            continue
        offset, name = int(m.group(1), 16), m.group(3).strip()
        unnamed = _UNNAMED.match(name)
        if unnamed is not None:
            frames.append(WasmFrame(int(unnamed.group(1)), None, offset))
        else:
            frames.append(WasmFrame(None, name, offset))
    return frames


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
           use_cache: bool = True, shim: bool = True) -> ReplayResult:
    """Replay ``journal_path``; see the module docstring and docs/replay.md.

    ``stdout``/``stderr`` receive the reproduced guest output (None: the
    process's real streams). ``warn`` receives one-line warnings (default:
    printed on the real stderr). ``verify=True`` also re-executes every call on
    a kernel rebuilt from the journal (``wasi_rr.replay.verify``). ``shim``:
    let runs of repeats be answered inside wasm (``replay/shim.py``; verbatim
    replay only, and only for a module shape it supports).
    """
    warnings: list[str] = []

    def _warn(message: str) -> None:
        warnings.append(message)
        if warn is not None:
            warn(message)
        else:
            print(message, file=sys.stderr, flush=True)

    out = stdout if stdout is not None else sys.stdout.buffer
    err = stderr if stderr is not None else sys.stderr.buffer
    try:
        opened = open_journal(journal_path)
    except OSError as exc:
        raise ReplayError(f"cannot open journal {journal_path}: {exc.strerror or exc}") from None
    with opened as reader:
        wasm, name = load_journal_module(reader, module, _warn)
        engine = make_engine()
        cache = ModuleCache(default_cache_dir()) if use_cache else None
        rewritten = import_memory(wasm) if shim and not verify else None
        compiled: Module | None = None
        if rewritten is not None:
            try:
                compiled = compile_module(engine, rewritten.wasm, name=name, cache=cache)
            except ModuleError:
                rewritten = None  # the module's own error comes from compiling it as given
        if compiled is None:
            compiled = compile_module(engine, wasm, name=name, cache=cache)
        cursor = JournalCursor(batches=reader.batches())
        tracker = StdioTracker(out, err)
        verifier: Verifier | None = None
        if verify:
            from .verify import KernelVerifier

            verifier = KernelVerifier.from_journal(reader)
        backend = JournalBackend(cursor, tracker, verifier)
        trap_unknown = bool(reader.header.options.get("trap_unknown_imports", False))
        fast = FastReplay(backend) if verifier is None else None
        adapter = HostAdapter(backend, interceptor=fast, trap_unknown_imports=trap_unknown)
        if fast is not None:
            fast.attach(adapter)
        if rewritten is not None:
            adapter.provided_imports = frozenset({(SHIM_MODULE, MEMORY_NAME)})
        try:
            process = _ReplayProcess(engine, compiled, adapter, name=name,
                                     shim=rewritten if fast is not None else None, fast=fast,
                                     cache=cache)
            try:
                outcome = process.run()
            finally:
                if fast is not None:
                    fast.sync()  # the lean callbacks' position, before anyone reads it
        except DivergenceError as exc:
            tracker.flush()
            return ReplayResult(int(ExitStatus.DIVERGENCE), exc.divergence,
                                cursor.consumed, warnings=warnings,
                                verified=getattr(verifier, "verified", 0))
        except JournalAbort as exc:
            tracker.flush()
            raise exc.error from None
        finally:
            if verifier is not None:
                verifier.close()
        tracker.flush()
        if outcome.host_error is not None:
            raise outcome.host_error
        divergence = _check_ending(cursor, outcome, backend)
        cursor.drain()
    verified = getattr(verifier, "verified", 0)
    if divergence is not None:
        return ReplayResult(int(ExitStatus.DIVERGENCE), divergence, cursor.consumed,
                            trap=outcome.trap, warnings=warnings, verified=verified)
    code = int(ExitStatus.TRAP) if outcome.trap is not None else outcome.exit_code
    return ReplayResult(code, None, cursor.consumed, trap=outcome.trap, warnings=warnings,
                        verified=verified)


def _check_ending(cursor: JournalCursor, outcome: Outcome,
                  backend: JournalBackend) -> Divergence | None:
    """The guest has ended: every entry consumed, and the same ending."""
    seq = cursor.consumed
    left = cursor.peek()
    if left is not None:
        from .divergence import format_entry

        first = format_entry(left)
        history = backend.history_lines()  # before ``remaining`` moves the cursor
        remaining = cursor.remaining()
        return Divergence(DivergenceKind.EARLY_END, left.seq,
                          f"the guest ended ({_describe_outcome(outcome)}) while the journal "
                          f"has {remaining} more syscall(s)",
                          expected=first, actual=_describe_outcome(outcome),
                          history=history, remaining=remaining)
    ending = cursor.ending
    if ending is None:
        return None  # a journal without ending is reported as truncated by drain()
    if isinstance(ending, TrapEvent):
        same = outcome.trap is not None and outcome.trap == ending.message
    else:
        same = outcome.trap is None and (outcome.exit_code & 0xFFFF_FFFF) == ending.status
    if same:
        return None
    return Divergence(DivergenceKind.END_MISMATCH, seq,
                      f"the guest ended with {_describe_outcome(outcome)}, the journal "
                      f"recorded {describe_ending(ending)}",
                      expected=describe_ending(ending), actual=_describe_outcome(outcome),
                      history=backend.history_lines())
