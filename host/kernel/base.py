"""``KernelBase``: the state the kernel's syscall groups (``fdcalls``,
``pathcalls``, ``pollcalls``) share, and the fd lookups they all make."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .inode import Kind
from .wasi_types import Errno, FstFlags, WasiError

if TYPE_CHECKING:
    from .fd import Description
    from .fdtable import FdTable
    from .sources import Clock, RandomSource
    from .tree import FsTree
    from .wasifs import WasiFs

__all__ = ["KernelBase"]

_DIR = Kind.DIRECTORY


def _check_fst_flags(fst_flags: int) -> tuple[bool, bool, bool, bool]:
    atim, atim_now = bool(fst_flags & FstFlags.ATIM), bool(fst_flags & FstFlags.ATIM_NOW)
    mtim, mtim_now = bool(fst_flags & FstFlags.MTIM), bool(fst_flags & FstFlags.MTIM_NOW)
    if (atim and atim_now) or (mtim and mtim_now) or fst_flags & ~0xF:
        raise WasiError(Errno.INVAL, "conflicting fst_flags")
    return atim, atim_now, mtim, mtim_now


class KernelBase:
    """What every syscall group reads: the process's filesystem and sources.

    ``_fds`` is the fd table's dict itself (one lookup on hot paths), ``_now``
    the clock's bound ``now``."""

    args: list[bytes]
    env: list[bytes]
    clock: Clock
    random: RandomSource
    fs: WasiFs
    _tree: FsTree
    _fdt: FdTable
    _fds: dict[int, Description]
    _now: Callable[[int], int]

    def _bind(self, fs: WasiFs) -> None:
        """Cache the parts of ``fs`` the syscalls use."""
        self.fs = fs
        self._tree = fs.tree
        self._fdt = fs.fds
        self._fds = fs.fds.fds
        self._now = self.clock.now

    def _desc(self, fd: int) -> Description:
        try:
            return self._fds[fd]
        except KeyError:
            raise WasiError(Errno.BADF, f"fd {fd}") from None

    def _dir(self, fd: int, right: int) -> Description:
        """The directory fd a path operation is relative to, with ``right``."""
        desc = self._desc(fd)
        if desc.inode.kind is not _DIR:
            # wasmtime: a path operation relative to a non-directory fd is EBADF
            # (path_open alone says ENOTDIR, see there).
            raise WasiError(Errno.BADF, "not a directory fd")
        if not desc.rights_base & right:
            raise WasiError(Errno.NOTCAPABLE)
        return desc

    def _times(self, fst_flags: int, atim: int, mtim: int) -> tuple[int | None, int | None]:
        """The (atim, mtim) to set, None for one left unchanged (EINVAL for
        conflicting flags, checked before anything else)."""
        a, a_now, m, m_now = _check_fst_flags(fst_flags)
        now = self._now(0) if (a_now or m_now) else 0
        return (atim if a else now if a_now else None, mtim if m else now if m_now else None)
