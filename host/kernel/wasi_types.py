"""WASI preview1 (``wasi_snapshot_preview1``) types, flags and errno values.

This module is the vocabulary shared by the kernel (which speaks in these plain
values), the host adapter (which encodes them into guest memory) and the
journal/dump layers (which print them). Values follow the witx definitions of
``wasi_snapshot_preview1`` exactly; the layout sizes of the structs are given
next to each dataclass because the adapter encodes them byte for byte.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Errno(enum.IntEnum):
    """``errno``: every WASI function returns one of these (0 is success)."""

    SUCCESS = 0
    TOOBIG = 1
    ACCES = 2
    ADDRINUSE = 3
    ADDRNOTAVAIL = 4
    AFNOSUPPORT = 5
    AGAIN = 6
    ALREADY = 7
    BADF = 8
    BADMSG = 9
    BUSY = 10
    CANCELED = 11
    CHILD = 12
    CONNABORTED = 13
    CONNREFUSED = 14
    CONNRESET = 15
    DEADLK = 16
    DESTADDRREQ = 17
    DOM = 18
    DQUOT = 19
    EXIST = 20
    FAULT = 21
    FBIG = 22
    HOSTUNREACH = 23
    IDRM = 24
    ILSEQ = 25
    INPROGRESS = 26
    INTR = 27
    INVAL = 28
    IO = 29
    ISCONN = 30
    ISDIR = 31
    LOOP = 32
    MFILE = 33
    MLINK = 34
    MSGSIZE = 35
    MULTIHOP = 36
    NAMETOOLONG = 37
    NETDOWN = 38
    NETRESET = 39
    NETUNREACH = 40
    NFILE = 41
    NOBUFS = 42
    NODEV = 43
    NOENT = 44
    NOEXEC = 45
    NOLCK = 46
    NOLINK = 47
    NOMEM = 48
    NOMSG = 49
    NOPROTOOPT = 50
    NOSPC = 51
    NOSYS = 52
    NOTCONN = 53
    NOTDIR = 54
    NOTEMPTY = 55
    NOTRECOVERABLE = 56
    NOTSOCK = 57
    NOTSUP = 58
    NOTTY = 59
    NXIO = 60
    OVERFLOW = 61
    OWNERDEAD = 62
    PERM = 63
    PIPE = 64
    PROTO = 65
    PROTONOSUPPORT = 66
    PROTOTYPE = 67
    RANGE = 68
    ROFS = 69
    SPIPE = 70
    SRCH = 71
    STALE = 72
    TIMEDOUT = 73
    TXTBSY = 74
    XDEV = 75
    NOTCAPABLE = 76


class WasiError(Exception):
    """Raised by kernel methods to return a non-zero errno to the guest.

    It is the guest's doing (bad fd, missing file...), not a host fault, so the
    adapter turns it into the errno return value and never lets it escape.
    """

    def __init__(self, errno: Errno, detail: str = "") -> None:
        super().__init__(f"{errno.name}{': ' + detail if detail else ''}")
        self.errno = Errno(errno)
        self.detail = detail


class ProcExit(Exception):
    """Raised by ``proc_exit`` to unwind out of the guest with an exit code."""

    def __init__(self, code: int) -> None:
        super().__init__(f"proc_exit({code})")
        self.code = code


class Filetype(enum.IntEnum):
    UNKNOWN = 0
    BLOCK_DEVICE = 1
    CHARACTER_DEVICE = 2
    DIRECTORY = 3
    REGULAR_FILE = 4
    SOCKET_DGRAM = 5
    SOCKET_STREAM = 6
    SYMBOLIC_LINK = 7


class Whence(enum.IntEnum):
    SET = 0
    CUR = 1
    END = 2


class Advice(enum.IntEnum):
    NORMAL = 0
    SEQUENTIAL = 1
    RANDOM = 2
    WILLNEED = 3
    DONTNEED = 4
    NOREUSE = 5


class ClockId(enum.IntEnum):
    REALTIME = 0
    MONOTONIC = 1
    PROCESS_CPUTIME_ID = 2
    THREAD_CPUTIME_ID = 3


class EventType(enum.IntEnum):
    CLOCK = 0
    FD_READ = 1
    FD_WRITE = 2


class PreopenType(enum.IntEnum):
    DIR = 0


class Signal(enum.IntEnum):
    NONE = 0
    HUP = 1
    INT = 2
    QUIT = 3
    ILL = 4
    TRAP = 5
    ABRT = 6
    BUS = 7
    FPE = 8
    KILL = 9
    USR1 = 10
    SEGV = 11
    USR2 = 12
    PIPE = 13
    ALRM = 14
    TERM = 15
    CHLD = 16
    CONT = 17
    STOP = 18
    TSTP = 19
    TTIN = 20
    TTOU = 21
    URG = 22
    XCPU = 23
    XFSZ = 24
    VTALRM = 25
    PROF = 26
    WINCH = 27
    POLL = 28
    PWR = 29
    SYS = 30


class Rights(enum.IntFlag):
    FD_DATASYNC = 1 << 0
    FD_READ = 1 << 1
    FD_SEEK = 1 << 2
    FD_FDSTAT_SET_FLAGS = 1 << 3
    FD_SYNC = 1 << 4
    FD_TELL = 1 << 5
    FD_WRITE = 1 << 6
    FD_ADVISE = 1 << 7
    FD_ALLOCATE = 1 << 8
    PATH_CREATE_DIRECTORY = 1 << 9
    PATH_CREATE_FILE = 1 << 10
    PATH_LINK_SOURCE = 1 << 11
    PATH_LINK_TARGET = 1 << 12
    PATH_OPEN = 1 << 13
    FD_READDIR = 1 << 14
    PATH_READLINK = 1 << 15
    PATH_RENAME_SOURCE = 1 << 16
    PATH_RENAME_TARGET = 1 << 17
    PATH_FILESTAT_GET = 1 << 18
    PATH_FILESTAT_SET_SIZE = 1 << 19
    PATH_FILESTAT_SET_TIMES = 1 << 20
    FD_FILESTAT_GET = 1 << 21
    FD_FILESTAT_SET_SIZE = 1 << 22
    FD_FILESTAT_SET_TIMES = 1 << 23
    PATH_SYMLINK = 1 << 24
    PATH_REMOVE_DIRECTORY = 1 << 25
    PATH_UNLINK_FILE = 1 << 26
    POLL_FD_READWRITE = 1 << 27
    SOCK_SHUTDOWN = 1 << 28
    SOCK_ACCEPT = 1 << 29


RIGHTS_ALL = Rights((1 << 30) - 1)


class FdFlags(enum.IntFlag):
    APPEND = 1 << 0
    DSYNC = 1 << 1
    NONBLOCK = 1 << 2
    RSYNC = 1 << 3
    SYNC = 1 << 4


class OFlags(enum.IntFlag):
    CREAT = 1 << 0
    DIRECTORY = 1 << 1
    EXCL = 1 << 2
    TRUNC = 1 << 3


class LookupFlags(enum.IntFlag):
    SYMLINK_FOLLOW = 1 << 0


class FstFlags(enum.IntFlag):
    ATIM = 1 << 0
    ATIM_NOW = 1 << 1
    MTIM = 1 << 2
    MTIM_NOW = 1 << 3


class SubclockFlags(enum.IntFlag):
    SUBSCRIPTION_CLOCK_ABSTIME = 1 << 0


class EventRwFlags(enum.IntFlag):
    FD_READWRITE_HANGUP = 1 << 0


class RiFlags(enum.IntFlag):
    RECV_PEEK = 1 << 0
    RECV_WAITALL = 1 << 1


class RoFlags(enum.IntFlag):
    RECV_DATA_TRUNCATED = 1 << 0


class SdFlags(enum.IntFlag):
    RD = 1 << 0
    WR = 1 << 1


@dataclass(frozen=True, slots=True)
class Filestat:
    """``filestat`` (64 bytes: dev u64, ino u64, filetype u8 @16, nlink u64 @24,
    size u64 @32, atim u64 @40, mtim u64 @48, ctim u64 @56)."""

    dev: int
    ino: int
    filetype: Filetype
    nlink: int
    size: int
    atim: int
    mtim: int
    ctim: int


@dataclass(frozen=True, slots=True)
class Fdstat:
    """``fdstat`` (24 bytes: fs_filetype u8 @0, fs_flags u16 @2,
    fs_rights_base u64 @8, fs_rights_inheriting u64 @16)."""

    filetype: Filetype
    flags: FdFlags
    rights_base: Rights
    rights_inheriting: Rights


@dataclass(frozen=True, slots=True)
class Dirent:
    """One ``fd_readdir`` entry: header ``dirent`` (24 bytes: d_next u64,
    d_ino u64, d_namlen u32 @16, d_type u8 @20) followed by the name bytes.
    ``next`` is the cookie that resumes listing after this entry."""

    next: int
    ino: int
    name: bytes
    filetype: Filetype


_NO_SUBCLOCK_FLAGS = SubclockFlags(0)
_NO_RW_FLAGS = EventRwFlags(0)


@dataclass(frozen=True, slots=True)
class Subscription:
    """``subscription`` (48 bytes: userdata u64 @0, tag u8 @8, union @16).

    For CLOCK: ``clock_id`` u32 @16, ``timeout`` u64 @24, ``precision`` u64 @32,
    ``flags`` u16 @40. For FD_READ/FD_WRITE: ``fd`` u32 @16.
    """

    userdata: int
    type: EventType
    clock_id: int = 0
    timeout: int = 0
    precision: int = 0
    flags: SubclockFlags = _NO_SUBCLOCK_FLAGS
    fd: int = 0


@dataclass(frozen=True, slots=True)
class Event:
    """``event`` (32 bytes: userdata u64 @0, error u16 @8, type u8 @10,
    fd_readwrite.nbytes u64 @16, fd_readwrite.flags u16 @24)."""

    userdata: int
    error: Errno
    type: EventType
    nbytes: int = 0
    flags: EventRwFlags = _NO_RW_FLAGS


@dataclass(frozen=True, slots=True)
class Prestat:
    """``prestat`` (8 bytes: tag u8 @0, dir.pr_name_len u32 @4)."""

    name: bytes
    tag: PreopenType = PreopenType.DIR
