"""The filesystem tree: mounts, sandboxed path resolution and tree mutations.

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
from dataclasses import dataclass

from .hostdir import HostDir, MountMode
from .inode import Inode, Kind
from .sources import Clock
from .wasi_types import Errno, Filestat, WasiError

__all__ = ["Mount", "Resolved", "FsTree", "MAX_SYMLINKS", "NAME_MAX", "DEFAULT_MAX_FILE_SIZE"]

MAX_SYMLINKS = 40
NAME_MAX = 255
DEFAULT_MAX_FILE_SIZE = 1 << 30
"""In-memory files larger than this fail with EFBIG: a guest seeking to 2**60
and writing one byte must not make the host allocate an exabyte."""

_MEM, _HOST, _OVERLAY = 0, 1, 2


@dataclass(eq=False)
class Mount:
    """A guest directory: an in-memory tmpfs (``host`` None) or a host dir."""

    guest: str
    root: Inode
    host: HostDir | None
    mode: MountMode
    dev: int


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


class FsTree:
    """Mounts, inode numbering and every path-level operation."""

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
        st = os.fstat(hd.root_fd)
        root = Inode(self._host_ino(index, st), Kind.DIRECTORY, index + 1, 0)
        root.host = hd
        root.host_path = ()
        root.parent = root
        hd.nodes[()] = root
        mount = Mount(guest, root, hd, mode, index + 1)
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
        cached = hd.nodes.get(path)
        if st is None:
            if cached is not None:
                hd.forget(path)
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
        hd.nodes[path] = node
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
        return Filestat(node.dev, node.ino, kind.filetype, node.nlink, size, node.atim, node.mtim, node.ctim)

    @staticmethod
    def host_filestat(node: Inode, st: os.stat_result) -> Filestat:
        """Host files report the host's size, link count and timestamps; the
        device and inode numbers are virtual (and times set on an overlay's
        lower directory come from the node)."""
        if node.times_override:
            return Filestat(
                node.dev, node.ino, node.kind.filetype, st.st_nlink, st.st_size, node.atim, node.mtim, node.ctim
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

    def set_times(self, node: Inode, atim: int | None, mtim: int | None, res: Resolved | None) -> None:
        """Set access/modification times (None leaves one unchanged)."""
        if res is None:
            self.fresh()
        if node.host is not None and node.data is None and node.target is None:
            mode = node.host.mode
            if mode is MountMode.READ_ONLY:
                raise WasiError(Errno.ROFS)
            if mode is MountMode.OVERLAY:
                if node.kind is Kind.DIRECTORY:
                    # A lower directory is not copied up: its new times are kept
                    # on the node, in front of the host's.
                    if not node.times_override:
                        st = node.host.lstat(node.host_path)
                        if st is None:
                            raise WasiError(Errno.NOENT)
                        node.atim, node.mtim = st.st_atime_ns, st.st_mtime_ns
                        node.times_override = True
                elif res is None or res.parent is None:
                    raise WasiError(Errno.ROFS, "overlay: cannot reach this lower file's directory")
                else:
                    self.copy_up(res.parent, res.name, node)  # type: ignore[arg-type]
            else:
                st = node.host.lstat(node.host_path)
                if st is None:
                    raise WasiError(Errno.NOENT)
                node.host.utime(
                    node.host_path,
                    st.st_atime_ns if atim is None else atim,
                    st.st_mtime_ns if mtim is None else mtim,
                )
                return
        if atim is not None:
            node.atim = atim
        if mtim is not None:
            node.mtim = mtim
        node.ctim = self.now()

    # -- mutations --------------------------------------------------------

    @staticmethod
    def _where(d: Inode) -> int:
        hd = d.host
        if hd is None:
            return _MEM
        mode = hd.mode
        if mode is MountMode.WRITE_THROUGH:
            return _HOST
        if mode is MountMode.OVERLAY:
            return _OVERLAY
        raise WasiError(Errno.ROFS)

    def check_writable(self, d: Inode) -> None:
        self._where(d)

    def _touch_dir(self, d: Inode) -> None:
        if d.host is None:
            d.mtim = d.ctim = self.now()

    def _upper(self, d: Inode) -> dict[str, Inode | None]:
        if d.children is None:
            d.children = {}
        return d.children

    def _host_has(self, d: Inode, name: str) -> bool:
        return d.host is not None and d.host.lstat(d.host_path + (name,)) is not None

    def _attach(self, d: Inode, name: str, node: Inode) -> None:
        """Link a new in-memory node into a memory or overlay directory."""
        self._upper(d)[name] = node
        if node.kind is Kind.DIRECTORY:
            node.parent = d
            d.nlink += 1
        self._touch_dir(d)

    def create_file(self, d: Inode, name: str) -> Inode:
        where = self._where(d)
        if where == _HOST:
            hd = d.host
            assert hd is not None
            fd = hd.open_file(d.host_path + (name,), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            os.close(fd)
            node = self._host_lookup(d, name)
            if node is None:
                raise WasiError(Errno.IO, "created host file vanished")
            return node
        node = self.new_inode(Kind.REGULAR_FILE, d.dev)
        self._attach(d, name, node)
        return node

    def mkdir(self, d: Inode, name: str) -> None:
        where = self._where(d)
        if where == _HOST:
            assert d.host is not None
            d.host.mkdir(d.host_path + (name,))
            return
        self._attach(d, name, self.new_inode(Kind.DIRECTORY, d.dev))

    def symlink(self, target: str, d: Inode, name: str) -> None:
        where = self._where(d)
        if where == _HOST:
            assert d.host is not None
            d.host.symlink(target, d.host_path + (name,))
            return
        node = self.new_inode(Kind.SYMLINK, d.dev)
        node.target = target
        self._attach(d, name, node)

    def _detach(self, d: Inode, name: str, node: Inode) -> None:
        """Remove an entry from a memory or overlay directory."""
        ch = self._upper(d)
        if d.host is not None and self._host_has(d, name):
            ch[name] = None  # whiteout hides the lower entry
        else:
            ch.pop(name, None)
        if node.kind is Kind.DIRECTORY:
            d.nlink -= 1
        self._touch_dir(d)

    def unlink(self, d: Inode, name: str, node: Inode) -> None:
        if node.kind is Kind.DIRECTORY:
            raise WasiError(Errno.ISDIR)
        where = self._where(d)
        if where == _HOST and (node.host is not None and node.data is None and node.target is None):
            assert d.host is not None
            path = d.host_path + (name,)
            dying = self._last_link(d.host, path)
            d.host.unlink(path)
            d.host.forget(path)
            self._drop_identity(d.host, dying)
            return
        self._detach(d, name, node)
        node.nlink -= 1
        node.ctim = self.now()

    def rmdir(self, d: Inode, name: str, node: Inode) -> None:
        if node.kind is not Kind.DIRECTORY:
            raise WasiError(Errno.NOTDIR)
        where = self._where(d)
        if where == _HOST and node.host is not None:
            assert d.host is not None
            path = d.host_path + (name,)
            dying = self._last_link(d.host, path)
            d.host.rmdir(path)
            d.host.forget(path)
            self._drop_identity(d.host, dying)
            return
        if not self.is_empty_dir(node):
            raise WasiError(Errno.NOTEMPTY)
        self._detach(d, name, node)
        node.nlink = 0

    def copy_up(self, d: Inode, name: str, node: Inode) -> None:
        """OVERLAY: turn a host file or symlink into an in-memory one in place."""
        hd = node.host
        if hd is None or node.data is not None or node.target is not None:
            return
        if node.kind is Kind.DIRECTORY:
            raise WasiError(Errno.XDEV, "overlay: lower directories cannot be copied up")
        st = hd.lstat(node.host_path)
        if st is None:
            raise WasiError(Errno.NOENT)
        if node.kind is Kind.SYMLINK:
            node.target = hd.readlink(node.host_path)
        else:
            fd = hd.open_file(node.host_path, os.O_RDONLY)
            try:
                chunks = []
                while True:
                    b = os.read(fd, 1 << 20)
                    if not b:
                        break
                    chunks.append(b)
            finally:
                os.close(fd)
            node.data = bytearray(b"".join(chunks))
        node.atim, node.mtim, node.ctim = st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns
        node.nlink = 1
        hd.nodes.pop(node.host_path, None)
        node.host = None
        node.host_path = ()
        self._upper(d)[name] = node

    def link(self, node: Inode, src: Resolved, d: Inode, name: str) -> None:
        if node.kind is Kind.DIRECTORY:
            raise WasiError(Errno.PERM, "hard link to a directory")
        if node.dev != d.dev:
            raise WasiError(Errno.XDEV)
        where = self._where(d)
        is_host = node.host is not None and node.data is None and node.target is None
        if where == _HOST and is_host:
            assert d.host is not None
            d.host.link(node.host_path, d.host_path + (name,))
            return
        if is_host:
            # OVERLAY: the link must live in memory, so the file moves up first.
            if src.parent is None or src.name is None:
                raise WasiError(Errno.PERM)
            self._where(src.parent)
            self.copy_up(src.parent, src.name, node)
        self._upper(d)[name] = node
        node.nlink += 1
        node.ctim = self.now()
        self._touch_dir(d)

    @staticmethod
    def _is_ancestor(a: Inode, d: Inode) -> bool:
        """Is directory ``a`` the directory ``d`` or one of its ancestors?"""
        p: Inode | None = d
        while p is not None:
            if p is a:
                return True
            if p.parent is p:
                return False
            p = p.parent
        return False

    def rename(self, sd: Inode, sname: str, node: Inode, dd: Inode, dname: str, target: Inode | None) -> None:
        """Move ``sd/sname`` (``node``) to ``dd/dname`` (replacing ``target``)."""
        if node.dev != dd.dev:
            raise WasiError(Errno.XDEV)
        if target is node:
            return
        is_dir = node.kind is Kind.DIRECTORY
        # Ancestry is checked before the target's type, as Linux and wasmtime
        # do: a directory into its own subtree is EINVAL; onto one of the
        # source's ancestors (which is therefore not empty) is ENOTEMPTY.
        if is_dir and self._is_ancestor(node, dd):
            raise WasiError(Errno.INVAL, "rename into own subdirectory")
        if target is not None and target.kind is Kind.DIRECTORY and self._is_ancestor(target, sd):
            raise WasiError(Errno.NOTEMPTY, "rename onto an ancestor")
        if target is not None:
            if is_dir and target.kind is not Kind.DIRECTORY:
                raise WasiError(Errno.NOTDIR)
            if not is_dir and target.kind is Kind.DIRECTORY:
                raise WasiError(Errno.ISDIR)
            if target.kind is Kind.DIRECTORY and not self.is_empty_dir(target):
                raise WasiError(Errno.NOTEMPTY)
        ws, wd = self._where(sd), self._where(dd)
        node_host = node.host is not None and node.data is None and node.target is None
        if ws == _HOST and wd == _HOST and node_host and (target is None or target.host is not None):
            hd = sd.host
            assert hd is not None
            old, new = sd.host_path + (sname,), dd.host_path + (dname,)
            dying = self._last_link(hd, new) if target is not None else None
            hd.rename(old, new)
            self._drop_identity(hd, dying)
            hd.forget(new)
            hd.rekey(old, new)
            if is_dir:
                node.parent = dd
            return
        if node_host and not is_dir:
            self.copy_up(sd, sname, node)
        # OVERLAY: a lower directory moves in the upper layer only; it keeps
        # reading its lower entries from where they are on the host (like
        # overlayfs's redirect_dir), and a whiteout hides its old name.
        if target is not None:
            self._detach(dd, dname, target)
            target.nlink = 0 if target.kind is Kind.DIRECTORY else target.nlink - 1
        self._detach(sd, sname, node)
        self._attach(dd, dname, node)
        node.ctim = self.now()
