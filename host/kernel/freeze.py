"""``freeze``/``unfreeze`` of a ``WasiFs`` to msgpack bytes.

What is captured is everything the guest can observe: the in-memory tree
(contents, metadata, symlink targets, overlay upper layers and whiteouts),
every inode reachable from an fd even when unlinked, pipes with their
buffered bytes, the fd table with its descriptions (sharing preserved: two fds
on one description are one description again after unfreeze), offsets,
flags, rights, preopen names, and the inode counter.

Host mounts are stored *by reference* (guest path, host path, mode): their
contents stay on the host.  The guest inode numbers of host nodes observed so
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

A fork family (processes sharing one tree) is frozen together with
``freeze_family``: the tree and every description are stored once, so
descriptions shared across processes stay shared and pipe ends are counted
over all of them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import msgpack  # type: ignore[import-untyped]  # msgpack ships no type information

from .errors import FreezeError, MountError
from .fd import Description
from .fdtable import FdTable
from .hostdir import HostDir, MountMode
from .inode import Inode, Kind, Pipe
from .opening import restore
from .sources import Clock, VirtualClock
from .tree import FsTree, Mount
from .wasifs import Stdio, WasiFs

__all__ = ["FREEZE_VERSION", "FreezeError", "freeze_family", "freeze_fs", "unfreeze_family", "unfreeze_fs"]

FREEZE_VERSION = 1


def freeze_fs(fs: WasiFs) -> bytes:
    """Freeze one process's view (its fd table and the whole tree)."""
    return freeze_family([fs])


def freeze_family(processes: Sequence[WasiFs]) -> bytes:
    """Freeze several processes that share one tree (a fork family).

    The tree is stored once and a description shared by fds of different
    processes is stored once, so sharing survives ``unfreeze_family``.
    """
    if not processes:
        raise ValueError("freeze_family needs at least one process")
    tree = processes[0].tree
    if any(p.tree is not tree for p in processes):
        raise ValueError("freeze_family: the processes do not share one filesystem tree")
    index: dict[int, int] = {}
    order: list[Inode] = []

    def visit(node: Inode | None) -> None:
        if node is None or id(node) in index:
            return
        stack = [node]
        while stack:
            n = stack.pop()
            if id(n) in index:
                continue
            index[id(n)] = len(order)
            order.append(n)
            if n.children:
                stack.extend(c for c in n.children.values() if c is not None)
            if n.parent is not None:
                stack.append(n.parent)

    for m in tree.mounts:
        visit(m.root)
        for node in m.nodes.values():
            visit(node)
    descs: list[Description] = []
    dindex: dict[int, int] = {}
    for fs in processes:
        for fd in sorted(fs.fds.fds):
            desc = fs.fds.fds[fd]
            if id(desc) not in dindex:
                dindex[id(desc)] = len(descs)
                descs.append(desc)
            visit(desc.inode)
            if desc.origin is not None:
                visit(desc.origin[0])

    mount_index = {id(m.host): i for i, m in enumerate(tree.mounts) if m.host is not None}

    def inode_record(n: Inode) -> list[Any]:
        children = None
        if n.children is not None:
            children = [[name, None if c is None else index[id(c)]] for name, c in n.children.items()]
        host = None
        if n.host is not None:
            host = [mount_index[id(n.host)], list(n.host_path)]
        pipe = None
        if n.pipe is not None:
            p = n.pipe
            pipe = [p.capacity, bytes(p.buffer)]
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

    image = {
        "v": FREEZE_VERSION,
        "next_ino": tree.next_ino,
        "mounts": [
            [m.guest, None if m.host is None else str(m.host.host_path), m.mode.value, m.dev, index[id(m.root)]]
            for m in tree.mounts
        ],
        "inodes": [inode_record(n) for n in order],
        "descs": [
            [
                index[id(d.inode)],
                d.rights_base,
                d.rights_inheriting,
                d.flags,
                d.offset,
                d.preopen,
                d.host_writable,
                None if d.origin is None else [index[id(d.origin[0])], d.origin[1]],
                d.pipe_end,
            ]
            for d in descs
        ],
        "tables": [[[fd, dindex[id(fs.fds.fds[fd])]] for fd in sorted(fs.fds.fds)] for fs in processes],
    }
    return msgpack.packb(image, use_bin_type=True)  # type: ignore[no-any-return]


def unfreeze_fs(
    data: bytes, *, clock: Clock | None = None, host_dirs: Mapping[str, str | os.PathLike[str]] | None = None
) -> WasiFs:
    """Rebuild a frozen process (the first one, for a frozen family)."""
    return unfreeze_family(data, clock=clock, host_dirs=host_dirs)[0]


def unfreeze_family(
    data: bytes, *, clock: Clock | None = None, host_dirs: Mapping[str, str | os.PathLike[str]] | None = None
) -> list[WasiFs]:
    """Rebuild every frozen process, sharing one new tree.

    ``host_dirs`` maps a mount's guest path to the host directory to use
    instead of the recorded one (resuming on another machine, or on a copy).
    """
    try:
        image = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException) as exc:
        raise FreezeError(f"not a frozen WasiFs: {exc}") from None
    if not isinstance(image, dict) or image.get("v") != FREEZE_VERSION:
        raise FreezeError(f"unsupported WasiFs image version {image.get('v') if isinstance(image, dict) else None!r}")
    tree = FsTree(clock if clock is not None else VirtualClock())
    tree.next_ino = image["next_ino"]

    # Inodes first (without links), then links.
    records = image["inodes"]
    nodes: list[Inode] = []
    for rec in records:
        ino, kind, dev, nlink, atim, mtim, ctim, content = rec[:8]
        n = Inode(ino, Kind(kind), dev, 0)
        n.nlink, n.atim, n.mtim, n.ctim = nlink, atim, mtim, ctim
        if content is not None:
            n.data = bytearray(content)
        n.target = rec[9]
        n.stdio = rec[13]
        n.times_override = bool(rec[14]) if len(rec) > 14 else False
        nodes.append(n)

    hosts: list[HostDir | None] = []
    try:
        for i, (guest, host_path, mode, dev, root_idx) in enumerate(image["mounts"]):
            root = nodes[root_idx]
            if host_path is None:
                hosts.append(None)
                tree.mounts.append(Mount(guest, root, None, MountMode(mode), dev))
            else:
                if host_dirs is not None and guest in host_dirs:
                    host_path = os.fspath(host_dirs[guest])
                hd = HostDir(host_path, MountMode(mode), i)
                hosts.append(hd)
                tree.mounts.append(Mount(guest, root, hd, MountMode(mode), dev))
    except MountError:
        tree.close()
        raise

    pipes: dict[int, Pipe] = {}
    for n, rec in zip(nodes, records):
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
            n.pipe = pipes.setdefault(id(n), Pipe(capacity=pipe[0], buffer=bytearray(pipe[1])))

    stdio = Stdio()
    descs: list[Description] = []
    for inode_idx, base, inh, flags, offset, preopen, host_writable, origin, pipe_end in image["descs"]:
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
            streams=stdio.streams,
        )
        d.offset = offset
        descs.append(d)
    family: list[WasiFs] = []
    for table in image["tables"]:
        fds = FdTable()
        for fd, di in table:
            fds.install(descs[di], fd)
        family.append(WasiFs._from_parts(tree, fds, stdio, clock is not None))
    return family
