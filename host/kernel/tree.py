"""``FsTree``: the filesystem tree with its mutations (create, link, unlink,
rename, set times, overlay copy-up) on top of ``Namespace``'s lookups.

Host directories are only ever touched through ``HostDir``; a mutation in an
OVERLAY mount happens in memory (copying a lower file up first), one in a
READ_ONLY mount fails with EROFS.
"""

from __future__ import annotations

from .hostdir import MountMode
from .inode import Inode, Kind
from .namespace import (
    DEFAULT_MAX_FILE_SIZE,
    MAX_SYMLINKS,
    NAME_MAX,
    Mount,
    Namespace,
    Resolved,
)
from .wasi_types import Errno, WasiError

__all__ = ["DEFAULT_MAX_FILE_SIZE", "MAX_SYMLINKS", "NAME_MAX", "FsTree", "Mount", "Resolved"]

_MEM, _HOST, _OVERLAY = 0, 1, 2


class FsTree(Namespace):
    """Mounts, inode numbering and every path-level operation."""

    # -- metadata ---------------------------------------------------------

    def set_times(
        self, node: Inode, atim: int | None, mtim: int | None, res: Resolved | None
    ) -> None:
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
            hd.create_file(d.host_path + (name,))
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
            self.forget(d.host, path)
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
            self.forget(d.host, path)
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
            node.data = bytearray(hd.read_file(node.host_path))
        node.atim, node.mtim, node.ctim = st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns
        node.nlink = 1
        self.nodes_of(hd).pop(node.host_path, None)
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

    def rename(
        self, sd: Inode, sname: str, node: Inode, dd: Inode, dname: str, target: Inode | None
    ) -> None:
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
        if (
            ws == _HOST
            and wd == _HOST
            and node_host
            and (target is None or target.host is not None)
        ):
            hd = sd.host
            assert hd is not None
            old, new = sd.host_path + (sname,), dd.host_path + (dname,)
            dying = self._last_link(hd, new) if target is not None else None
            hd.rename(old, new)
            self._drop_identity(hd, dying)
            self.forget(hd, new)
            self.rekey(hd, old, new)
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
