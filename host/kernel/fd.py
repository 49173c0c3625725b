"""``Description``: an open file description, the base of one class per kind of fd.

A description is POSIX's *open file description*: the inode, the offset, the
status flags and the rights, shared by every fd that ``dup``, ``fd_renumber``
or ``fork`` made from it. As in browser_wasi_shim's ``Fd``, each operation a
kind may not support answers an errno here, and each kind overrides only what
it supports:

* ``streams.StdinFile``, ``streams.StdoutFile``: the stdio consoles;
* ``streams.PipeEnd``: one end of an in-memory WASIX pipe;
* ``files.MemFile``: an in-memory regular file; ``files.DirFile``: a directory;
* ``hostfile.HostFile`` (``OverlayFile``), ``hostfile.HostDirFile``: the
  regular files and directories of a host mount, with an OS fd behind them.

The defaults are what wasmtime answers for a stream (stdio, a pipe): no
seeking (ESPIPE), no advice, sync, times or status flags (EBADF), no size
(EINVAL), no allocation (ENOTSUP). The kernel checks the rights an operation
needs in general (FD_READ for reading...) before delegating; a class checks
those whose errno depends on the kind (fd_seek on a pipe is ESPIPE whatever
its rights).

Every class has the same fields (``__slots__`` are declared once, here): that
is what ``freeze`` stores, and it lets an ``OverlayFile`` turn into a
``MemFile`` in place when its file is copied up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

from .rights import R_POLL
from .wasi_types import (
    Dirent,
    Errno,
    Event,
    EventRwFlags,
    EventType,
    Filestat,
    Filetype,
    Subscription,
    WasiError,
)

if TYPE_CHECKING:
    from .inode import Inode
    from .tree import FsTree

__all__ = ["MAX_IO", "Description", "ready"]

I64_MAX = (1 << 63) - 1
"""Largest file offset or size the host can represent (off_t)."""
MAX_IO = 64 << 20
"""Largest single host read: a short read is legal and a guest's 4 GiB iovec
must not make the host allocate 4 GiB up front."""


def ready(sub: Subscription, nbytes: int, hangup: bool = False) -> Event:
    """The event of a subscription that is ready."""
    flags = EventRwFlags.FD_READWRITE_HANGUP if hangup else EventRwFlags(0)
    return Event(sub.userdata, Errno.SUCCESS, EventType(sub.type), nbytes, flags)


class Description:
    """An open file description (shared by dup'ed / forked / renumbered fds).

    ``refs`` counts the fd-table entries (over all forked tables) that point
    here; ``release`` runs when the last one closes. ``tree`` is the
    filesystem the description belongs to (its clock, limits and metadata).
    Fields only some kinds use: ``preopen`` (the guest path of a preopened
    directory), ``host_fd``/``host_writable`` (the OS fd of a host file or
    directory), ``origin`` (the directory entry an overlay file was opened
    through, to copy it up later), ``pipe_end`` (1 read, 2 write),
    ``streams`` (the process's stdio streams, for the consoles).
    """

    __slots__ = (
        "flags",
        "host_fd",
        "host_writable",
        "inode",
        "offset",
        "origin",
        "pipe_end",
        "preopen",
        "refs",
        "rights_base",
        "rights_inheriting",
        "streams",
        "tree",
    )

    def __init__(
        self,
        tree: FsTree,
        inode: Inode,
        rights_base: int,
        rights_inheriting: int = 0,
        flags: int = 0,
    ) -> None:
        self.tree = tree
        self.inode = inode
        self.rights_base = rights_base
        self.rights_inheriting = rights_inheriting
        self.flags = flags
        self.offset = 0
        self.refs = 0
        self.preopen: str | None = None
        self.host_fd = -1
        self.host_writable = False
        self.origin: tuple[Inode, str] | None = None
        self.pipe_end = 0
        self.streams: list[BinaryIO | None] | None = None

    def release(self) -> None:
        """The last fd went away: free what the description holds."""

    @property
    def stdio_slot(self) -> int:
        """1 or 2 when this is the stdout or stderr console, else 0 (the fd table
        keeps a map of them for the recorder)."""
        return self.inode.stdio or 0

    def need(self, right: int) -> None:
        if not self.rights_base & right:
            raise WasiError(Errno.NOTCAPABLE)

    # -- data ------------------------------------------------------------

    def read(self, size: int) -> bytes:
        raise WasiError(Errno.BADF)

    def write(self, data: bytes) -> int:
        raise WasiError(Errno.BADF)

    def pread(self, size: int, offset: int) -> bytes:
        raise WasiError(Errno.SPIPE)

    def pwrite(self, data: bytes, offset: int) -> int:
        raise WasiError(Errno.SPIPE)

    def seek(self, offset: int, whence: int) -> int:
        raise WasiError(Errno.SPIPE)

    def tell(self) -> int:
        raise WasiError(Errno.SPIPE)

    def readdir(self, cookie: int) -> Iterator[Dirent]:
        raise WasiError(Errno.BADF, "fd_readdir on a non-directory")  # as wasmtime

    # -- status, metadata, hints -------------------------------------------

    def filetype(self) -> Filetype:
        return self.inode.kind.filetype

    def filestat(self) -> Filestat:
        tree = self.tree
        tree.fresh()
        return tree.stat(self.inode)

    def set_flags(self, flags: int) -> None:
        # wasmtime: only regular files take status flags (stdio, directories: EBADF).
        raise WasiError(Errno.BADF, "fdflags can only be set on regular files")

    def set_size(self, size: int) -> None:
        raise WasiError(Errno.INVAL, "not a regular file")

    def set_times(self, atim: int | None, mtim: int | None) -> None:
        raise WasiError(Errno.BADF, "no times on streams")  # as wasmtime

    def advise(self, advice: int) -> None:
        raise WasiError(Errno.BADF, "advice is for regular files")  # as wasmtime

    def allocate(self) -> None:
        # Not supported, as in wasmtime (the reference): posix_fallocate gets
        # ENOTSUP and the file does not grow.
        raise WasiError(Errno.NOTSUP, "fd_allocate is not supported")

    def sync(self, datasync: bool) -> None:
        raise WasiError(Errno.BADF, "cannot sync a stream")  # as wasmtime

    # -- poll_oneoff -------------------------------------------------------

    def poll(self, sub: Subscription) -> tuple[Event | None, int | None]:
        """(event if ready now, host fd to wait on if it may become ready).

        As in wasmtime, a subscription that can never be served fails the
        whole poll_oneoff with EBADF (a directory, reading stdout...)."""
        raise WasiError(Errno.BADF, "cannot poll this fd")

    def _pollable(self, sub: Subscription) -> Event | None:
        """The event answering a subscription the fd has no right to."""
        if self.rights_base & R_POLL:
            return None
        return Event(sub.userdata, Errno.NOTCAPABLE, EventType(sub.type))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.inode!r} off={self.offset} flags={self.flags!r}>"
