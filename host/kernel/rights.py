"""Rights and fd flags as plain ints, and the rights each kind of fd can hold.

Plain ints because ``Rights``/``FdFlags`` (``IntFlag``) arithmetic is far too
slow for checks made on every call.
"""

from __future__ import annotations

from .inode import Kind
from .wasi_types import FdFlags, Rights

R = Rights

R_DATASYNC = int(R.FD_DATASYNC)
R_READ = int(R.FD_READ)
R_SEEK = int(R.FD_SEEK)
R_FDSTAT_SET_FLAGS = int(R.FD_FDSTAT_SET_FLAGS)
R_SYNC = int(R.FD_SYNC)
R_TELL = int(R.FD_TELL)
R_WRITE = int(R.FD_WRITE)
R_ADVISE = int(R.FD_ADVISE)
R_ALLOCATE = int(R.FD_ALLOCATE)
R_PATH_CREATE_DIRECTORY = int(R.PATH_CREATE_DIRECTORY)
R_PATH_CREATE_FILE = int(R.PATH_CREATE_FILE)
R_PATH_LINK_SOURCE = int(R.PATH_LINK_SOURCE)
R_PATH_LINK_TARGET = int(R.PATH_LINK_TARGET)
R_PATH_OPEN = int(R.PATH_OPEN)
R_READDIR = int(R.FD_READDIR)
R_PATH_READLINK = int(R.PATH_READLINK)
R_PATH_RENAME_SOURCE = int(R.PATH_RENAME_SOURCE)
R_PATH_RENAME_TARGET = int(R.PATH_RENAME_TARGET)
R_PATH_FILESTAT_GET = int(R.PATH_FILESTAT_GET)
R_PATH_FILESTAT_SET_SIZE = int(R.PATH_FILESTAT_SET_SIZE)
R_PATH_FILESTAT_SET_TIMES = int(R.PATH_FILESTAT_SET_TIMES)
R_FILESTAT_GET = int(R.FD_FILESTAT_GET)
R_FILESTAT_SET_SIZE = int(R.FD_FILESTAT_SET_SIZE)
R_FILESTAT_SET_TIMES = int(R.FD_FILESTAT_SET_TIMES)
R_PATH_SYMLINK = int(R.PATH_SYMLINK)
R_PATH_REMOVE_DIRECTORY = int(R.PATH_REMOVE_DIRECTORY)
R_PATH_UNLINK_FILE = int(R.PATH_UNLINK_FILE)
R_POLL = int(R.POLL_FD_READWRITE)

R_MODIFY_FILE = R_WRITE | R_ALLOCATE | R_FILESTAT_SET_SIZE
"""Rights that change a file: opening a lower overlay file with one copies it up."""
R_OPEN_FOR_WRITE = R_MODIFY_FILE | R_DATASYNC
"""What wasi-libc's ``fcntl(F_GETFL)`` calls open for writing."""

IMPLIED_SHIFT = 32
"""Write rights that O_CREAT/O_TRUNC granted without being asked for are also
kept ``IMPLIED_SHIFT`` bits higher in ``rights_base`` (WASI rights use bits
0-29), so fd_fdstat_get can report only what the guest asked for (wasi-testsuite
compares the rights of a created fd with those of the same file opened plainly)
while the fd still writes, as wasmtime's does."""


def visible_rights(base: int) -> int:
    """The rights an fd reports: its base rights minus the implied write rights."""
    return base & ~(base >> IMPLIED_SHIFT) & ((1 << IMPLIED_SHIFT) - 1)


F_APPEND = int(FdFlags.APPEND)
F_ALL = int(FdFlags.APPEND | FdFlags.DSYNC | FdFlags.NONBLOCK | FdFlags.RSYNC | FdFlags.SYNC)
F_SYNCS = int(FdFlags.DSYNC | FdFlags.RSYNC | FdFlags.SYNC)
"""Synchronized-I/O fdflags, unsupported as in wasmtime (path_open: ENOTSUP)."""

FILE_RIGHTS: int = (
    R_DATASYNC
    | R_READ
    | R_SEEK
    | R_FDSTAT_SET_FLAGS
    | R_SYNC
    | R_TELL
    | R_WRITE
    | R_ADVISE
    | R_ALLOCATE
    | R_FILESTAT_GET
    | R_FILESTAT_SET_SIZE
    | R_FILESTAT_SET_TIMES
    | R_POLL
)
"""Rights that make sense on a regular file (and stdio / pipes)."""

DIR_RIGHTS: int = (
    R_FDSTAT_SET_FLAGS
    | R_SYNC
    | R_ADVISE
    | R_PATH_CREATE_DIRECTORY
    | R_PATH_CREATE_FILE
    | R_PATH_LINK_SOURCE
    | R_PATH_LINK_TARGET
    | R_PATH_OPEN
    | R_READDIR
    | R_PATH_READLINK
    | R_PATH_RENAME_SOURCE
    | R_PATH_RENAME_TARGET
    | R_PATH_FILESTAT_GET
    | R_PATH_FILESTAT_SET_SIZE
    | R_PATH_FILESTAT_SET_TIMES
    | R_FILESTAT_GET
    | R_FILESTAT_SET_TIMES
    | R_PATH_SYMLINK
    | R_PATH_REMOVE_DIRECTORY
    | R_PATH_UNLINK_FILE
    | R_POLL
)
"""Rights that make sense on a directory.  No FD_DATASYNC: wasi-libc's
``fcntl(F_GETFL)`` counts it as a *write* right, and a directory must read
back as ``O_RDONLY``."""

STDIN_RIGHTS: int = R_READ | R_FDSTAT_SET_FLAGS | R_FILESTAT_GET | R_POLL
STDOUT_RIGHTS: int = R_WRITE | R_FDSTAT_SET_FLAGS | R_FILESTAT_GET | R_POLL
"""stdio rights: stdin reads back as O_RDONLY, stdout/stderr as O_WRONLY
(``fcntl(F_GETFL)`` derives the access mode from the rights), and neither has
FD_SEEK/FD_TELL, which is also what makes wasi-libc's ``isatty`` say yes."""

PIPE_READ_RIGHTS: int = STDIN_RIGHTS
PIPE_WRITE_RIGHTS: int = STDOUT_RIGHTS
"""A pipe end reads (or writes) like stdin (or stdout)."""

DIR_INHERITING = DIR_RIGHTS | FILE_RIGHTS
"""What a preopened directory passes on to what is opened beneath it."""


def rights_for(kind: Kind) -> int:
    """The largest base rights an fd of this kind can hold."""
    return DIR_RIGHTS if kind is Kind.DIRECTORY else FILE_RIGHTS
