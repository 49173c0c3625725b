"""The replay a native debugger runs (``replay --gdb`` starts ``replay --debug-engine``).

A single-process replay like ``replay()``, on the DWARF-enabled engine and
compiled without the module cache (the native debugger learns the guest's
code and DWARF when wasmtime compiles it), with the guest's output on the real
stdout/stderr. ``break_at``: SIGTRAP inside the host callback of that syscall.
"""

from __future__ import annotations

import sys

from wasi_rr.exitcodes import ExitStatus
from wasi_rr.host.boundary.adapter import HostAdapter
from wasi_rr.host.runtime.process import ModuleBytes, compile_module, make_engine
from wasi_rr.host.runtime.procs import needs_procs
from wasi_rr.host.table import Signature
from wasi_rr.journal import open_journal

from ..divergence import DivergenceError
from ..engine import (
    ReplayError,
    ReplayOptions,
    ReplayResult,
    check_ending,
    load_journal_module,
    setup_one,
)
from ..output import Output
from .dwarf import LineTable
from .native import trap_here
from .stack import guest_frames

__all__ = ["replay_for_debugger"]


def replay_for_debugger(journal: str, *, module: str | None, break_at: int | None,
                        debug_engine: bool) -> ReplayResult:
    with open_journal(journal) as reader:
        engine = make_engine(debug=debug_engine)
        wasm, name = load_journal_module(reader, module,
                                         lambda m: print(m, file=sys.stderr, flush=True))
        compiled = compile_module(engine, ModuleBytes(wasm), name=name, cache=None)
        if needs_procs(compiled):
            raise ReplayError("--gdb/--lldb replay journals of one process (this module "
                              "can fork): use `wasi-rr debug` for it")
        output = Output(sys.stdout.buffer, sys.stderr.buffer)
        setup = setup_one(reader, engine, compiled, name, output,
                          ReplayOptions(fast=True, use_cache=False))
        if break_at is not None:
            _break_at(setup, break_at, wasm)
        try:
            outcome = setup.process.run()
        except DivergenceError as exc:
            return ReplayResult(int(ExitStatus.DIVERGENCE), exc.divergence)
        finally:
            setup.tape.sync_in()
            output.flush()
        divergence = check_ending(setup.tape, setup.answerer, outcome, setup.adapter.pid)
        if divergence is not None:
            return ReplayResult(int(ExitStatus.DIVERGENCE), divergence)
        code = int(ExitStatus.TRAP) if outcome.trap is not None else outcome.exit_code
        return ReplayResult(code, None, setup.tape.state.calls, trap=outcome.trap)


def _break_at(setup: object, seq: int, wasm: bytes) -> None:
    tape, replayer = setup.tape, setup.replayer  # type: ignore[attr-defined]
    store = setup.process.store  # type: ignore[attr-defined]

    def before_call(adapter: HostAdapter, sig: Signature, params: tuple[int, ...]) -> None:
        at = tape.state.calls
        if at == seq:
            frames = guest_frames(store, LineTable.of(wasm))
            print(f"wasi-rr: stopped at syscall #{seq} ({sig.name}); the guest's stack:\n"
                  + "\n".join(f"  {line}" for line in frames), file=sys.stderr, flush=True)
            trap_here()
        elif replayer is not None and at < seq:
            replayer.stop_after(seq - at - 1)
    setup.answerer.before_call = before_call  # type: ignore[attr-defined]
    if replayer is not None:
        replayer.stop_after(seq)
