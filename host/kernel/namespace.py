"""The read side of the filesystem tree: mounts, inode numbering, lookups,
sandboxed path resolution and metadata (``tree.FsTree`` adds the mutations).

The tree is shared by every process of a fork family (processes share a
filesystem; only fd tables are per process), so it holds no fds.

Path resolution is done here, component by component, for in-memory and host
directories alike (like cap-std): ``..`` pops a stack that starts at the
directory the guest passed, so it can never climb above it; absolute paths,
absolute symlink targets and symlinks that climb out fail with PERM (what
wasmtime answers; it does not use NOTCAPABLE for them);
more than ``MAX_SYMLINKS`` expansions fail with LOOP.  Host directories are
only ever touched through ``HostDir``, which walks real directories with
``O_NOFOLLOW``.
"""

from __future__ import annotations

import os
import stat as _stat
from dataclasses import dataclass, field

from .hostdir import HostDir, MountMode
from .inode import Inode, Kind
from .sources import Clock
from .wasi_types import Errno, Filestat, WasiError

__all__ = ["DEFAULT_MAX_FILE_SIZE", "MAX_SYMLINKS", "NAME_MAX", "Mount", "Namespace", "Resolved"]

MAX_SYMLINKS = 40
NAME_MAX = 255
DEFAULT_MAX_FILE_SIZE = 1 << 30
"""In-memory files larger than this fail with EFBIG: a guest seeking to 2**60
and writing one byte must not make the host allocate an exabyte."""

@dataclass(eq=False)
class Mount:
    """A guest directory: an in-memory tmpfs (``host`` None) or a host dir.

    ``nodes`` maps a path relative to a host mount's root to the ``Inode``
    created for it on first observation, so that inode numbers, overlay upper
    layers and open descriptions stay attached to one object.
    """

    guest: str
    root: Inode
    host: HostDir | None
    mode: MountMode
    dev: int
    nodes: dict[tuple[str, ...], Inode] = field(default_factory=dict)


@dataclass(slots=True)
class Resolved:
    """Result of resolving a path.

    ``parent``/``name`` name the final directory entry (both None when the
    path ended on ``.`` or ``..``); ``node`` is the inode there or None when
    the entry does not exist (only possible for the final component).
    """

    parent: Inode | None
    name: str | None
    node: Inode | None
    trailing_slash: bool


def _kind_of(mode: int) -> Kind | None:
    if _stat.S_ISREG(mode):
        return Kind.REGULAR_FILE
    if _stat.S_ISDIR(mode):
        return Kind.DIRECTORY
    if _stat.S_ISLNK(mode):
        return Kind.SYMLINK
    # FIFOs, sockets and devices inside a mounted host directory are hidden:
    # opening a FIFO would block the host and devices are not ours to give.
    return None


class Namespace:
    """Mounts, inode numbering, the host-node cache, lookups and resolution."""

    def __init__(self, clock: Clock, max_file_size: int = DEFAULT_MAX_FILE_SIZE) -> None:
        self.clock = clock
        self.max_file_size = max_file_size
        self.mounts: list[Mount] = []
        self.next_ino = 1
        # (mount index, host st_dev, host st_ino) -> guest inode number
        self.host_ids: dict[tuple[int, int, int], int] = {}

    # -- construction -----------------------------------------------------

    def fresh(self) -> None:
        """Start of a syscall: drop the host mounts' per-call directory fds."""
        for m in self.mounts:
            hd = m.host
            if hd is not None and hd._dirfds:
                hd.invalidate(())

    def now(self) -> int:
        return self.clock.now(0)

    def alloc_ino(self) -> int:
        ino = self.next_ino
        self.next_ino = ino + 1
        return ino

    def new_inode(self, kind: Kind, dev: int) -> Inode:
        node = Inode(self.alloc_ino(), kind, dev, self.now())
        if kind is Kind.REGULAR_FILE:
            node.data = bytearray()
        elif kind is Kind.DIRECTORY:
            node.children = {}
            node.nlink = 2
        return node

    def add_tmpfs(self, guest: str) -> Mount:
        dev = len(self.mounts) + 1
        root = self.new_inode(Kind.DIRECTORY, dev)
        root.parent = root
        mount = Mount(guest, root, None, MountMode.WRITE_THROUGH, dev)
        self.mounts.append(mount)
        return mount

    def add_host(self, guest: str, host_path: os.PathLike[str] | str, mode: MountMode) -> Mount:
        index = len(self.mounts)
        hd = HostDir(host_path, mode, index)  # type: ignore[arg-type]
        root = Inode(self._host_ino(index, hd.stat_root()), Kind.DIRECTORY, index + 1, 0)
        root.host = hd
        root.host_path = ()
        root.parent = root
        mount = Mount(guest, root, hd, mode, index + 1)
        mount.nodes[()] = root
        self.mounts.append(mount)
        return mount

    def close(self) -> None:
        for m in self.mounts:
            if m.host is not None:
                m.host.close()

    @staticmethod
    def _last_link(hd: HostDir, path: tuple[str, ...]) -> tuple[int, int] | None:
        """The host identity of ``path`` if removing it frees the host inode."""
        st = hd.lstat(path)
        if st is None or (st.st_nlink > 1 and not _stat.S_ISDIR(st.st_mode)):
            return None
        return (st.st_dev, st.st_ino)

    def _drop_identity(self, hd: HostDir, ident: tuple[int, int] | None) -> None:
        """Forget a freed host inode, so that a new file the host gives the
        same inode number gets a new guest inode number (as it would after
        a freeze/unfreeze, where identities are re-derived from paths)."""
        if ident is not None:
            self.host_ids.pop((hd.index, ident[0], ident[1]), None)

    def nodes_of(self, hd: HostDir) -> dict[tuple[str, ...], Inode]:
        """The node cache of ``hd``'s mount."""
        return self.mounts[hd.index].nodes

    def rekey(self, hd: HostDir, old: tuple[str, ...], new: tuple[str, ...]) -> None:
        """After a rename, move cached nodes under ``old`` to ``new``."""
        nodes = self.nodes_of(hd)
        n = len(old)
        moved = [(p, node) for p, node in nodes.items() if p[:n] == old]
        for p, _ in moved:
            del nodes[p]
        for p, node in moved:
            np = new + p[n:]
            node.host_path = np
            nodes[np] = node

    def forget(self, hd: HostDir, path: tuple[str, ...]) -> None:
        """After a delete, drop cached nodes at and under ``path``."""
        nodes = self.nodes_of(hd)
        n = len(path)
        for p in [p for p in nodes if p[:n] == path]:
            del nodes[p]

    def _host_ino(self, index: int, st: os.stat_result) -> int:
        key = (index, st.st_dev, st.st_ino)
        ino = self.host_ids.get(key)
        if ino is None:
            ino = self.host_ids[key] = self.alloc_ino()
        return ino

    # -- lookup -----------------------------------------------------------

    def lookup(self, d: Inode, name: str) -> Inode | None:
        """The entry ``name`` of directory ``d`` (None if absent)."""
        ch = d.children
        if d.host is None:
            return ch.get(name)  # type: ignore[union-attr]
        if ch is not None and name in ch:
            return ch[name]
        return self._host_lookup(d, name)

    def _host_lookup(self, d: Inode, name: str) -> Inode | None:
        hd = d.host
        assert hd is not None
        return self._host_node(d, name, hd.lstat(d.host_path + (name,)))

    def _host_node(self, d: Inode, name: str, st: os.stat_result | None) -> Inode | None:
        """The (cached) node for host entry ``name`` of ``d`` whose lstat is ``st``."""
        hd = d.host
        assert hd is not None
        path = d.host_path + (name,)
        nodes = self.nodes_of(hd)
        cached = nodes.get(path)
        if st is None:
            if cached is not None:
                self.forget(hd, path)
            return None
        kind = _kind_of(st.st_mode)
        if kind is None:
            return None
        ino = self._host_ino(hd.index, st)
        if cached is not None and cached.kind is kind and cached.ino == ino:
            return cached
        node = Inode(ino, kind, d.dev, 0)
        node.host = hd
        node.host_path = path
        if kind is Kind.DIRECTORY:
            node.parent = d
        nodes[path] = node
        return node

    def listing(self, d: Inode) -> list[tuple[str, Inode]]:
        """Entries of a directory (no ``.``/``..``) in a deterministic order.

        In-memory directories list in insertion order; host directories in
        sorted byte order of their names, followed by names that exist only
        in an overlay's upper layer (in insertion order).
        """
        ch = d.children
        if d.host is None:
            return [(n, c) for n, c in ch.items() if c is not None]  # type: ignore[union-attr]
        self.fresh()
        upper = ch or {}
        out: list[tuple[str, Inode]] = []
        scanned = d.host.scan(d.host_path)
        names = [n for n, _ in scanned]
        for n, st in scanned:
            if n in upper:
                c = upper[n]
                if c is not None:
                    out.append((n, c))
                continue
            node = self._host_node(d, n, st)
            if node is not None:
                out.append((n, node))
        if upper:
            seen = set(names)
            out.extend((n, c) for n, c in upper.items() if c is not None and n not in seen)
        return out

    def is_empty_dir(self, d: Inode) -> bool:
        ch = d.children
        if d.host is None:
            return not ch
        return not self.listing(d)

    def readlink(self, node: Inode) -> str:
        if node.target is not None:
            return node.target
        if node.host is not None:
            return node.host.readlink(node.host_path)
        raise WasiError(Errno.INVAL, "not a symlink")

    # -- resolution -------------------------------------------------------

    def resolve(self, start: Inode, path: str, follow: bool) -> Resolved:
        """Resolve ``path`` relative to directory ``start`` inside the sandbox."""
        self.fresh()
        if not path:
            raise WasiError(Errno.NOENT, "empty path")
        if "\x00" in path:
            raise WasiError(Errno.INVAL, "NUL in path")
        if path[0] == "/":
            raise WasiError(Errno.PERM, "absolute path")
        trailing = path[-1] == "/"
        queue = path.split("/")
        queue.reverse()
        stack = [start]
        links = 0
        lookup = self.lookup
        while queue:
            comp = queue.pop()
            if comp == "" or comp == ".":
                continue
            if comp == "..":
                if len(stack) == 1:
                    raise WasiError(Errno.PERM, "path escapes its directory")
                stack.pop()
                continue
            if len(comp) > 63 and len(comp.encode("utf-8", "surrogateescape")) > NAME_MAX:
                raise WasiError(Errno.NAMETOOLONG)
            cur = stack[-1]
            child = lookup(cur, comp)
            is_last = not any(queue)  # remaining components are all '' (slashes)
            if child is None:
                if is_last:
                    return Resolved(cur, comp, None, trailing)
                raise WasiError(Errno.NOENT)
            if child.kind is Kind.SYMLINK and (not is_last or follow or trailing):
                links += 1
                if links > MAX_SYMLINKS:
                    raise WasiError(Errno.LOOP)
                target = self.readlink(child)
                if not target:
                    raise WasiError(Errno.NOENT, "empty symlink")
                if target[0] == "/":
                    raise WasiError(Errno.PERM, "absolute symlink")
                if is_last and target[-1] == "/":
                    trailing = True
                parts = target.split("/")
                parts.reverse()
                queue.extend(parts)
                continue
            if is_last:
                if trailing and child.kind is not Kind.DIRECTORY:
                    raise WasiError(Errno.NOTDIR)
                return Resolved(cur, comp, child, trailing)
            if child.kind is not Kind.DIRECTORY:
                raise WasiError(Errno.NOTDIR)
            stack.append(child)
        return Resolved(None, None, stack[-1], trailing)

    # -- metadata ---------------------------------------------------------

    def stat(self, node: Inode) -> Filestat:
        """Metadata of a node (call ``fresh()`` first unless a resolution of
        this same syscall reached it)."""
        if node.host is not None and node.data is None and node.target is None:
            st = node.host.lstat(node.host_path)
            if st is None:
                raise WasiError(Errno.NOENT, "host file vanished")
            return self.host_filestat(node, st)
        kind = node.kind
        if kind is Kind.REGULAR_FILE:
            size = len(node.data)  # type: ignore[arg-type]
        elif kind is Kind.SYMLINK:
            size = len((node.target or "").encode("utf-8", "surrogateescape"))
        elif kind is Kind.PIPE:
            size = len(node.pipe.buffer) if node.pipe is not None else 0
        else:
            size = 0
        return Filestat(node.dev, node.ino, kind.filetype, node.nlink, size,
                        node.atim, node.mtim, node.ctim)

    @staticmethod
    def host_filestat(node: Inode, st: os.stat_result) -> Filestat:
        """Host files report the host's size, link count and timestamps; the
        device and inode numbers are virtual (and times set on an overlay's
        lower directory come from the node)."""
        if node.times_override:
            return Filestat(
                node.dev,
                node.ino,
                node.kind.filetype,
                st.st_nlink,
                st.st_size,
                node.atim,
                node.mtim,
                node.ctim,
            )
        return Filestat(
            node.dev,
            node.ino,
            node.kind.filetype,
            st.st_nlink,
            st.st_size,
            st.st_atime_ns,
            st.st_mtime_ns,
            st.st_ctime_ns,
        )
