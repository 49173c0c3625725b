"""The frozen image of a filesystem tree and its fd tables: msgpack bytes.

What is captured is everything the guest can observe: the in-memory tree
(contents, metadata, symlink targets, overlay upper layers and whiteouts),
every inode reachable from an fd even when unlinked, pipes with their
buffered bytes, the fd tables with their descriptions (sharing preserved: two
fds on one description are one description again after unfreeze), offsets,
flags, rights, preopen names, and the inode counter. The class of a
description is not stored: it follows from its inode (``opening.restore``).

Host mounts are stored *by reference* (guest path, host path, mode): their
contents stay on the host. The guest inode numbers of host nodes observed so
far are kept by path and re-attached to the host identity found at unfreeze
time; descriptions of host files are re-opened by path.

Format (msgpack map, ``v`` = 1)::

    {"v": 1, "next_ino": int,
     "mounts": [[guest, host_path | None, mode, dev, root_index], ...],
     "inodes": [[ino, kind, dev, nlink, atim, mtim, ctim, data | None,
                 children [[name, index | None], ...] | None, target | None,
                 parent_index | None, host [mount_index, [path...]] | None,
                 pipe [capacity, buffer] | None, stdio | None, times_override], ...],
     "descs": [[inode_index, rights_base, rights_inheriting, flags, offset,
                preopen | None, host_writable, origin [parent_index, name] | None,
                pipe_end], ...],
     "tables": [[[fd, desc_index], ...], ...]}   # one fd table per process

Several tables sharing the tree (a fork family) are frozen together: the tree
and every description are stored once, so descriptions shared across
processes stay shared and pipe ends are counted over all of them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

import msgpack  # type: ignore[import-untyped]  # msgpack ships no type information

from .errors import FreezeError, MountError
from .fd import Description
from .fdtable import FdTable
from .hostdir import HostDir, MountMode
from .inode import Inode, Kind, Pipe
from .opening import restore
from .sources import Clock, VirtualClock
from .tree import FsTree, Mount

__all__ = ["FREEZE_VERSION", "HostDirs", "decode", "encode"]

FREEZE_VERSION = 1

HostDirs = Mapping[str, "str | os.PathLike[str]"]
"""guest path of a mount -> the host directory to mount there instead."""


class _Order:
    """Inodes and descriptions in the order they are stored, with their indexes."""

    def __init__(self) -> None:
        self.index: dict[int, int] = {}
        self.inodes: list[Inode] = []
        self.dindex: dict[int, int] = {}
        self.descs: list[Description] = []

    def visit(self, node: Inode) -> None:
        """``node`` and everything reachable from it (children, parents)."""
        stack = [node]
        while stack:
            n = stack.pop()
            if id(n) in self.index:
                continue
            self.index[id(n)] = len(self.inodes)
            self.inodes.append(n)
            if n.children:
                stack.extend(c for c in n.children.values() if c is not None)
            if n.parent is not None:
                stack.append(n.parent)

    def add(self, desc: Description) -> None:
        if id(desc) not in self.dindex:
            self.dindex[id(desc)] = len(self.descs)
            self.descs.append(desc)
        self.visit(desc.inode)
        if desc.origin is not None:
            self.visit(desc.origin[0])


def encode(tree: FsTree, tables: Sequence[FdTable]) -> bytes:
    """The image of ``tree`` and the fd tables of the processes sharing it."""
    order = _Order()
    for m in tree.mounts:
        order.visit(m.root)
        for node in m.nodes.values():
            order.visit(node)
    for table in tables:
        for fd in sorted(table.fds):
            order.add(table.fds[fd])
    index = order.index
    image = {
        "v": FREEZE_VERSION,
        "next_ino": tree.next_ino,
        "mounts": [
            [
                m.guest,
                None if m.host is None else str(m.host.host_path),
                m.mode.value,
                m.dev,
                index[id(m.root)],
            ]
            for m in tree.mounts
        ],
        "inodes": [_inode_record(n, index) for n in order.inodes],
        "descs": [_desc_record(d, index) for d in order.descs],
        "tables": [[[fd, order.dindex[id(t.fds[fd])]] for fd in sorted(t.fds)] for t in tables],
    }
    return msgpack.packb(image, use_bin_type=True)  # type: ignore[no-any-return]


def _inode_record(n: Inode, index: dict[int, int]) -> list[Any]:
    children = None
    if n.children is not None:
        children = [[name, None if c is None else index[id(c)]] for name, c in n.children.items()]
    host = None
    if n.host is not None:
        host = [n.host.index, list(n.host_path)]
    pipe = None
    if n.pipe is not None:
        pipe = [n.pipe.capacity, bytes(n.pipe.buffer)]
    return [
        n.ino,
        int(n.kind),
        n.dev,
        n.nlink,
        n.atim,
        n.mtim,
        n.ctim,
        None if n.data is None else bytes(n.data),
        children,
        n.target,
        None if n.parent is None else index[id(n.parent)],
        host,
        pipe,
        n.stdio,
        n.times_override,
    ]


def _desc_record(d: Description, index: dict[int, int]) -> list[Any]:
    origin = None if d.origin is None else [index[id(d.origin[0])], d.origin[1]]
    return [
        index[id(d.inode)],
        d.rights_base,
        d.rights_inheriting,
        d.flags,
        d.offset,
        d.preopen,
        d.host_writable,
        origin,
        d.pipe_end,
    ]


def decode(
    data: bytes, *, clock: Clock | None, host_dirs: HostDirs | None, streams: list[BinaryIO | None]
) -> tuple[FsTree, list[FdTable]]:
    """Rebuild the tree and every fd table (stdio descriptions on ``streams``)."""
    image = _load(data)
    tree = FsTree(clock if clock is not None else VirtualClock())
    tree.next_ino = image["next_ino"]
    records = image["inodes"]
    nodes = [_inode(rec) for rec in records]
    hosts = _mounts(tree, image["mounts"], nodes, host_dirs)
    for n, rec in zip(nodes, records, strict=True):
        _link(tree, n, rec, nodes, hosts)
    descs = [_description(tree, rec, nodes, streams) for rec in image["descs"]]
    tables = []
    for entries in image["tables"]:
        table = FdTable()
        for fd, di in entries:
            table.install(descs[di], fd)
        tables.append(table)
    return tree, tables


def _load(data: bytes) -> dict[str, Any]:
    try:
        image = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException) as exc:
        raise FreezeError(f"not a frozen WasiFs: {exc}") from None
    version = image.get("v") if isinstance(image, dict) else None
    if version != FREEZE_VERSION:
        raise FreezeError(f"unsupported WasiFs image version {version!r}")
    return image  # type: ignore[no-any-return]


def _inode(rec: list[Any]) -> Inode:
    """An inode without its links to others (they may come later)."""
    ino, kind, dev, nlink, atim, mtim, ctim, content = rec[:8]
    n = Inode(ino, Kind(kind), dev, 0)
    n.nlink, n.atim, n.mtim, n.ctim = nlink, atim, mtim, ctim
    if content is not None:
        n.data = bytearray(content)
    n.target = rec[9]
    n.stdio = rec[13]
    n.times_override = bool(rec[14]) if len(rec) > 14 else False
    return n


def _mounts(
    tree: FsTree, records: list[Any], nodes: list[Inode], host_dirs: HostDirs | None
) -> list[HostDir | None]:
    """Mount every recorded mount again (MountError if a host dir is gone)."""
    hosts: list[HostDir | None] = []
    try:
        for i, (guest, host_path, mode, dev, root_idx) in enumerate(records):
            hd = None
            if host_path is not None:
                if host_dirs is not None and guest in host_dirs:
                    host_path = os.fspath(host_dirs[guest])
                hd = HostDir(host_path, MountMode(mode), i)
            hosts.append(hd)
            tree.mounts.append(Mount(guest, nodes[root_idx], hd, MountMode(mode), dev))
    except MountError:
        tree.close()
        raise
    return hosts


def _link(
    tree: FsTree, n: Inode, rec: list[Any], nodes: list[Inode], hosts: list[HostDir | None]
) -> None:
    """Children, parent, host identity and pipe of one inode."""
    children, parent, host, pipe = rec[8], rec[10], rec[11], rec[12]
    if children is not None:
        n.children = {name: (None if c is None else nodes[c]) for name, c in children}
    if parent is not None:
        n.parent = nodes[parent]
    if host is not None:
        hd = hosts[host[0]]
        assert hd is not None
        n.host = hd
        n.host_path = tuple(host[1])
        tree.mounts[host[0]].nodes[n.host_path] = n
        st = hd.lstat(n.host_path)
        if st is not None:
            tree.host_ids.setdefault((hd.index, st.st_dev, st.st_ino), n.ino)
    if pipe is not None:
        n.pipe = Pipe(capacity=pipe[0], buffer=bytearray(pipe[1]))


def _description(
    tree: FsTree, rec: list[Any], nodes: list[Inode], streams: list[BinaryIO | None]
) -> Description:
    inode_idx, base, inh, flags, offset, preopen, host_writable, origin, pipe_end = rec
    d = restore(
        tree,
        nodes[inode_idx],
        base,
        inh,
        flags,
        preopen=preopen,
        pipe_end=pipe_end,
        host_writable=host_writable,
        origin=None if origin is None else (nodes[origin[0]], origin[1]),
        streams=streams,
    )
    d.offset = offset
    return d
