"""Resume any journal live from any syscall, by re-execution (``resume --at SEQ``).

No instrumentation is needed: the guest is replayed from the journal up to
syscall N on the wasm replayer (its memory, globals and stack are then exactly
the recorded ones), the kernel is brought to N by re-executing calls 0..N-1
with the recorded inputs (``kernelstate.KernelShadow``, as ``--verify``
does), and the same instance switches from journal-fed to live answers at N:
call N and everything after it are performed by a live kernel on the real
clocks, randomness, stdin and stdout/stderr. Output before N is not printed
again; no side effect before N is repeated.

Host directories (``--dir``): the prefix is re-executed on a private copy made
from the capture the journal carries (the user's directory is never written
by the prefix); at the switch the live kernel is rebuilt from the copy's
frozen state with each host mount re-bound by guest path to the directory the
user maps (``--dir HOST::GUEST``), else to the recorded host path, exactly as a
snapshot resume re-binds them. The directory is used as it is now: wasi-rr
does not roll it back to its state at N.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wasi_rr.host.boundary import fastcall
from wasi_rr.host.boundary.adapter import CallbackSource, HostAdapter
from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.kernel.wasifs import WasiFs
from wasi_rr.host.runtime.process import ModuleCache, default_cache_dir, make_engine
from wasi_rr.host.table import Signature
from wasi_rr.journal import JournalError, open_journal

from ..answer import JournalAbort
from ..divergence import DivergenceError
from ..engine import ReplayError, ReplayOptions, _compiled, setup_one
from ..output import Output
from .index import JournalIndex
from .kernelstate import KernelShadow

__all__ = ["LiveSwitch", "ResumeAtError", "resume_at"]


class ResumeAtError(ReplayError):
    """``resume --at`` cannot be done (one line)."""


class LiveSwitch:
    """Callbacks that answer from the journal until ``go_live``, then live."""

    def __init__(self) -> None:
        self.live = False
        self.kernel: WasiKernel | None = None

    def wrap(self, replayed_source: CallbackSource) -> CallbackSource:
        def source(sig: Signature, adapter: HostAdapter) -> fastcall.RawCallback:
            replayed = replayed_source(sig, adapter)
            assert replayed is not None
            live: list[fastcall.RawCallback] = []

            def callback(env: Any, caller: Any, args: int, count: int) -> int:
                if not self.live:
                    return replayed(env, caller, args, count)
                if not live:
                    live.append(self._live_callback(sig, adapter))
                return live[0](env, caller, args, count)
            return callback
        return source

    def _live_callback(self, sig: Signature, adapter: HostAdapter) -> fastcall.RawCallback:
        saved, adapter.source = adapter.source, None
        adapter.kernel = self.kernel
        try:
            return adapter.callback(sig)
        finally:
            adapter.source = saved


def live_kernel(shadow_kernel: WasiKernel, index: JournalIndex, dirs: dict[str, Path],
                make: Callable[[WasiFs], WasiKernel]) -> WasiKernel:
    """The shadow's state, with host mounts re-bound (module docstring), on live sources."""
    from wasi_rr.snapshots import rebind_mounts

    chosen = {p.guest: Path(p.host) for p in index.header.preopens
              if p.mode != "tmpfs" and p.host is not None}
    chosen.update(dirs)
    frozen = rebind_mounts(shadow_kernel.fs.freeze(), chosen)
    return make(WasiFs.unfreeze(frozen))


def resume_at(journal: str, seq: int, dirs: dict[str, Path],
              make_kernel: Callable[[WasiFs], WasiKernel], *,
              module: str | None = None) -> tuple[int, str | None]:
    """Continue ``journal`` live from its syscall ``seq``: (exit status, trap or None)."""
    index = JournalIndex.read(journal)
    if index.multi:
        raise ResumeAtError("resume --at does not support journals with several processes "
                            "(WASIX fork); resume one of their snapshots (--snapshot ID)")
    if not 0 <= seq <= len(index):
        raise ResumeAtError(f"resume --at {seq}: the journal has syscalls 0-{len(index) - 1}")
    reader = open_journal(journal)
    engine = make_engine()
    compiled, name = _compiled(reader, engine, ModuleCache(default_cache_dir()), module,
                               lambda m: print(m, file=sys.stderr, flush=True))
    switch = LiveSwitch()
    digests: dict[int, list[tuple[int, bytes]]] = {}
    shadow = KernelShadow(index, reader, digests)
    try:
        setup = setup_one(reader, engine, compiled, name, Output(None, None),
                          ReplayOptions(fast=True), wrap_source=switch.wrap)

        def go_live() -> None:
            kernel = shadow.at(seq)
            _warn_mismatches(shadow)
            switch.kernel = live_kernel(kernel, index, dirs, make_kernel)
            switch.live = True
            if setup.replayer is not None:
                setup.replayer.set_enabled(False)

        _hook_switch(setup, index, digests, seq, go_live)
        if seq == 0:
            go_live()
        try:
            outcome = setup.process.run()
        except DivergenceError as exc:
            raise ResumeAtError(f"cannot resume at {seq}: the replay diverged before it: "
                                f"{exc.divergence.summary}") from None
        except JournalAbort as exc:
            raise ResumeAtError(f"cannot resume at {seq}: {exc.error}") from None
        if not switch.live:
            raise ResumeAtError(f"cannot resume at {seq}: the guest ended before it")
        return outcome.exit_code, outcome.trap
    except JournalError as exc:
        raise ResumeAtError(f"cannot resume at {seq}: {exc}") from None
    finally:
        shadow.close()
        if switch.kernel is not None:
            switch.kernel.fs.close()
            switch.kernel.fs.close_mounts()
        reader.close()


def _hook_switch(setup: Any, index: JournalIndex, digests: dict[int, list[tuple[int, bytes]]],
                 seq: int, go_live: Callable[[], None]) -> None:
    """Enter Python at call seq-1 (the wasm replayer answers everything before it),
    keep digested inputs on the way, and switch once seq-1 is being answered."""
    from wasi_rr.journal import InputDigest

    tape, replayer = setup.tape, setup.replayer
    last = seq - 1

    def before_call(adapter: HostAdapter, sig: Signature, params: tuple[int, ...]) -> None:
        at = tape.state.calls
        if at in index.digested:
            mem = adapter.memory
            mem.refresh()
            digests[at] = [(a, bytes(mem.view[a:a + d.length]))
                           for a, d in index.calls[at].inputs if isinstance(d, InputDigest)]
        if at == last:
            go_live()
        elif replayer is not None and at < last:
            replayer.stop_after(last - at - 1)
    setup.answerer.before_call = before_call
    if replayer is not None and last >= 0:
        replayer.stop_after(last)


def _warn_mismatches(shadow: KernelShadow) -> None:
    if shadow.mismatches:
        first = shadow.mismatches[0]
        print(f"wasi-rr: warning: re-executing the journal, the kernel answered "
              f"{len(shadow.mismatches)} call(s) differently from the recording (first: "
              f"#{first.seq}: {first.summary}); the live state may differ from the recorded one",
              file=sys.stderr, flush=True)
    if shadow.unknown:
        print(f"wasi-rr: warning: {len(set(shadow.unknown))} call(s) before the resume point "
              "wrote data the journal stores only as a digest and the replay could not read",
              file=sys.stderr, flush=True)
