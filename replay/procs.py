"""Verbatim replay of journals with several processes, or from a snapshot.

Both need the asyncify-instrumented module and a ``host.runtime.procs.ProcessGroup``:

* **several processes** (WASIX ``proc_fork``): every process answers from the
  one tape through the same ``answer.Answerer``; a process whose next syscall
  is not the tape's next call is parked (unwound) until it is, so the recorded
  interleaving is reproduced exactly;
* **from a snapshot** (``--from-snapshot ID``): the guest is restored from the
  snapshot (memory, globals, stack) and the tape continues after it, with the
  usual divergence checks from there on.

Calls are answered in Python here (the wasm replayer serves single-process
replays from the start, where nearly all replay time goes).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from wasmtime import Engine

from wasi_rr.exitcodes import ExitStatus
from wasi_rr.host.boundary.adapter import CallbackSource
from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.runtime.process import Outcome, deadline, interrupt_on_sigint
from wasi_rr.host.runtime.procs import GuestProc, ProcessGroup, ProcKernel
from wasi_rr.host.table import Signature
from wasi_rr.journal import (
    ExitEvent,
    JournalError,
    JournalReader,
    SnapshotEvent,
    TrapEvent,
)

from .answer import Answerer, JournalAbort, RecordingEnded
from .divergence import (
    Divergence,
    DivergenceError,
    DivergenceKind,
    describe_ending,
    format_entry,
)
from .engine import ReplayOptions, ReplayResult, ReplayTimeout, describe_outcome
from .output import Output
from .tape import Position, Tape

if TYPE_CHECKING:
    from .verify import KernelVerifier

__all__ = ["GroupSetup", "replay_group", "setup_group"]


def _skip_to_snapshot(tape: Tape, snapshot_id: int) -> None:
    """Step over everything up to and including snapshot ``snapshot_id``."""
    while True:
        item = tape.peek()
        if item is None:
            return
        if isinstance(item, Position):
            tape.advance(item)
            continue
        tape.consume_event(item)
        if isinstance(item, SnapshotEvent) and item.id == snapshot_id:
            tape.state.pid = item.pid
            tape.state.seqs[item.pid] = item.seq
            return


@dataclass(slots=True)
class GroupSetup:
    """A process group ready to replay (``setup_group``): the building block of
    ``replay_group`` and of the debugger, which hooks ``answerer.before_call``."""

    tape: Tape
    answerer: Answerer
    group: ProcessGroup


def setup_group(reader: JournalReader, wasm: bytes, engine: Engine, output: Output,
                opts: ReplayOptions, verifier: KernelVerifier | None = None) -> GroupSetup:
    """The instrumented module's process group with its first process (or the
    snapshot's family) spawned, answering from a fresh ``Tape`` over ``reader``.

    With a ``verifier`` every process also re-executes its calls on a kernel of
    its own, rebuilt as the recording built it: the first one from the journal
    (``KernelVerifier.from_journal``), a child as its parent's kernel forked at
    the recorded fork (the group's ``_fork`` does ``parent.kernel.fork()`` on the
    verifier's kernels), and an exiting process closes its fds there (readers of
    its pipes see EOF at the recorded point)."""
    from wasi_rr.api import RunConfig, instrument_module
    from wasi_rr.snapshots import load_snapshot

    header = reader.header
    loaded = (load_snapshot(reader.path, opts.from_snapshot)
              if opts.from_snapshot is not None else None)
    config = RunConfig(module=Path(header.module_name or "module"), use_cache=opts.use_cache)
    im, compiled = instrument_module(wasm, config, engine)
    tape = Tape(reader)
    if loaded is not None:
        _skip_to_snapshot(tape, loaded.id)
    answerer = Answerer(tape, output, verifier)

    def source_for(pid: int, ppid: int, kernel: ProcKernel) -> CallbackSource:
        if verifier is not None:
            verifier.adopt(pid, kernel)
        return answerer.source

    def block_rule(proc: GuestProc, sig: Signature, params: tuple[int, ...]
                   ) -> Callable[[], bool] | None:
        def other_first() -> bool:
            try:
                pos = tape.next_call()
            except JournalError:  # a damaged journal: the call itself reports it
                return False
            return pos is not None and tape.state.pid != proc.pid
        return other_first

    group = ProcessGroup(engine, im, compiled, source_for=source_for, block_rule=block_rule,
                         trap_unknown_imports=bool(header.options.get("trap_unknown_imports")),
                         name=Path(header.module_name or "module").name)
    kernel = verifier.kernel if verifier is not None else WasiKernel(args=list(header.argv))
    if loaded is not None and loaded.family:
        kernels = [WasiKernel(args=list(header.argv))
                   for m in loaded.family if m.snapshot is not None]
        group.restore_family(loaded.family, loaded.order, kernels)
    elif loaded is not None:
        group.spawn(kernel, snapshot=loaded.snapshot, seq=loaded.seq, pid=loaded.pid)
    else:
        group.spawn(kernel, pid=tape.state.pid or None)
    return GroupSetup(tape, answerer, group)


def replay_group(reader: JournalReader, wasm: bytes, engine: Engine, output: Output,
                 opts: ReplayOptions) -> ReplayResult:
    """Replay with every process the journal holds, optionally from a snapshot
    (``opts.verify``: re-executing every call too, ``setup_group``)."""
    verifier = _verifier(reader) if opts.verify else None
    try:
        return _replay_group(reader, wasm, engine, output, opts, verifier)
    finally:
        if verifier is not None:
            verifier.close()


def _verifier(reader: JournalReader) -> KernelVerifier:
    from .verify import KernelVerifier

    return KernelVerifier.from_journal(reader)


def _replay_group(reader: JournalReader, wasm: bytes, engine: Engine, output: Output,
                  opts: ReplayOptions, verifier: KernelVerifier | None) -> ReplayResult:
    setup: GroupSetup | None = None

    def result(code: int, divergence: Divergence | None = None,
               trap: str | None = None) -> ReplayResult:
        return ReplayResult(int(code), divergence,
                            setup.tape.state.calls if setup is not None else 0, trap=trap,
                            verified=verifier.verified if verifier is not None else 0,
                            python_entries=setup.answerer.entries if setup is not None else 0)
    try:
        setup = setup_group(reader, wasm, engine, output, opts, verifier)
        _run(setup.group, engine, opts, setup.tape)
    except DivergenceError as exc:
        return result(ExitStatus.DIVERGENCE, exc.divergence)
    except JournalAbort as exc:
        raise exc.error from None
    except RecordingEnded:
        if setup is not None:
            setup.tape.drain()
        return result(ExitStatus.INTERRUPTED)
    finally:
        output.flush()
    tape, answerer, group = setup.tape, setup.answerer, setup.group
    divergence = _check_endings(group, tape, answerer)
    outcomes = group.outcomes()
    first = outcomes[min(outcomes)]
    if divergence is not None:
        return result(ExitStatus.DIVERGENCE, divergence, first.trap)
    tape.drain()
    code = int(ExitStatus.TRAP) if first.trap is not None else first.exit_code
    return result(code, None, first.trap)


def _run(group: ProcessGroup, engine: Engine, opts: ReplayOptions, tape: Tape) -> None:
    """Run every process; Ctrl-C (``opts.interruptible``) and ``opts.timeout`` stop
    even a process spinning in wasm, through the engine's epoch."""
    sigint = interrupt_on_sigint(engine) if opts.interruptible else nullcontext()
    with sigint, deadline(engine, opts.timeout) as clock:
        group.run()
    if clock.expired:
        raise ReplayTimeout(f"the replay did not finish within {opts.timeout:g} s "
                            f"(stopped at syscall #{tape.seq})")


def _check_endings(group: ProcessGroup, tape: Tape, answerer: Answerer) -> Divergence | None:
    """Every call consumed, and every process ended as recorded."""
    pos = tape.next_call()
    if pos is not None:
        first = tape.call(tape.parse(pos))
        remaining = _remaining(tape)
        return Divergence(DivergenceKind.EARLY_END, first.seq,
                          f"the guests ended while the journal has {remaining} more syscall(s)",
                          expected=f"[pid {first.pid}] {format_entry(first)}",
                          actual="no more calls", remaining=remaining,
                          history=answerer.history_lines())
    tape.drain()
    for pid, outcome in sorted(group.outcomes().items()):
        ending = tape.state.endings.get(pid)
        if ending is None or _same(outcome, ending):
            continue
        return Divergence(DivergenceKind.END_MISMATCH, group.seq_of(pid),
                          f"process {pid} ended with {describe_outcome(outcome)}, the journal "
                          f"recorded {describe_ending(ending)}",
                          expected=describe_ending(ending), actual=describe_outcome(outcome))
    return None


def _remaining(tape: Tape) -> int:
    n = 0
    while True:
        item = tape.peek()
        if item is None:
            return n
        if isinstance(item, Position):
            n += 1
            tape.advance(item)
        else:
            tape.consume_event(item)


def _same(outcome: Outcome, ending: ExitEvent | TrapEvent) -> bool:
    if isinstance(ending, TrapEvent):
        return outcome.trap is not None and outcome.trap == ending.message
    if ending.interrupted:
        return True
    return outcome.trap is None and (outcome.exit_code & 0xFFFF_FFFF) == ending.status
