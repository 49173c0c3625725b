"""File descriptors and the open file descriptions they share.

A ``Description`` is POSIX's *open file description*: the inode, the offset,
the status flags and the rights.  The ``FdTable`` maps fd numbers to
descriptions; ``dup``/``fd_dup2``/``fd_renumber`` and ``fork`` make several fds
(possibly in several tables) point at *one* description, so they share the
offset and flags.  A description is released (host fd closed, pipe end
counted down) when the last fd referring to it is closed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .inode import Inode, Kind
from .wasi_types import Errno, Rights, WasiError

if TYPE_CHECKING:
    pass

__all__ = [
    "Description",
    "FdTable",
    "DIR_RIGHTS",
    "FILE_RIGHTS",
    "DIR_INHERITING",
    "rights_for",
]

R = Rights

FILE_RIGHTS: int = int(
    R.FD_DATASYNC
    | R.FD_READ
    | R.FD_SEEK
    | R.FD_FDSTAT_SET_FLAGS
    | R.FD_SYNC
    | R.FD_TELL
    | R.FD_WRITE
    | R.FD_ADVISE
    | R.FD_ALLOCATE
    | R.FD_FILESTAT_GET
    | R.FD_FILESTAT_SET_SIZE
    | R.FD_FILESTAT_SET_TIMES
    | R.POLL_FD_READWRITE
)
"""Rights that make sense on a regular file (and stdio / pipes)."""

DIR_RIGHTS: int = int(
    R.FD_FDSTAT_SET_FLAGS
    | R.FD_SYNC
    | R.FD_ADVISE
    | R.PATH_CREATE_DIRECTORY
    | R.PATH_CREATE_FILE
    | R.PATH_LINK_SOURCE
    | R.PATH_LINK_TARGET
    | R.PATH_OPEN
    | R.FD_READDIR
    | R.PATH_READLINK
    | R.PATH_RENAME_SOURCE
    | R.PATH_RENAME_TARGET
    | R.PATH_FILESTAT_GET
    | R.PATH_FILESTAT_SET_SIZE
    | R.PATH_FILESTAT_SET_TIMES
    | R.FD_FILESTAT_GET
    | R.FD_FILESTAT_SET_TIMES
    | R.PATH_SYMLINK
    | R.PATH_REMOVE_DIRECTORY
    | R.PATH_UNLINK_FILE
    | R.POLL_FD_READWRITE
)
"""Rights that make sense on a directory.  No FD_DATASYNC: wasi-libc's
``fcntl(F_GETFL)`` counts it as a *write* right, and a directory must read
back as ``O_RDONLY``."""

STDIN_RIGHTS: int = int(R.FD_READ | R.FD_FDSTAT_SET_FLAGS | R.FD_FILESTAT_GET | R.POLL_FD_READWRITE)
STDOUT_RIGHTS: int = int(R.FD_WRITE | R.FD_FDSTAT_SET_FLAGS | R.FD_FILESTAT_GET | R.POLL_FD_READWRITE)
"""stdio rights: stdin reads back as O_RDONLY, stdout/stderr as O_WRONLY
(``fcntl(F_GETFL)`` derives the access mode from the rights), and neither has
FD_SEEK/FD_TELL, which is also what makes wasi-libc's ``isatty`` say yes."""

DIR_INHERITING = DIR_RIGHTS | FILE_RIGHTS
"""What a preopened directory passes on to what is opened beneath it."""


PIPE_READ = 1
PIPE_WRITE = 2


def rights_for(kind: Kind) -> int:
    """The largest base rights an fd of this kind can hold."""
    return DIR_RIGHTS if kind is Kind.DIRECTORY else FILE_RIGHTS


class Description:
    """An open file description (shared by dup'ed / forked / renumbered fds).

    Rights and flags are plain ints (``Rights``/``FdFlags`` values): enum
    flag arithmetic costs microseconds and these are tested on every call.

    ``host_fd`` is an OS fd for host-backed regular files; ``origin`` is the
    (parent directory, name) the file was opened through, kept so that an
    OVERLAY mount can copy the file up to memory later.  ``refs`` counts the
    fd-table entries (over all forked tables) that point here.
    """

    __slots__ = (
        "inode",
        "rights_base",
        "rights_inheriting",
        "flags",
        "offset",
        "refs",
        "host_fd",
        "host_writable",
        "preopen",
        "origin",
        "pipe_end",
    )

    def __init__(
        self,
        inode: Inode,
        rights_base: int,
        rights_inheriting: int,
        flags: int = 0,
        *,
        preopen: str | None = None,
        pipe_end: int = 0,
    ) -> None:
        self.inode = inode
        self.rights_base = rights_base
        self.rights_inheriting = rights_inheriting
        self.flags = flags
        self.offset = 0
        self.refs = 0
        self.host_fd = -1
        self.host_writable = False
        self.preopen = preopen
        self.origin: tuple[Inode, str] | None = None
        # 1 = read end, 2 = write end of ``inode.pipe`` (not derived from the
        # rights, which the guest may narrow with fd_fdstat_set_rights).
        self.pipe_end = pipe_end
        pipe = inode.pipe
        if pipe is not None:
            if pipe_end == PIPE_READ:
                pipe.readers += 1
            elif pipe_end == PIPE_WRITE:
                pipe.writers += 1

    def release(self) -> None:
        """The last fd went away: free OS resources and pipe ends."""
        if self.host_fd >= 0:
            try:
                os.close(self.host_fd)
            except OSError:
                pass
            self.host_fd = -1
        pipe = self.inode.pipe
        if pipe is not None:
            if self.pipe_end == PIPE_READ:
                pipe.readers -= 1
            elif self.pipe_end == PIPE_WRITE:
                pipe.writers -= 1

    def require(self, right: int) -> None:
        if not self.rights_base & right:
            raise WasiError(Errno.NOTCAPABLE, f"missing right {Rights(right)!r}")

    def __repr__(self) -> str:
        return f"<Description {self.inode!r} off={self.offset} flags={self.flags!r}>"


class FdTable:
    """fd number -> Description for one process."""

    __slots__ = ("fds", "max_fds")

    def __init__(self, max_fds: int = 1 << 20) -> None:
        self.fds: dict[int, Description] = {}
        self.max_fds = max_fds

    def get(self, fd: int) -> Description:
        try:
            return self.fds[fd]
        except KeyError:
            raise WasiError(Errno.BADF, f"fd {fd}") from None

    def lowest_free(self, minimum: int = 0) -> int:
        fd = minimum
        fds = self.fds
        while fd in fds:
            fd += 1
        if fd >= self.max_fds:
            raise WasiError(Errno.MFILE)
        return fd

    def install(self, desc: Description, fd: int | None = None, minimum: int = 0) -> int:
        """Put ``desc`` at ``fd`` (closing what was there) or at the lowest free slot."""
        if fd is None:
            fd = self.lowest_free(minimum)
        else:
            old = self.fds.get(fd)
            if old is desc:
                return fd
            if old is not None:
                self._drop(old)
        desc.refs += 1
        self.fds[fd] = desc
        return fd

    def _drop(self, desc: Description) -> None:
        desc.refs -= 1
        if desc.refs <= 0:
            desc.release()

    def close(self, fd: int) -> None:
        desc = self.fds.pop(fd, None)
        if desc is None:
            raise WasiError(Errno.BADF, f"fd {fd}")
        self._drop(desc)

    def renumber(self, fd: int, to: int) -> None:
        desc = self.get(fd)
        self.get(to)  # wasmtime requires the target to be open: BADF otherwise
        if fd == to:
            return
        self.install(desc, to)
        self.close(fd)

    def fork(self) -> FdTable:
        """A new table with the same fds pointing at the same descriptions."""
        child = FdTable(self.max_fds)
        child.fds = dict(self.fds)
        for desc in child.fds.values():
            desc.refs += 1
        return child

    def close_all(self) -> None:
        for fd in list(self.fds):
            self.close(fd)
