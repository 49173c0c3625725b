"""The processes of a ``ProcessGroup`` as data: what a family snapshot holds of
each (``Member``), what a snapshot hands the journal (``Capture``), the events a
group reports (``ProcessEvents``), one live process (``GuestProc``) and what
remains of an exited one (``Ghost``), and the kernel that answers the WASIX
process calls from the group (``ProcKernel``). The group itself, its scheduling
and its unwinds are in ``procs``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol

from wasi_rr.host.boundary.adapter import HostAdapter
from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.kernel.wasi_types import Errno, WasiError
from wasi_rr.host.runtime.policy import Trigger
from wasi_rr.host.runtime.process import Outcome, Process

if TYPE_CHECKING:
    from wasi_rr.host.runtime.procs import ProcessGroup, ProcInterceptor
    from wasi_rr.host.runtime.snapshot import Snapshot, SnapshotController

__all__ = ["JOIN_NONBLOCKING", "Capture", "Ghost", "GuestProc", "Member", "NoEvents",
           "ProcKernel", "ProcessEvents"]

JOIN_NONBLOCKING: Final = 1
"""``proc_join`` flag: answer at once when no child has exited."""


@dataclass(frozen=True, slots=True)
class Member:
    """One process of a fork family at a family snapshot.

    A live process is stopped at a syscall (``snapshot``, its ``seq``); an
    exited one only keeps what ``proc_join``/``proc_parent`` may still ask.
    """

    pid: int
    ppid: int
    seq: int
    snapshot: Snapshot | None
    """None once the process has exited."""
    fork_answer: int | None = None
    """What its pending ``proc_fork`` will answer (a fork not completed yet)."""
    parked: bool = False
    """It was parked on a blocking call (the call is re-checked on resume)."""
    exit_code: int | None = None
    trap: str | None = None
    reaped: bool = False
    argv: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class Capture:
    """One snapshot as handed to ``ProcessEvents.on_snapshot``."""

    pid: int
    seq: int
    """The interrupted syscall's sequence number (it has not been performed)."""
    trigger: Trigger
    snapshot: Snapshot
    fs: bytes
    """The process's ``WasiFs.freeze()`` at the same instant."""
    capture_ns: int = 0
    """Wall time from the unwind request to the frozen state (unwind + scan +
    globals + freeze): what the guest pays per snapshot, before serialization."""
    family: tuple[Member, ...] = ()
    """After a fork: every process (``pid``'s own entry has ``snapshot``), in pid
    order; ``fs`` is then ``WasiFs.freeze_family`` of the live ones in that order."""
    order: tuple[int, ...] = ()
    """The scheduler's queue at the snapshot (``pid`` first: it runs on)."""


class ProcessEvents(Protocol):
    """What a group reports (the journal recorder implements it)."""

    def on_snapshot(self, capture: Capture) -> None: ...

    def on_fork(self, parent: int, child: int, seq: int, argv: list[bytes]) -> None: ...

    def on_exit(self, pid: int, outcome: Outcome) -> None:
        """A process other than the first ended (the caller reports the first one)."""


class NoEvents:
    """``ProcessEvents`` that ignores everything."""

    def on_snapshot(self, capture: Capture) -> None:
        pass

    def on_fork(self, parent: int, child: int, seq: int, argv: list[bytes]) -> None:
        pass

    def on_exit(self, pid: int, outcome: Outcome) -> None:
        pass


class ProcKernel(WasiKernel):
    """A ``WasiKernel`` that also answers the WASIX process calls of one process.

    Built by adopting a configured kernel (``adopt``) so all WASI state stays
    the kernel's; only ``proc_*`` are added, answered from the group.
    """

    proc: GuestProc

    @classmethod
    def adopt(cls, kernel: WasiKernel) -> ProcKernel:
        pk = cls.__new__(cls)
        pk.__dict__.update(kernel.__dict__)
        return pk

    def proc_fork(self, copy_memory: bool) -> int:
        answer = self.proc.fork_answer
        if answer is None:  # only reachable if the call was not intercepted
            raise WasiError(Errno.NOSYS, "proc_fork outside a process group")
        self.proc.fork_answer = None
        return answer

    def proc_id(self) -> int:
        return self.proc.pid

    def proc_parent(self, pid: int) -> int:
        ppid = self.proc.group.ppid_of(pid)
        if ppid is None:
            raise WasiError(Errno.SRCH, f"no process {pid}")
        return ppid

    def proc_join(self, pid: int | None, flags: int) -> tuple[int, int] | None:
        """Reap an exited child (``pid`` or any): ``(pid, exit status)``, or
        None when none has exited and ``flags`` say not to wait."""
        group = self.proc.group
        children = group.children_of(self.proc.pid, pid)
        if not children:
            raise WasiError(Errno.CHILD, "no such child")
        for child in children:
            if child.outcome is not None:
                child.reaped = True
                return child.pid, child.outcome.exit_code
        if flags & JOIN_NONBLOCKING:
            return None
        raise WasiError(Errno.DEADLK, "every process is blocked")


@dataclass(eq=False)
class GuestProc:
    """One guest process of a group."""

    group: ProcessGroup
    pid: int
    ppid: int
    kernel: ProcKernel
    adapter: HostAdapter
    process: Process
    ctl: SnapshotController
    interceptor: ProcInterceptor
    argv: list[bytes] = field(default_factory=list)
    resume: Snapshot | None = None
    """Set while the process is unwound: continuing it means rewinding this."""
    fork_answer: int | None = None
    blocked: Callable[[], bool] | None = None
    """While parked on a blocking call: returns True as long as it would still block."""
    forced: bool = False
    """Deadlock: let the next (parked) call proceed whatever it would do."""
    outcome: Outcome | None = None
    reaped: bool = False

    @property
    def live(self) -> bool:
        return self.outcome is None

    def runnable(self) -> bool:
        return self.outcome is None and (self.blocked is None or not self.blocked())


class Ghost:
    """An exited process known only from a family snapshot, as ``proc_join`` sees it."""

    def __init__(self, member: Member, outcome: Outcome | None = None) -> None:
        self.pid = member.pid
        self.ppid = member.ppid
        self.seq = member.seq
        self.outcome: Outcome | None = (outcome if outcome is not None
                                        else Outcome(member.exit_code or 0, trap=member.trap))
        self.reaped = member.reaped
        self.argv = member.argv

    @classmethod
    def of(cls, proc: GuestProc) -> Ghost:
        """What remains of an exited process (its instance and store are dropped)."""
        assert proc.outcome is not None
        return cls(Member(proc.pid, proc.ppid, proc.adapter.seq, None,
                          reaped=proc.reaped, argv=tuple(proc.argv)), proc.outcome)

    def member(self) -> Member:
        assert self.outcome is not None
        return Member(self.pid, self.ppid, 0, None, exit_code=self.outcome.exit_code,
                      trap=self.outcome.trap, reaped=self.reaped, argv=self.argv)
