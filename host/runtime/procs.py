"""Guests run on the asyncify-instrumented module: snapshots, resume and WASIX fork.

Plain ``run`` keeps the adapter's fast path and never pays for this module.
When a run asks for snapshots, is a resume, or imports WASIX ``proc_*``, it
runs here instead: one ``GuestProc`` per guest process (its own store,
instance, kernel view and ``SnapshotController``), driven by a
``ProcessGroup`` that runs exactly one process at a time.

Everything happens at syscall boundaries, through the adapter's interceptor
seam (``ProcInterceptor.before_call``):

* **snapshot** (``SnapshotPolicy`` triggers): unwind at the call, capture,
  hand the capture to ``ProcessEvents.on_snapshot``, rewind the same instance
  and let the call proceed.  No syscall is added or repeated, so the journal's
  syscall stream is the one of a run without snapshots.
* **fork** (``proc_fork``): unwind, capture; the child is a fresh instance
  restored from the capture, its kernel ``parent.kernel.fork()``; both rewind
  into the re-issued ``proc_fork``, which answers 0 in the child and the
  child's pid in the parent.
* **blocking** (``proc_join`` of a running child, ``fd_read`` of an empty pipe
  with writers, ``fd_write`` to a full pipe with readers, ``poll_oneoff`` on
  pipes only, none ready): if another process can run, the caller is unwound
  and parked until its condition clears.

Scheduling is deterministic: after a fork the child runs first until it
blocks or exits, then the next runnable process in pid order; a parked
process resumes as soon as it is picked and its condition has cleared.  When
every live process is blocked (a deadlock), the lowest pid's call proceeds and
the kernel answers it as in a single process (``EAGAIN`` on the pipe,
``EDEADLK`` for a join).
"""

from __future__ import annotations

import signal
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

from wasmtime import Engine, Module

from wasi_rr.exitcodes import ExitStatus
from wasi_rr.host.boundary.adapter import CallbackSource, HostAdapter, Recorder
from wasi_rr.host.boundary.memory import GuestMemory
from wasi_rr.host.kernel.fdtable import PIPE_READ, PIPE_WRITE
from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.kernel.wasi_types import FdFlags, WasiError
from wasi_rr.host.kernel.wasifs import WasiFs
from wasi_rr.host.runtime.family import (
    JOIN_NONBLOCKING,
    Capture,
    Ghost,
    GuestProc,
    Member,
    NoEvents,
    ProcessEvents,
    ProcKernel,
)
from wasi_rr.host.runtime.instrument import InstrumentedModule
from wasi_rr.host.runtime.policy import SnapshotPolicy, Trigger, _Stop, needs_procs
from wasi_rr.host.runtime.process import Outcome, Process
from wasi_rr.host.runtime.snapshot import (
    InterruptedCall,
    Phase,
    Snapshot,
    SnapshotController,
    SnapshotError,
)
from wasi_rr.host.table import IO, Signature
from wasi_rr.host.table.structs import SUBSCRIPTION

__all__ = [
    "FIRST_PID",
    "Capture",
    "GuestProc",
    "Member",
    "NoEvents",
    "ProcKernel",
    "ProcessEvents",
    "ProcessGroup",
    "SnapshotPolicy",
    "Trigger",
    "needs_procs",
]

FIRST_PID: Final = 1
_OPTION_PID: Final = struct.Struct("<B3xI")
_SUB_CLOCK: Final = 0
_SUB_FD_READ: Final = 1


class ProcInterceptor:
    """The adapter's ``CallInterceptor`` for one process: rewind bookkeeping,
    snapshot triggers, fork and blocking calls (see the module docstring)."""

    def __init__(self, group: ProcessGroup) -> None:
        self.group = group
        self.proc: GuestProc | None = None
        self.pending: Trigger | _Stop | None = None
        self.last: Trigger | _Stop | None = None
        self.stdin_seen = False
        self.requested_ns = 0

    def before_call(self, sig: Signature, params: tuple[int, ...]) -> int | None:
        # On every syscall of an instrumented run: keep the common case (no
        # rewind, no trigger, one process) to a few attribute checks.
        proc = self.proc
        assert proc is not None
        if proc.ctl.phase is Phase.REWINDING:
            return self._rewound(proc, sig, params)
        group = self.group
        if sig.forks:
            return self._unwind(proc, sig, params, _Stop.FORK)
        if group.snapshotting:
            trigger = self._trigger(proc, sig, params)
            if trigger is not None:
                return self._unwind(proc, sig, params, trigger)
        if group.multi and self._would_block(proc, sig, params):
            return self._unwind(proc, sig, params, _Stop.BLOCK)
        return None

    def _rewound(self, proc: GuestProc, sig: Signature, params: tuple[int, ...]) -> int | None:
        """The interrupted call is re-entered: end the rewind, then let it run
        (unless it must now wait for another process)."""
        proc.ctl.finish_rewind(proc.process.store, InterruptedCall(sig.module, sig.name, params))
        last, self.last = self.last, None
        if proc.forced:
            proc.forced = False
            return None
        if last is not _Stop.BLOCK and self.group.multi and self._would_block(proc, sig, params):
            return self._unwind(proc, sig, params, _Stop.BLOCK)
        return None

    def _trigger(self, proc: GuestProc, sig: Signature, params: tuple[int, ...]) -> Trigger | None:
        group = self.group
        policy = group.policy
        if group.signal_pending and policy.on_signal:
            group.signal_pending = False
            return Trigger.SIGNAL
        every = policy.every
        if every:
            seq = proc.adapter.seq
            if seq % every == 0 and seq:
                return Trigger.EVERY
        if (policy.on_stdin and not self.stdin_seen and params and params[0] == 0
                and sig.io is IO.READ):
            self.stdin_seen = True
            return Trigger.STDIN
        if policy.on_exit and sig.exits:
            return Trigger.EXIT
        return None

    def _would_block(self, proc: GuestProc, sig: Signature, params: tuple[int, ...]) -> bool:
        if not self.group.others_can_run(proc):
            return False
        cond = self.group.block_rule(proc, sig, params)
        if cond is None or not cond():
            return False
        proc.blocked = cond
        return True

    def _unwind(self, proc: GuestProc, sig: Signature, params: tuple[int, ...],
                why: Trigger | _Stop) -> int:
        self.requested_ns = time.perf_counter_ns()
        proc.ctl.request_unwind(proc.process.store,
                                InterruptedCall(sig.module, sig.name, params))
        self.pending = why
        return 0


class ProcessGroup:
    """All processes of one run, on one engine and one instrumented module."""

    def __init__(self, engine: Engine, instrumented: InstrumentedModule, module: Module, *,
                 policy: SnapshotPolicy = SnapshotPolicy(),
                 events: ProcessEvents | None = None,
                 recorder: Recorder | None = None,
                 trap_unknown_imports: bool = False, name: str = "module",
                 source_for: Callable[[int, int, ProcKernel], CallbackSource | None]
                 | None = None,
                 block_rule: Callable[[GuestProc, Signature, tuple[int, ...]],
                                      Callable[[], bool] | None] | None = None) -> None:
        self.engine = engine
        self.source_for = source_for
        """(pid, parent pid, kernel) -> the adapter's ``CallbackSource`` (None: live on
        the kernel; replay answers from a journal instead)."""
        self.block_rule = block_rule if block_rule is not None else self.blocking_condition
        """When a call must wait for other processes (live: pipes and joins; replay:
        the journal's interleaving)."""
        self.instrumented = instrumented
        self.module = module
        self.policy = policy
        self.events: ProcessEvents = events if events is not None else NoEvents()
        self.recorder = recorder
        self.trap_unknown_imports = trap_unknown_imports
        self.name = name
        self.procs: dict[int, GuestProc] = {}
        self.ghosts: dict[int, Ghost] = {}
        """Processes restored from a family snapshot that had exited before it."""
        self.next_pid = FIRST_PID
        self.snapshotting = bool(policy)
        self.signal_pending = False
        """Set by the SIGUSR1 handler (nothing else happens in a signal handler)."""
        self.multi = False
        """More than one process was ever spawned (blocking rules apply)."""
        self._order: list[int] = []
        """Run order: pids in the order they were queued (children first after a fork)."""

    # -- building processes --------------------------------------------------------

    def spawn(self, kernel: WasiKernel, *, snapshot: Snapshot | None = None, seq: int = 0,
              ppid: int = 0, pid: int | None = None) -> GuestProc:
        """A new process on ``kernel``: started fresh, or continuing ``snapshot``
        (whose interrupted call is its syscall ``seq``)."""
        pid = self.next_pid if pid is None else pid
        self.next_pid = max(self.next_pid, pid + 1)
        pk = kernel if isinstance(kernel, ProcKernel) else ProcKernel.adopt(kernel)
        interceptor = ProcInterceptor(self)
        source = None if self.source_for is None else self.source_for(pid, ppid, pk)
        adapter = HostAdapter(pk, recorder=self.recorder, interceptor=interceptor,
                              source=source, trap_unknown_imports=self.trap_unknown_imports)
        adapter.pid = pid
        process = Process(self.engine, self.module, adapter, name=self.name)
        ctl = SnapshotController(self.instrumented, process.store, process.instance)
        proc = GuestProc(self, pid, ppid, pk, adapter, process, ctl, interceptor,
                         argv=list(pk.args))
        pk.proc = proc
        interceptor.proc = proc
        if snapshot is not None:
            ctl.load(snapshot)
            adapter.bind(process.store, process.instance)  # memory may have grown
            adapter.seq = seq
            proc.resume = snapshot
        self.procs[pid] = proc
        self._order.append(pid)
        if len(self.procs) > 1:
            self.multi = True
        return proc

    def children_of(self, ppid: int, pid: int | None) -> list[GuestProc | Ghost]:
        """Unreaped children of ``ppid`` (only ``pid`` if given), by pid."""
        every: list[GuestProc | Ghost] = [*self.procs.values(), *self.ghosts.values()]
        return [p for p in sorted(every, key=lambda p: p.pid)
                if p.ppid == ppid and not p.reaped and (pid is None or p.pid == pid)]

    def ppid_of(self, pid: int) -> int | None:
        proc = self.procs.get(pid)
        if proc is not None:
            return proc.ppid
        ghost = self.ghosts.get(pid)
        return None if ghost is None else ghost.ppid

    # -- blocking --------------------------------------------------------------------

    def others_can_run(self, proc: GuestProc) -> bool:
        return any(p is not proc and p.runnable() for p in self.procs.values())

    def blocking_condition(self, proc: GuestProc, sig: Signature,
                           params: tuple[int, ...]) -> Callable[[], bool] | None:
        """A predicate "this call would still block", or None if it never blocks."""
        if sig.group and sig.may_block:  # proc_join
            if params[1] & JOIN_NONBLOCKING:
                return None
            try:
                tag, pid = _OPTION_PID.unpack(GuestMemory.read(proc.adapter.memory,
                                                               params[0], 8))
            except WasiError:
                return None
            want = pid if tag else None
            ppid = proc.pid

            def join_blocks() -> bool:
                kids = self.children_of(ppid, want)
                return bool(kids) and all(k.outcome is None for k in kids)
            return join_blocks
        if sig.polls:
            return self._poll_condition(proc, params)
        if sig.io is IO.NONE or not sig.may_block or not params:
            return None
        desc = proc.kernel.fs.fds.fds.get(params[0])
        if desc is None or desc.inode.pipe is None or desc.flags & FdFlags.NONBLOCK:
            return None
        pipe = desc.inode.pipe
        if sig.io is IO.READ and desc.pipe_end == PIPE_READ:
            return lambda: not pipe.buffer and pipe.writers > 0
        if sig.io is IO.WRITE and desc.pipe_end == PIPE_WRITE:
            return lambda: len(pipe.buffer) >= pipe.capacity and pipe.readers > 0
        return None

    def _poll_condition(self, proc: GuestProc,
                        params: tuple[int, ...]) -> Callable[[], bool] | None:
        """``poll_oneoff`` waits for other processes when it watches pipes only
        (plus optional timers) and none is ready: a pipe only another process
        can fill. Any other fd subscription, or an expired timer, never parks."""
        try:
            raw = GuestMemory.read(proc.adapter.memory, params[0],
                                   SUBSCRIPTION.size * params[2])
        except WasiError:
            return None
        fds = proc.kernel.fs.fds.fds
        waits: list[tuple[Any, int]] = []
        for _, tag, word, timeout, _, flags in SUBSCRIPTION.iter_unpack(raw):
            if tag == _SUB_CLOCK:
                if timeout == 0 and not flags:
                    return None
                continue
            desc = fds.get(word)
            if desc is None or desc.inode.pipe is None:
                return None
            end = PIPE_READ if tag == _SUB_FD_READ else PIPE_WRITE
            if desc.pipe_end != end:
                return None
            waits.append((desc.inode.pipe, end))
        if not waits:
            return None

        def none_ready() -> bool:
            for pipe, end in waits:
                if end == PIPE_READ and (pipe.buffer or pipe.writers == 0):
                    return False
                if end == PIPE_WRITE and (len(pipe.buffer) < pipe.capacity or pipe.readers == 0):
                    return False
            return True
        return none_ready

    # -- running -----------------------------------------------------------------------

    def run(self) -> Outcome:
        """Run every process to its end; the outcome of the first one."""
        with self._sigusr1():
            while True:
                proc = self._pick()
                if proc is None:
                    break
                self._step(proc)
        outcomes = self.outcomes()
        return outcomes[min(outcomes)]

    def outcomes(self) -> dict[int, Outcome]:
        """How every process that ended, ended (by pid)."""
        done = {pid: g.outcome for pid, g in self.ghosts.items() if g.outcome is not None}
        done.update((pid, p.outcome) for pid, p in self.procs.items() if p.outcome is not None)
        return done

    def seq_of(self, pid: int) -> int:
        proc = self.procs.get(pid)
        return proc.adapter.seq if proc is not None else self.ghosts[pid].seq

    def _pick(self) -> GuestProc | None:
        live = [self.procs[pid] for pid in self._order if self.procs[pid].live]
        if not live:
            return None
        for p in live:
            if p.runnable():
                return p
        stuck = min(live, key=lambda p: p.pid)  # deadlock: let its call proceed
        stuck.blocked = None
        stuck.forced = True
        return stuck

    def _step(self, proc: GuestProc) -> None:
        """Run ``proc`` until it exits, forks, blocks (with others runnable) or is snapshotted."""
        proc.blocked = None
        while True:
            if proc.resume is not None:
                proc.ctl.start_rewind(proc.resume)
                proc.resume = None
            outcome = proc.process.run()
            ctl = proc.ctl
            if outcome.trap is not None or ctl.phase is not Phase.UNWINDING:
                if outcome.trap is not None:
                    why = ctl.explain_trap()
                    if why is not None and outcome.host_error is None:
                        outcome = Outcome(int(ExitStatus.TRAP), trap=why,
                                          host_error=SnapshotError(why))
                self._finish(proc, outcome)
                return
            snap = ctl.after_start_returned()
            assert snap is not None
            why = proc.interceptor.pending
            proc.interceptor.pending = None
            proc.interceptor.last = why
            proc.resume = snap
            if why is _Stop.FORK:
                self._fork(proc, snap)
                return
            if why is _Stop.BLOCK:
                return
            assert isinstance(why, Trigger)
            if len(self.procs) == 1 and not self.ghosts:
                frozen = proc.kernel.fs.freeze()
                spent = time.perf_counter_ns() - proc.interceptor.requested_ns
                self.events.on_snapshot(Capture(proc.pid, proc.adapter.seq, why, snap, frozen,
                                                spent))
            else:
                self.events.on_snapshot(self._family_capture(proc, snap, why))

    def _family_capture(self, proc: GuestProc, snap: Snapshot, why: Trigger) -> Capture:
        """Every process of the group at once: the others are all stopped at a
        syscall already (parked, or never run since their fork)."""
        members: list[Member] = []
        live_fs: list[WasiFs] = []
        for pid in sorted({*self.procs, *self.ghosts}):
            ghost = self.ghosts.get(pid)
            if ghost is not None:
                members.append(ghost.member())
                continue
            q = self.procs[pid]
            if q.outcome is not None:
                members.append(Member(pid, q.ppid, q.adapter.seq, None,
                                      exit_code=q.outcome.exit_code, trap=q.outcome.trap,
                                      reaped=q.reaped, argv=tuple(q.argv)))
                continue
            state = snap if q is proc else q.resume
            if state is None:
                raise SnapshotError(f"process {pid} is not stopped at a syscall")
            members.append(Member(pid, q.ppid, q.adapter.seq, state, q.fork_answer,
                                  parked=q.blocked is not None, argv=tuple(q.argv)))
            live_fs.append(q.kernel.fs)
        frozen = WasiFs.freeze_family(live_fs)
        order = (proc.pid, *(p for p in self._order if p != proc.pid))
        spent = time.perf_counter_ns() - proc.interceptor.requested_ns
        return Capture(proc.pid, proc.adapter.seq, why, snap, frozen, spent,
                       tuple(members), order)

    def restore_family(self, members: list[Member], order: list[int],
                       kernels: list[WasiKernel]) -> None:
        """Rebuild a family captured by ``_family_capture``: ``kernels`` are the
        live members' kernels, in member order (from ``WasiFs.unfreeze_family``).
        Parked processes are parked again on their pending call."""
        live = iter(kernels)
        for m in members:
            if m.snapshot is None:
                self.ghosts[m.pid] = Ghost(m)
                self.next_pid = max(self.next_pid, m.pid + 1)
                continue
            proc = self.spawn(next(live), snapshot=m.snapshot, seq=m.seq, ppid=m.ppid,
                              pid=m.pid)
            proc.argv = list(m.argv)
            proc.fork_answer = m.fork_answer
            if m.parked:
                call = m.snapshot.pending
                from wasi_rr.host.table import SIGNATURES
                cond = self.block_rule(proc, SIGNATURES[(call.module, call.name)],
                                       call.params)
                proc.blocked = cond
                proc.interceptor.last = _Stop.BLOCK
        self._order = [pid for pid in order if pid in self.procs]
        self._order += [pid for pid in self.procs if pid not in self._order]

    def _fork(self, parent: GuestProc, snap: Snapshot) -> None:
        child_kernel = parent.kernel.fork()
        pid = self.next_pid
        self.events.on_fork(parent.pid, pid, parent.adapter.seq, list(parent.kernel.args))
        child = self.spawn(child_kernel, snapshot=snap, seq=0, ppid=parent.pid, pid=pid)
        child.interceptor.last = _Stop.FORK
        child.fork_answer = 0
        parent.fork_answer = pid
        # the child runs next; the parent after it (deterministic order)
        self._order.remove(child.pid)
        self._order.remove(parent.pid)
        self._order[:0] = [child.pid, parent.pid]

    def _finish(self, proc: GuestProc, outcome: Outcome) -> None:
        proc.outcome = outcome
        proc.resume = None
        proc.kernel.fs.close()  # its fds: pipe ends close, readers see EOF
        if proc.pid != FIRST_PID:
            self.events.on_exit(proc.pid, outcome)
        self._order.remove(proc.pid)
        # Keep only what join/parent/ps need: the instance, its store and memory
        # go (a guest forking thousands of short-lived children stays small).
        self.ghosts[proc.pid] = Ghost.of(proc)
        del self.procs[proc.pid]
        proc.interceptor.proc = None

    @contextmanager
    def _sigusr1(self) -> Iterator[None]:
        """SIGUSR1 → a snapshot at the next syscall (the handler only sets a flag)."""
        if (not self.policy.on_signal
                or threading.current_thread() is not threading.main_thread()):
            yield
            return
        def handler(signum: int, frame: Any) -> None:
            self.signal_pending = True
        previous = signal.signal(signal.SIGUSR1, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGUSR1, previous)
