"""The one signature table of the WASI boundary.

Every function wasi-rr offers a guest (the 46 of ``wasi_snapshot_preview1``
and the WASIX subset of DESIGN §6) has exactly one row here: its parameters
with their meaning (``roles.Param``), and the facts every layer needs about
the call: whether its answer comes from the outside world, whether it may
block, whether its data may reach stdout/stderr, how ``--verify`` treats it,
and, for the few calls no generic code can serve, why they are hand-written.

From this table ``host.boundary.codegen`` generates the run/record/question
callbacks, ``replay.replayer`` generates the wasm replayer, and
``host.table.format`` prints calls for ``dump`` and divergence reports. Adding
a regular syscall is one row here and one ``WasiKernel`` method whose
arguments and return value follow from the roles (see ``kernel_args`` and
``result_params``).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from functools import cached_property
from typing import Final, TypedDict

from wasi_rr.host.kernel.wasi_types import (
    Advice,
    ClockId,
    FdFlags,
    FstFlags,
    LookupFlags,
    OFlags,
    RiFlags,
    Rights,
    SdFlags,
    Signal,
    Whence,
)

from .roles import RESULT_ROLES, Fill, Param, Role, WasmType
from .structs import OutKind

PREVIEW1: Final = "wasi_snapshot_preview1"
WASIX: Final = "wasix_32v1"


class Verify(enum.Enum):
    """What ``replay --verify`` does with a call."""

    REEXECUTE = "reexecute"
    """Run it on the rebuilt kernel and compare the answer with the journal's."""
    FROM_JOURNAL = "from_journal"
    """Answer from the journal only: the answer *is* timing (``poll_oneoff``,
    ``sched_yield``) or the call ends the process."""


class IO(enum.Enum):
    """Whether a call moves data through its ``fd`` param (pipes block on it)."""

    NONE = "none"
    READ = "read"
    WRITE = "write"


class Startup(enum.Enum):
    """Which start-up data a call hands the guest (a guest that has read it keeps
    its own copy: ``resume --env``/``--argv0`` are refused after such a call)."""

    NONE = "none"
    ARGS = "args"
    ENV = "env"


class Feed(enum.Enum):
    """Which injected kernel source ``--verify`` primes with the recorded answer
    before re-executing a nondeterministic call."""

    NONE = "none"
    CLOCK_NOW = "clock_now"
    CLOCK_RES = "clock_res"
    RANDOM = "random"
    STDIN = "stdin"
    """The bytes a read got, when its fd is stdin."""


@dataclass(frozen=True, eq=False)
class Signature:
    """One import ``module::name(params) -> result`` and what it means.

    Rows are singletons: compared and hashed by identity (``eq=False``), which
    keeps the caches keyed by signature cheap.
    """

    module: str
    name: str
    params: tuple[Param, ...]
    result: WasmType | None = WasmType.I32
    nondeterministic: bool = False
    """The answer comes from outside the program (clock, randomness, stdin, poll
    readiness): the reason a journal exists."""
    may_block: bool = False
    """The call can wait (stdin, poll, pipes): snapshot-on-stdin and the process
    scheduler look at it."""
    stdio: bool = False
    """Writes its data to ``fd``, which may be the guest's stdout/stderr: the
    recorder marks such records and keeps their data in full, replay prints it."""
    verify: Verify = Verify.REEXECUTE
    feed: Feed = Feed.NONE
    irregular: str | None = None
    """Why no generated callback serves this call (the hand-written handler lives
    in ``host.boundary.irregular``); None for the regular calls."""
    exits: bool = False
    """The call ends the process (``proc_exit``): nothing is returned to the guest."""
    group: bool = False
    """Answered by the process group (WASIX processes): a module importing one of
    these runs on the asyncify-instrumented module in a ``ProcessGroup``."""
    forks: bool = False
    """Creates a process (the group unwinds the caller and starts the child)."""
    io: IO = IO.NONE
    startup: Startup = Startup.NONE

    @property
    def polls(self) -> bool:
        """Waits on a set of subscriptions (``poll_oneoff``)."""
        return any(p.role is Role.IN_SUBS for p in self.params)

    @property
    def key(self) -> tuple[str, str]:
        return (self.module, self.name)

    @property
    def label(self) -> str:
        return self.name if self.module == PREVIEW1 else f"{self.module}::{self.name}"

    @cached_property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @cached_property
    def raw_struct(self) -> struct.Struct:
        """Layout of the params in wasmtime's ``wasmtime_val_raw_t`` array (16 bytes
        per slot, little endian): one ``unpack_from`` reads every argument."""
        if not self.params:
            return struct.Struct("<16x")
        return struct.Struct("<" + "".join("I12x" if p.wasm is WasmType.I32 else "Q8x"
                                           for p in self.params))

    @cached_property
    def kernel_args(self) -> tuple[Param, ...]:
        """The params whose decoded values the kernel method takes, in order."""
        return tuple(p for p in self.params if _is_kernel_arg(p))

    @cached_property
    def result_params(self) -> tuple[Param, ...]:
        """The out params the kernel method's return value fills, in order (one:
        the value itself; several: a tuple). ``count_of`` outs are derived."""
        return tuple(p for p in self.params if p.role in RESULT_ROLES and p.count_of is None)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def index(self, name: str) -> int:
        return self.param_names.index(name)


def _is_kernel_arg(p: Param) -> bool:
    if p.is_int or p.role in (Role.IN_STR, Role.IN_IOVS, Role.OUT_IOVS, Role.IN_SUBS):
        return True
    return p.role is Role.OUT_BUF and p.to_kernel


# -- building rows ---------------------------------------------------------------

_I32 = WasmType.I32
_I64 = WasmType.I64
_U = OutKind


def _fd(name: str = "fd") -> Param:
    return Param(name, _I32, Role.FD)


def _u32(name: str) -> Param:
    return Param(name, _I32, Role.VALUE)


def _u64(name: str) -> Param:
    return Param(name, _I64, Role.VALUE)


def _flags(name: str, cls: type[enum.IntFlag]) -> Param:
    return Param(name, _I32, Role.FLAGS, type=cls)


def _rights(name: str) -> Param:
    return Param(name, _I64, Role.RIGHTS, type=Rights)


def _enum(name: str, cls: type[enum.IntEnum]) -> Param:
    return Param(name, _I32, Role.ENUM, type=cls)


def _out(name: str, kind: OutKind, count_of: str | None = None) -> Param:
    return Param(name, _I32, Role.OUT, out=kind, count_of=count_of)


def _ptr(name: str, role: Role, length: str | None, **kw: object) -> Param:
    return Param(name, _I32, role, length=length, **kw)  # type: ignore[arg-type]


def _len(name: str) -> Param:
    return Param(name, _I32, Role.LEN)


def _str(name: str) -> tuple[Param, Param]:
    return (_ptr(name, Role.IN_STR, name + "_len"), _len(name + "_len"))


def _iovs(name: str, role: Role) -> tuple[Param, Param]:
    return (_ptr(name, role, name + "_len"), _len(name + "_len"))


def _sig(name: str, *params: Param | tuple[Param, ...], module: str = PREVIEW1,
         result: WasmType | None = _I32, **facts: object) -> Signature:
    flat: list[Param] = []
    for p in params:
        flat.extend(p if isinstance(p, tuple) else (p,))
    return Signature(module, name, tuple(flat), result, **facts)  # type: ignore[arg-type]


class _Nondet(TypedDict):
    nondeterministic: bool


_NONDET: Final[_Nondet] = {"nondeterministic": True}
_PROC = "answered by the process group (fork = asyncify snapshot), not by the kernel"

_ROWS: Final[tuple[Signature, ...]] = (
    _sig("args_get", _ptr("argv", Role.OUT_PTR_ARRAY, None),
         _ptr("argv_buf", Role.OUT_STR_BUF, None), startup=Startup.ARGS),
    _sig("args_sizes_get", _out("argc", _U.U32), _out("argv_buf_size", _U.U32),
         startup=Startup.ARGS),
    _sig("environ_get", _ptr("environ", Role.OUT_PTR_ARRAY, None),
         _ptr("environ_buf", Role.OUT_STR_BUF, None), startup=Startup.ENV),
    _sig("environ_sizes_get", _out("environc", _U.U32), _out("environ_buf_size", _U.U32),
         startup=Startup.ENV),
    _sig("clock_res_get", _enum("id", ClockId), _out("resolution", _U.U64),
         feed=Feed.CLOCK_RES, **_NONDET),
    _sig("clock_time_get", _enum("id", ClockId), _u64("precision"), _out("time", _U.U64),
         feed=Feed.CLOCK_NOW, **_NONDET),
    _sig("fd_advise", _fd(), _u64("offset"), _u64("len"), _enum("advice", Advice)),
    _sig("fd_allocate", _fd(), _u64("offset"), _u64("len")),
    _sig("fd_close", _fd()),
    _sig("fd_datasync", _fd()),
    _sig("fd_fdstat_get", _fd(), _out("stat", _U.FDSTAT)),
    _sig("fd_fdstat_set_flags", _fd(), _flags("flags", FdFlags)),
    _sig("fd_fdstat_set_rights", _fd(), _rights("fs_rights_base"),
         _rights("fs_rights_inheriting")),
    _sig("fd_filestat_get", _fd(), _out("buf", _U.FILESTAT)),
    _sig("fd_filestat_set_size", _fd(), _u64("size")),
    _sig("fd_filestat_set_times", _fd(), _u64("atim"), _u64("mtim"),
         _flags("fst_flags", FstFlags)),
    _sig("fd_pread", _fd(), _iovs("iovs", Role.OUT_IOVS), _u64("offset"),
         _out("nread", _U.U32, count_of="iovs"), io=IO.READ),
    _sig("fd_prestat_get", _fd(), _out("buf", _U.PRESTAT)),
    _sig("fd_prestat_dir_name", _fd(), _ptr("path", Role.OUT_BUF, "path_len", fill=Fill.FIT),
         _len("path_len")),
    _sig("fd_pwrite", _fd(), _iovs("iovs", Role.IN_IOVS), _u64("offset"),
         _out("nwritten", _U.U32), stdio=True, io=IO.WRITE),
    _sig("fd_read", _fd(), _iovs("iovs", Role.OUT_IOVS), _out("nread", _U.U32, count_of="iovs"),
         feed=Feed.STDIN, may_block=True, io=IO.READ, **_NONDET),
    _sig("fd_readdir", _fd(), _ptr("buf", Role.OUT_DIRENTS, "buf_len"), _len("buf_len"),
         _u64("cookie"), _out("bufused", _U.U32, count_of="buf")),
    _sig("fd_renumber", _fd(), _fd("to")),
    _sig("fd_seek", _fd(), Param("offset", _I64, Role.SIGNED), _enum("whence", Whence),
         _out("newoffset", _U.U64)),
    _sig("fd_sync", _fd()),
    _sig("fd_tell", _fd(), _out("offset", _U.U64)),
    _sig("fd_write", _fd(), _iovs("iovs", Role.IN_IOVS), _out("nwritten", _U.U32),
         stdio=True, may_block=True, io=IO.WRITE),
    _sig("path_create_directory", _fd(), _str("path")),
    _sig("path_filestat_get", _fd(), _flags("flags", LookupFlags), _str("path"),
         _out("buf", _U.FILESTAT)),
    _sig("path_filestat_set_times", _fd(), _flags("flags", LookupFlags), _str("path"),
         _u64("atim"), _u64("mtim"), _flags("fst_flags", FstFlags)),
    _sig("path_link", _fd("old_fd"), _flags("old_flags", LookupFlags), _str("old_path"),
         _fd("new_fd"), _str("new_path")),
    _sig("path_open", _fd(), _flags("dirflags", LookupFlags), _str("path"),
         _flags("oflags", OFlags), _rights("fs_rights_base"), _rights("fs_rights_inheriting"),
         _flags("fdflags", FdFlags), _out("opened_fd", _U.U32)),
    _sig("path_readlink", _fd(), _str("path"),
         _ptr("buf", Role.OUT_BUF, "buf_len", fill=Fill.TRUNCATE), _len("buf_len"),
         _out("bufused", _U.U32, count_of="buf")),
    _sig("path_remove_directory", _fd(), _str("path")),
    _sig("path_rename", _fd(), _str("old_path"), _fd("new_fd"), _str("new_path")),
    _sig("path_symlink", _str("old_path"), _fd(), _str("new_path")),
    _sig("path_unlink_file", _fd(), _str("path")),
    _sig("poll_oneoff", _ptr("in", Role.IN_SUBS, "nsubscriptions"),
         _ptr("out", Role.OUT_EVENTS, "nsubscriptions"), _len("nsubscriptions"),
         _out("nevents", _U.U32, count_of="out"),
         may_block=True, verify=Verify.FROM_JOURNAL, **_NONDET),
    _sig("proc_exit", _u32("rval"), result=None, verify=Verify.FROM_JOURNAL, exits=True,
         irregular="ends the process: the callback traps instead of returning"),
    _sig("proc_raise", _enum("sig", Signal)),
    _sig("sched_yield", verify=Verify.FROM_JOURNAL, **_NONDET),
    _sig("random_get", _ptr("buf", Role.OUT_BUF, "buf_len", fill=Fill.EXACT, to_kernel=True),
         _len("buf_len"), feed=Feed.RANDOM, **_NONDET),
    _sig("sock_accept", _fd(), _flags("flags", FdFlags), _out("fd_out", _U.U32)),
    _sig("sock_recv", _fd(), _iovs("ri_data", Role.OUT_IOVS), _flags("ri_flags", RiFlags),
         _out("ro_datalen", _U.U32, count_of="ri_data"), _out("ro_flags", _U.U16),
         may_block=True, io=IO.READ, **_NONDET),
    _sig("sock_send", _fd(), _iovs("si_data", Role.IN_IOVS), _u32("si_flags"),
         _out("so_datalen", _U.U32), io=IO.WRITE),
    _sig("sock_shutdown", _fd(), _flags("how", SdFlags)),
    # WASIX subset (DESIGN §6)
    _sig("fd_dup", _fd(), _out("ret_fd", _U.U32), module=WASIX),
    _sig("fd_dup2", _fd(), _u32("min_result_fd"), _u32("cloexec"), _out("ret_fd", _U.U32),
         module=WASIX),
    _sig("fd_pipe", _out("ret_fd0", _U.U32), _out("ret_fd1", _U.U32), module=WASIX),
    _sig("proc_fork", _u32("copy_memory"), _out("ret_pid", _U.U32), module=WASIX,
         irregular=_PROC, group=True, forks=True),
    _sig("proc_join", Param("option_pid", _I32, Role.INOUT, out=_U.OPTION_PID),
         _u32("join_flags"), _out("ret_join_status", _U.JOIN_STATUS), module=WASIX,
         may_block=True, irregular=_PROC, group=True),
    _sig("proc_id", _out("ret_pid", _U.U32), module=WASIX, irregular=_PROC, group=True),
    _sig("proc_parent", _u32("pid"), _out("ret_pid", _U.U32), module=WASIX, irregular=_PROC,
         group=True),
)

SIGNATURE_LIST: Final[tuple[Signature, ...]] = _ROWS
"""Every row, in a fixed order (``function_names`` numbers them)."""

SIGNATURES: Final[dict[tuple[str, str], Signature]] = {s.key: s for s in _ROWS}
"""All imports wasi-rr provides, keyed by ``(module, name)``."""


def signature(module: str, name: str) -> Signature:
    """The signature of ``module::name``; ``KeyError`` if wasi-rr does not provide it."""
    return SIGNATURES[(module, name)]


def function_names() -> list[str]:
    """``module::name`` of every row in table order: a journal stores this list
    in its header and numbers its calls by position in it."""
    return [f"{s.module}::{s.name}" for s in _ROWS]
