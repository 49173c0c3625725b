"""The syscalls on an fd: look up the description, check the rights the call
needs whatever the kind, delegate to the description's class (``fd.py``)."""

from __future__ import annotations

from collections.abc import Iterator

from .base import KernelBase
from .fd import I64_MAX
from .inode import Kind, Pipe
from .rights import (
    PIPE_READ_RIGHTS,
    PIPE_WRITE_RIGHTS,
    R_FILESTAT_GET,
    R_READ,
    R_WRITE,
    visible_rights,
)
from .streams import PIPE_READ, PIPE_WRITE, PipeEnd
from .wasi_types import (
    Dirent,
    Errno,
    FdFlags,
    Fdstat,
    Filestat,
    Prestat,
    Rights,
    WasiError,
)

__all__ = ["FdCalls"]


class FdCalls(KernelBase):
    """fd_* (and the WASIX fd subset): I/O, fd management, metadata."""

    # -- reading and writing (hot: no helper calls on the way) --------------

    def fd_read(self, fd: int, size: int) -> bytes:
        try:
            desc = self._fds[fd]
        except KeyError:
            raise WasiError(Errno.BADF) from None
        if not desc.rights_base & R_READ:
            # Not open for reading: wasmtime (and POSIX) answer EBADF.
            raise WasiError(Errno.BADF, "not open for reading")
        return desc.read(size)

    def fd_write(self, fd: int, data: bytes) -> int:
        try:
            desc = self._fds[fd]
        except KeyError:
            raise WasiError(Errno.BADF) from None
        if not desc.rights_base & R_WRITE:
            raise WasiError(Errno.BADF, "not open for writing")
        return desc.write(data)

    def fd_seek(self, fd: int, offset: int, whence: int) -> int:
        try:
            desc = self._fds[fd]
        except KeyError:
            raise WasiError(Errno.BADF) from None
        return desc.seek(offset, whence)

    def fd_tell(self, fd: int) -> int:
        return self._desc(fd).tell()

    def fd_pread(self, fd: int, size: int, offset: int) -> bytes:
        desc = self._desc(fd)
        if not desc.rights_base & R_READ:
            raise WasiError(Errno.BADF, "not open for reading")
        if offset > I64_MAX:
            raise WasiError(Errno.INVAL, "offset out of range")
        return desc.pread(size, offset)

    def fd_pwrite(self, fd: int, data: bytes, offset: int) -> int:
        desc = self._desc(fd)
        if not desc.rights_base & R_WRITE:
            raise WasiError(Errno.BADF, "not open for writing")
        if offset > I64_MAX:
            raise WasiError(Errno.INVAL, "offset out of range")
        return desc.pwrite(data, offset)

    def fd_readdir(self, fd: int, cookie: int) -> Iterator[Dirent]:
        return self._desc(fd).readdir(cookie)

    # -- fd management ------------------------------------------------------

    def fd_close(self, fd: int) -> None:
        self._fdt.close(fd)

    def fd_renumber(self, fd: int, to: int) -> None:
        self._fdt.renumber(fd, to)

    def fd_dup(self, fd: int) -> int:
        return self._fdt.install(self._desc(fd))

    def fd_dup2(self, fd: int, min_result_fd: int, cloexec: int) -> int:
        # There is no exec in WASI, so close-on-exec has nothing to act on.
        return self._fdt.install(self._desc(fd), minimum=min_result_fd)

    def fd_pipe(self) -> tuple[int, int]:
        tree = self._tree
        node = tree.new_inode(Kind.PIPE, 0)
        node.pipe = Pipe()
        rd = PipeEnd(tree, node, PIPE_READ_RIGHTS, PIPE_READ)
        wr = PipeEnd(tree, node, PIPE_WRITE_RIGHTS, PIPE_WRITE)
        r = self._fdt.install(rd)
        try:
            w = self._fdt.install(wr)
        except WasiError:
            self._fdt.close(r)
            wr.release()
            raise
        return r, w

    def stdio_of(self, fd: int) -> int:
        """1 if ``fd`` now refers to the guest's stdout console, 2 for stderr,
        0 otherwise (stdin, anything else, a closed fd). A dup'ed or
        renumbered console counts; a pipe put at fd 1 does not."""
        return self._fdt.stdio.get(fd, 0)

    def is_stdin(self, fd: int) -> bool:
        """Whether ``fd`` now refers to the guest's stdin (what a read of it consumes
        is an input of the run)."""
        desc = self._fds.get(fd)
        return desc is not None and desc.inode.stdio == 0

    @property
    def stdio_fds(self) -> dict[int, int]:
        """The live map behind ``stdio_of`` (fd -> 1 or 2), for callers that ask on
        every write (the recorder). Read-only use."""
        return self._fdt.stdio

    # -- status and metadata ------------------------------------------------

    def fd_fdstat_get(self, fd: int) -> Fdstat:
        desc = self._desc(fd)
        return Fdstat(
            desc.filetype(),
            FdFlags(desc.flags),
            Rights(visible_rights(desc.rights_base)),
            Rights(desc.rights_inheriting),
        )

    def fd_fdstat_set_flags(self, fd: int, flags: int) -> None:
        self._desc(fd).set_flags(flags)

    def fd_fdstat_set_rights(self, fd: int, rights_base: int, rights_inheriting: int) -> None:
        desc = self._desc(fd)
        if (rights_base & ~visible_rights(desc.rights_base)
                or rights_inheriting & ~desc.rights_inheriting):
            raise WasiError(Errno.NOTCAPABLE, "rights can only shrink")
        desc.rights_base = rights_base
        desc.rights_inheriting = rights_inheriting

    def fd_prestat_get(self, fd: int) -> Prestat:
        desc = self._desc(fd)
        if desc.preopen is None:
            raise WasiError(Errno.BADF, "not a preopen")
        return Prestat(desc.preopen.encode("utf-8", "surrogateescape"))

    def fd_prestat_dir_name(self, fd: int) -> bytes:
        return self.fd_prestat_get(fd).name

    def fd_filestat_get(self, fd: int) -> Filestat:
        desc = self._desc(fd)
        desc.need(R_FILESTAT_GET)
        return desc.filestat()

    def fd_filestat_set_size(self, fd: int, size: int) -> None:
        self._desc(fd).set_size(size)

    def fd_filestat_set_times(self, fd: int, atim: int, mtim: int, fst_flags: int) -> None:
        desc = self._desc(fd)
        a, m = self._times(fst_flags, atim, mtim)
        desc.set_times(a, m)

    # -- hints --------------------------------------------------------------

    def fd_advise(self, fd: int, offset: int, length: int, advice: int) -> None:
        self._desc(fd).advise(advice)

    def fd_allocate(self, fd: int, offset: int, length: int) -> None:
        self._desc(fd).allocate()

    def fd_datasync(self, fd: int) -> None:
        self._desc(fd).sync(True)

    def fd_sync(self, fd: int) -> None:
        self._desc(fd).sync(False)
