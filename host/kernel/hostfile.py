"""The fds of a host mount: regular files and directories with an OS fd
behind them. Every ``os`` call an open file makes lives here.

An OVERLAY mount's lower file opened without a modifying right stays a host
file (``OverlayFile``) until the file is copied up into memory, by another fd
or by ``futimens`` on this one: the copy-up changes the inode in place, and
the description then turns into a ``MemFile`` at its next call.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .fd import MAX_IO
from .files import DirFile, MemFile, RegularFile
from .hostdir import MountMode, wasi_error_from_os
from .rights import F_APPEND, R_FILESTAT_SET_TIMES
from .wasi_types import Errno, Filestat, WasiError

if TYPE_CHECKING:
    from .inode import Inode
    from .tree import FsTree

__all__ = ["HostDirFile", "HostFile", "OverlayFile"]

_F = TypeVar("_F", bound=Callable[..., Any])


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _fstat(fd: int) -> os.stat_result:
    try:
        return os.fstat(fd)
    except OSError as exc:
        raise wasi_error_from_os(exc) from None


def _fsync(fd: int, datasync: bool) -> None:
    try:
        (os.fdatasync if datasync else os.fsync)(fd)
    except OSError as exc:
        raise wasi_error_from_os(exc) from None


def _futimens(fd: int, atim: int | None, mtim: int | None) -> None:
    """Set the times given (None keeps the current one)."""
    try:
        st = os.fstat(fd)
        os.utime(
            fd,
            ns=(st.st_atime_ns if atim is None else atim, st.st_mtime_ns if mtim is None else mtim),
        )
    except OSError as exc:
        raise wasi_error_from_os(exc) from None


class HostFile(RegularFile):
    """A regular file of a WRITE_THROUGH or READ_ONLY mount, read and written
    with ``pread``/``pwrite`` at the description's offset on ``host_fd``.

    ``host_fd`` is -1 when the file could not be re-opened by path after an
    unfreeze: its I/O then fails with EBADF."""

    __slots__ = ()

    def __init__(
        self,
        tree: FsTree,
        inode: Inode,
        rights: int,
        inheriting: int,
        flags: int,
        host_fd: int,
        writable: bool,
    ) -> None:
        super().__init__(tree, inode, rights, inheriting, flags)
        self.host_fd = host_fd
        self.host_writable = writable

    def release(self) -> None:
        if self.host_fd >= 0:
            _close(self.host_fd)
            self.host_fd = -1

    def _fd(self) -> int:
        fd = self.host_fd
        if fd < 0:
            raise WasiError(Errno.BADF, "the host file could not be re-opened")
        return fd

    def size(self) -> int:
        return _fstat(self.host_fd).st_size if self.host_fd >= 0 else 0

    def read(self, size: int) -> bytes:
        try:
            out = os.pread(self._fd(), min(size, MAX_IO), self.offset)
        except OSError as exc:
            raise wasi_error_from_os(exc) from None
        self.offset += len(out)
        return out

    def pread(self, size: int, offset: int) -> bytes:
        try:
            return os.pread(self._fd(), min(size, MAX_IO), offset)
        except OSError as exc:
            raise wasi_error_from_os(exc) from None

    def write(self, data: bytes) -> int:
        fd = self._fd()
        try:
            off = os.fstat(fd).st_size if self.flags & F_APPEND else self.offset
            n = os.pwrite(fd, data, off)
        except OSError as exc:
            raise wasi_error_from_os(exc) from None
        self.offset = off + n
        return n

    def pwrite(self, data: bytes, offset: int) -> int:
        fd = self._fd()
        try:
            if self.flags & F_APPEND:
                offset = os.fstat(fd).st_size  # appends whatever the offset, as Linux
            return os.pwrite(fd, data, offset)
        except OSError as exc:
            raise wasi_error_from_os(exc) from None

    def sync(self, datasync: bool) -> None:
        super().sync(datasync)
        if self.host_fd >= 0:
            _fsync(self.host_fd, datasync)

    def _truncate(self, size: int) -> None:
        try:
            os.ftruncate(self._fd(), size)
        except OSError as exc:
            raise wasi_error_from_os(exc) from None

    def _set_times(self, atim: int | None, mtim: int | None) -> None:
        node = self.inode
        if self.host_fd < 0:
            self.tree.set_times(node, atim, mtim, None)
        elif node.host is not None and node.host.mode is MountMode.READ_ONLY:
            raise WasiError(Errno.ROFS)
        else:
            _futimens(self.host_fd, atim, mtim)

    def filestat(self) -> Filestat:
        if self.host_fd < 0:
            return super().filestat()
        return self.tree.host_filestat(self.inode, _fstat(self.host_fd))


def _unless_copied_up(method: _F) -> _F:
    """``method`` of a lower file, or, once the file is in memory, the same
    method of the ``MemFile`` the description becomes."""
    name = method.__name__

    def call(self: OverlayFile, *args: Any) -> Any:
        if self.inode.data is not None:
            return getattr(self.to_memory(), name)(*args)
        return method(self, *args)

    call.__name__ = call.__qualname__ = name
    return cast(_F, call)


class OverlayFile(HostFile):
    """A lower file of an OVERLAY mount opened without a modifying right
    (such an open copies the file up and gets a ``MemFile``). ``origin`` is
    the (directory, name) it was opened through, to copy it up for
    ``futimens``."""

    __slots__ = ()

    def __init__(
        self,
        tree: FsTree,
        inode: Inode,
        rights: int,
        inheriting: int,
        flags: int,
        host_fd: int,
        origin: tuple[Inode, str] | None,
    ) -> None:
        super().__init__(tree, inode, rights, inheriting, flags, host_fd, False)
        self.origin = origin

    def to_memory(self) -> MemFile:
        """The file was copied up: from now on this description is a MemFile
        (every description class has the same fields, so only the class
        changes; offset, flags and sharing stay)."""
        self.release()
        self.__class__ = MemFile  # type: ignore[assignment]  # the in-place switch described above
        return cast(MemFile, self)

    size = _unless_copied_up(HostFile.size)
    read = _unless_copied_up(HostFile.read)
    pread = _unless_copied_up(HostFile.pread)
    write = _unless_copied_up(HostFile.write)
    pwrite = _unless_copied_up(HostFile.pwrite)
    sync = _unless_copied_up(HostFile.sync)
    filestat = _unless_copied_up(HostFile.filestat)
    _truncate = _unless_copied_up(HostFile._truncate)

    def _set_times(self, atim: int | None, mtim: int | None) -> None:
        # The host is never modified: the file moves up first.
        if self.inode.data is None:
            self.tree.fresh()
            if self.origin is None:
                raise WasiError(Errno.ROFS)
            self.tree.copy_up(self.origin[0], self.origin[1], self.inode)
        self.to_memory()._set_times(atim, mtim)


class HostDirFile(DirFile):
    """A directory of a host mount opened by the guest. Paths under it are
    resolved by path, never through this fd (see docs/wasifs.md); the OS fd
    only answers ``fstat``, ``fsync`` and ``futimens`` on the directory
    itself, so those still work after it was moved or removed, as on a host."""

    __slots__ = ()

    def __init__(
        self, tree: FsTree, inode: Inode, rights: int, inheriting: int, flags: int, host_fd: int
    ) -> None:
        super().__init__(tree, inode, rights, inheriting, flags)
        self.host_fd = host_fd

    def release(self) -> None:
        if self.host_fd >= 0:
            _close(self.host_fd)
            self.host_fd = -1

    def filestat(self) -> Filestat:
        if self.host_fd < 0:
            return super().filestat()
        return self.tree.host_filestat(self.inode, _fstat(self.host_fd))

    def sync(self, datasync: bool) -> None:
        super().sync(datasync)
        if self.host_fd >= 0:
            _fsync(self.host_fd, datasync)

    def set_times(self, atim: int | None, mtim: int | None) -> None:
        hd = self.inode.host
        if self.host_fd < 0 or hd is None or hd.mode is not MountMode.WRITE_THROUGH:
            # OVERLAY: kept on the inode in front of the host's; READ_ONLY: EROFS.
            super().set_times(atim, mtim)
            return
        self.need(R_FILESTAT_SET_TIMES)
        if atim is not None or mtim is not None:
            _futimens(self.host_fd, atim, mtim)
