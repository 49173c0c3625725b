"""Regular files and directories: ``RegularFile`` (what every regular file
does: seek, status flags, advice, sizes, times, poll), ``MemFile`` (its bytes
in memory) and ``DirFile`` (a directory: listing, but no data).

Host-backed kinds (``hostfile.py``) override the data and metadata accesses;
the checks stay here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .fd import I64_MAX, Description, ready
from .rights import (
    F_ALL,
    F_APPEND,
    F_SYNCS,
    R_ADVISE,
    R_DATASYNC,
    R_FDSTAT_SET_FLAGS,
    R_FILESTAT_SET_SIZE,
    R_FILESTAT_SET_TIMES,
    R_READDIR,
    R_SEEK,
    R_SYNC,
    R_TELL,
    R_WRITE,
)
from .wasi_types import Advice, Dirent, Errno, Event, EventType, Subscription, WasiError

if TYPE_CHECKING:
    from .inode import Inode
    from .tree import FsTree

__all__ = ["DirFile", "MemFile", "RegularFile"]

_ADVICE = frozenset(a.value for a in Advice)
_join = b"".join
_READ = EventType.FD_READ


class RegularFile(Description):
    """A regular file, wherever its bytes are (``size``, the data methods and
    the ``_truncate``/``_set_times`` hooks are the backing's)."""

    __slots__ = ()

    def size(self) -> int:
        raise NotImplementedError

    def seek(self, offset: int, whence: int) -> int:
        if whence == 1 and offset == 0:
            # lseek(fd, 0, SEEK_CUR) is how libc tells: FD_TELL suffices.
            if not self.rights_base & (R_SEEK | R_TELL):
                raise WasiError(Errno.NOTCAPABLE)
        elif not self.rights_base & R_SEEK:
            raise WasiError(Errno.NOTCAPABLE)
        if whence == 0:
            new = offset
        elif whence == 1:
            new = self.offset + offset
        elif whence == 2:
            new = self.size() + offset
        else:
            raise WasiError(Errno.INVAL, "bad whence")
        if new < 0 or new > I64_MAX:
            raise WasiError(Errno.INVAL, "offset out of range")
        self.offset = new
        return new

    def tell(self) -> int:
        self.need(R_TELL)
        return self.offset

    def set_flags(self, flags: int) -> None:
        self.need(R_FDSTAT_SET_FLAGS)
        if flags & ~F_ALL or flags & F_SYNCS:
            # wasmtime: DSYNC/RSYNC/SYNC cannot be set (EINVAL, flags unchanged)
            raise WasiError(Errno.INVAL, "unknown or synchronized I/O fdflags")
        self.flags = flags

    def advise(self, advice: int) -> None:
        self.need(R_ADVISE)
        if advice not in _ADVICE:
            raise WasiError(Errno.INVAL, "bad advice")
        # Advice is a hint; ignoring it is always correct.

    def sync(self, datasync: bool) -> None:
        self.need(R_SYNC | (R_DATASYNC if datasync else 0))

    def set_size(self, size: int) -> None:
        if not self.rights_base & R_FILESTAT_SET_SIZE or not self.rights_base & R_WRITE:
            # ftruncate on a descriptor not open for writing (wasmtime: opened
            # without FD_WRITE, whatever else was asked for) is EINVAL.
            raise WasiError(Errno.INVAL, "not open for writing")
        if size > I64_MAX:
            raise WasiError(Errno.INVAL, "size out of range")
        self._truncate(size)

    def _truncate(self, size: int) -> None:
        raise NotImplementedError

    def set_times(self, atim: int | None, mtim: int | None) -> None:
        self.need(R_FILESTAT_SET_TIMES)
        if atim is not None or mtim is not None:
            self._set_times(atim, mtim)

    def _set_times(self, atim: int | None, mtim: int | None) -> None:
        raise NotImplementedError

    def poll(self, sub: Subscription) -> tuple[Event | None, int | None]:
        """Always ready (POSIX's answer; wasmtime checks files in a background
        task and sometimes says not yet): bytes left to read, 1 for writing."""
        denied = self._pollable(sub)
        if denied is not None:
            return denied, None
        if sub.type == _READ:
            return ready(sub, max(0, self.size() - self.offset)), None
        return ready(sub, 1), None


class MemFile(RegularFile):
    """A regular file in memory: ``inode.data``, a ``bytearray`` changed in
    place (never copied whole). It cannot grow past the tree's
    ``max_file_size`` (EFBIG); writes stamp mtim/ctim from the tree's clock."""

    __slots__ = ()

    def size(self) -> int:
        return len(self.inode.data)  # type: ignore[arg-type]  # a MemFile's inode always has data

    # fd_read is hot: no assert that the inode has data (a MemFile's always
    # has), and the slice becomes bytes through join, which copies it straight
    # (bytes() of a bytearray takes the slower, generic constructor path).
    def read(self, size: int) -> bytes:
        off = self.offset
        out = _join((self.inode.data[off : off + size],))  # type: ignore[index]  # see above
        self.offset = off + len(out)
        return out

    def pread(self, size: int, offset: int) -> bytes:
        data = self.inode.data
        assert data is not None
        return _join((data[offset : offset + size],))

    def write(self, data: bytes) -> int:
        node = self.inode
        buf = node.data
        assert buf is not None
        n = len(data)
        blen = len(buf)
        off = blen if self.flags & F_APPEND else self.offset
        end = off + n
        if end > blen:
            if not n:
                return 0  # an empty write past the end does not extend the file
            if end > self.tree.max_file_size:
                raise WasiError(Errno.FBIG, "in-memory file size limit")
            if off > blen:
                buf.extend(bytes(off - blen))
        buf[off:end] = data
        self.offset = end
        node.mtim = node.ctim = self.tree.clock.now(0)
        return n

    def pwrite(self, data: bytes, offset: int) -> int:
        node = self.inode
        buf = node.data
        assert buf is not None
        if not data:
            return 0
        blen = len(buf)
        if self.flags & F_APPEND:
            # On an APPEND fd, pwrite appends whatever the offset (what Linux
            # does, so what wasmtime shows); the fd offset never moves.
            offset = blen
        end = offset + len(data)
        if end > self.tree.max_file_size:
            raise WasiError(Errno.FBIG, "in-memory file size limit")
        if offset > blen:
            buf.extend(bytes(offset - blen))
        buf[offset:end] = data
        node.mtim = node.ctim = self.tree.clock.now(0)
        return len(data)

    def _truncate(self, size: int) -> None:
        node = self.inode
        buf = node.data
        assert buf is not None
        if size > self.tree.max_file_size:
            raise WasiError(Errno.FBIG, "in-memory file size limit")
        if size < len(buf):
            del buf[size:]
        elif size > len(buf):
            buf.extend(bytes(size - len(buf)))
        node.mtim = node.ctim = self.tree.clock.now(0)

    def _set_times(self, atim: int | None, mtim: int | None) -> None:
        node = self.inode
        if atim is not None:
            node.atim = atim
        if mtim is not None:
            node.mtim = mtim
        node.ctim = self.tree.clock.now(0)


class DirFile(Description):
    """A directory: in memory, or a host mount's preopened root, whose
    metadata the tree reads through the mount (no OS fd of its own). No data,
    no offset (EBADF, as wasmtime); listing with ``fd_readdir``."""

    __slots__ = ()

    def __init__(
        self,
        tree: FsTree,
        inode: Inode,
        rights: int,
        inheriting: int,
        flags: int = 0,
        preopen: str | None = None,
    ) -> None:
        super().__init__(tree, inode, rights, inheriting, flags)
        self.preopen = preopen

    def pread(self, size: int, offset: int) -> bytes:
        raise WasiError(Errno.BADF)

    def pwrite(self, data: bytes, offset: int) -> int:
        raise WasiError(Errno.BADF)

    def seek(self, offset: int, whence: int) -> int:
        raise WasiError(Errno.BADF, "seek on a directory")

    def tell(self) -> int:
        raise WasiError(Errno.BADF, "tell on a directory")

    def allocate(self) -> None:
        raise WasiError(Errno.BADF, "fd_allocate on a directory")  # as wasmtime

    def set_size(self, size: int) -> None:
        raise WasiError(Errno.BADF, "ftruncate on a directory")

    def sync(self, datasync: bool) -> None:
        self.need(R_SYNC | (R_DATASYNC if datasync else 0))

    def set_times(self, atim: int | None, mtim: int | None) -> None:
        self.need(R_FILESTAT_SET_TIMES)
        if atim is not None or mtim is not None:
            self.tree.set_times(self.inode, atim, mtim, None)

    def readdir(self, cookie: int) -> Iterator[Dirent]:
        """Entries from index ``cookie``: ``.`` and ``..`` (as wasmtime lists
        them), then the children; the cookie of entry i is i + 1."""
        self.need(R_READDIR)
        node = self.inode
        entries: list[tuple[str, Inode]] = [(".", node), ("..", node.parent or node)]
        entries.extend(self.tree.listing(node))
        out = [
            Dirent(i + 1, child.ino, name.encode("utf-8", "surrogateescape"), child.kind.filetype)
            for i, (name, child) in enumerate(entries)
            if i >= cookie
        ]
        return iter(out)
