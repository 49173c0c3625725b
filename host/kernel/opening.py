"""Which description class an inode gets, and opening the host side of it:
the one place that maps (kind, backing, mount mode) to a class, for
``path_open`` and for ``unfreeze``."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

from .fd import Description
from .files import DirFile, MemFile
from .hostdir import MountMode
from .hostfile import HostDirFile, HostFile, OverlayFile
from .inode import Kind
from .streams import PipeEnd, StdinFile, StdoutFile
from .wasi_types import Errno, WasiError

if TYPE_CHECKING:
    from .inode import Inode
    from .tree import FsTree

__all__ = ["open_node", "restore"]


def open_node(
    tree: FsTree,
    node: Inode,
    origin: tuple[Inode | None, str | None],
    rights: int,
    inheriting: int,
    flags: int,
    *,
    modifying: bool,
    trunc: bool,
    created: bool,
) -> Description:
    """The description ``path_open`` installs for a resolved regular file or
    directory. ``origin`` is the (directory, name) it was reached through;
    ``modifying``: opened with a right that changes the file (or O_TRUNC).

    A host file opened so in a READ_ONLY mount is EROFS; in an OVERLAY mount
    it is copied up to memory first (and truncated there)."""
    hd = node.host if node.data is None else None
    if node.kind is Kind.DIRECTORY:
        if hd is not None:
            return HostDirFile(tree, node, rights, inheriting, flags, hd.open_dir(node.host_path))
        return DirFile(tree, node, rights, inheriting, flags)
    parent, name = origin
    if hd is not None and modifying:
        if hd.mode is MountMode.READ_ONLY:
            raise WasiError(Errno.ROFS)
        if hd.mode is MountMode.OVERLAY:
            assert parent is not None and name is not None
            tree.copy_up(parent, name, node)
            hd = None
    if hd is None:
        data = node.data
        if trunc and data:
            del data[:]
            node.mtim = node.ctim = tree.now()
        return MemFile(tree, node, rights, inheriting, flags)
    os_flags = os.O_RDWR if modifying else os.O_RDONLY
    if trunc and not created:
        os_flags |= os.O_TRUNC
    fd = hd.open_file(node.host_path, os_flags)
    if hd.mode is MountMode.OVERLAY:
        via = (parent, name) if parent is not None and name is not None else None
        return OverlayFile(tree, node, rights, inheriting, flags, fd, via)
    return HostFile(tree, node, rights, inheriting, flags, fd, modifying)


def restore(
    tree: FsTree,
    node: Inode,
    rights: int,
    inheriting: int,
    flags: int,
    *,
    preopen: str | None,
    pipe_end: int,
    host_writable: bool,
    origin: tuple[Inode, str] | None,
    streams: list[BinaryIO | None],
) -> Description:
    """A description rebuilt by unfreeze (offset set by the caller). Host
    files and directories are re-opened by path; one that is gone gets no OS
    fd (its I/O fails with EBADF)."""
    hd = node.host if node.data is None else None
    desc: Description
    if node.pipe is not None:
        desc = PipeEnd(tree, node, rights, pipe_end)
    elif node.stdio is not None:
        desc = (StdinFile if node.stdio == 0 else StdoutFile)(tree, node, rights, streams)
    elif node.kind is Kind.DIRECTORY:
        if hd is not None and preopen is None:
            desc = HostDirFile(
                tree, node, rights, inheriting, flags, _reopen(lambda: hd.open_dir(node.host_path))
            )
        else:
            desc = DirFile(tree, node, rights, inheriting, flags, preopen)
    elif hd is None:
        desc = MemFile(tree, node, rights, inheriting, flags)
    else:
        mode = os.O_RDWR if host_writable else os.O_RDONLY
        fd = _reopen(lambda: hd.open_file(node.host_path, mode))
        if hd.mode is MountMode.OVERLAY:
            desc = OverlayFile(tree, node, rights, inheriting, flags, fd, origin)
        else:
            desc = HostFile(tree, node, rights, inheriting, flags, fd, host_writable)
    desc.rights_inheriting = inheriting
    desc.flags = flags
    desc.host_writable = host_writable
    desc.origin = origin
    return desc


def _reopen(opener: Callable[[], int]) -> int:
    try:
        return opener()
    except (OSError, WasiError):
        return -1
