"""The syscalls on a path relative to a directory fd: the checks and errno
choices of wasmtime (docs/wasifs.md) in front of ``FsTree``'s operations."""

from __future__ import annotations

from .base import KernelBase
from .fd import Description
from .inode import Inode, Kind
from .opening import open_node
from .rights import (
    F_ALL,
    F_SYNCS,
    IMPLIED_SHIFT,
    R_MODIFY_FILE,
    R_OPEN_FOR_WRITE,
    R_PATH_CREATE_DIRECTORY,
    R_PATH_CREATE_FILE,
    R_PATH_FILESTAT_GET,
    R_PATH_FILESTAT_SET_SIZE,
    R_PATH_FILESTAT_SET_TIMES,
    R_PATH_LINK_SOURCE,
    R_PATH_LINK_TARGET,
    R_PATH_OPEN,
    R_PATH_READLINK,
    R_PATH_REMOVE_DIRECTORY,
    R_PATH_RENAME_SOURCE,
    R_PATH_RENAME_TARGET,
    R_PATH_SYMLINK,
    R_PATH_UNLINK_FILE,
    rights_for,
)
from .tree import Resolved
from .wasi_types import Errno, Filestat, LookupFlags, OFlags, WasiError

__all__ = ["PathCalls"]

_O_CREAT = int(OFlags.CREAT)
_O_DIRECTORY = int(OFlags.DIRECTORY)
_O_EXCL = int(OFlags.EXCL)
_O_TRUNC = int(OFlags.TRUNC)
_FOLLOW = int(LookupFlags.SYMLINK_FOLLOW)
_DIR = Kind.DIRECTORY


class PathCalls(KernelBase):
    """path_*: resolution through ``FsTree.resolve`` (the sandbox), then the
    tree's mutation or the description ``path_open`` installs."""

    def path_create_directory(self, fd: int, path: str) -> None:
        d = self._dir(fd, R_PATH_CREATE_DIRECTORY)
        res = self._tree.resolve(d.inode, path, False)
        if res.node is not None or res.parent is None:
            raise WasiError(Errno.EXIST)
        self._tree.mkdir(res.parent, res.name)  # type: ignore[arg-type]  # name is set with parent

    def path_filestat_get(self, fd: int, lookupflags: int, path: str) -> Filestat:
        d = self._dir(fd, R_PATH_FILESTAT_GET)
        res = self._tree.resolve(d.inode, path, bool(lookupflags & _FOLLOW))
        if res.node is None:
            raise WasiError(Errno.NOENT)
        return self._tree.stat(res.node)

    def path_filestat_set_times(
        self, fd: int, lookupflags: int, path: str, atim: int, mtim: int, fst_flags: int
    ) -> None:
        d = self._dir(fd, R_PATH_FILESTAT_SET_TIMES)
        a, m = self._times(fst_flags, atim, mtim)
        res = self._tree.resolve(d.inode, path, bool(lookupflags & _FOLLOW))
        if res.node is None:
            raise WasiError(Errno.NOENT)
        if a is None and m is None:
            return
        self._tree.set_times(res.node, a, m, res)

    def path_link(
        self, old_fd: int, old_lookupflags: int, old_path: str, new_fd: int, new_path: str
    ) -> None:
        od = self._dir(old_fd, R_PATH_LINK_SOURCE)
        nd = self._dir(new_fd, R_PATH_LINK_TARGET)
        if old_lookupflags & _FOLLOW:
            raise WasiError(Errno.INVAL, "path_link never follows symlinks")  # as wasmtime
        # wasmtime resolves the new path's directory first: its errors win.
        dst = self._tree.resolve(nd.inode, new_path, False)
        src = self._tree.resolve(od.inode, old_path, False)
        if src.node is None:
            raise WasiError(Errno.NOENT)
        if dst.node is not None or dst.parent is None:
            raise WasiError(Errno.EXIST)  # before EPERM for a directory, as wasmtime
        if src.node.kind is _DIR:
            raise WasiError(Errno.PERM, "hard link to a directory")
        if dst.trailing_slash:
            raise WasiError(Errno.NOENT)
        self._tree.link(src.node, src, dst.parent, dst.name)  # type: ignore[arg-type]  # name is set with parent

    # -- path_open ------------------------------------------------------------

    def path_open(
        self,
        fd: int,
        dirflags: int,
        path: str,
        oflags: int,
        rights_base: int,
        rights_inheriting: int,
        fdflags: int,
    ) -> int:
        d = self._open_checks(fd, oflags, fdflags, path)
        creat = oflags & _O_CREAT
        # O_CREAT|O_EXCL never follows a final symlink (it exists: EEXIST).
        follow = bool(dirflags & _FOLLOW) and not (creat and oflags & _O_EXCL)
        res = self._tree.resolve(d.inode, path, follow)
        node, created = self._open_target(d, res, oflags)
        trunc = bool(oflags & _O_TRUNC)
        implied = 0
        if creat or trunc:
            # As in wasmtime, creating or truncating opens for writing whatever
            # the requested rights say (not reported by fd_fdstat_get).
            implied = R_OPEN_FOR_WRITE & ~rights_base
            rights_base |= R_OPEN_FOR_WRITE
        base = rights_base & d.rights_inheriting & rights_for(node.kind)
        base |= (implied & base) << IMPLIED_SHIFT
        if node.kind is _DIR and rights_base & R_OPEN_FOR_WRITE:
            raise WasiError(Errno.ISDIR)
        if trunc:
            d.need(R_PATH_FILESTAT_SET_SIZE)
        desc = open_node(
            self._tree,
            node,
            (res.parent, res.name),
            base,
            rights_inheriting & d.rights_inheriting,
            fdflags,
            modifying=bool(base & R_MODIFY_FILE) or trunc,
            trunc=trunc,
            created=created,
        )
        try:
            return self._fdt.install(desc)
        except WasiError:
            desc.release()
            raise

    def _open_checks(self, fd: int, oflags: int, fdflags: int, path: str) -> Description:
        """The errors path_open gives before looking at the path (wasmtime's order)."""
        d = self._desc(fd)
        if d.inode.kind is not _DIR:
            raise WasiError(Errno.NOTDIR, "path_open relative to a non-directory")
        if not d.rights_base & R_PATH_OPEN:
            raise WasiError(Errno.NOTCAPABLE)
        if oflags & ~0xF or fdflags & ~F_ALL:
            raise WasiError(Errno.INVAL)
        if fdflags & F_SYNCS:
            raise WasiError(Errno.NOTSUP, "synchronized I/O flags")  # as wasmtime
        if oflags & _O_DIRECTORY and oflags & (_O_CREAT | _O_EXCL | _O_TRUNC):
            # wasmtime refuses these combinations before looking at the path.
            raise WasiError(Errno.INVAL, "O_DIRECTORY with O_CREAT/O_EXCL/O_TRUNC")
        if oflags & _O_CREAT and path.endswith("/"):
            raise WasiError(Errno.ISDIR, "O_CREAT with a trailing slash")
        return d

    def _open_target(self, d: Description, res: Resolved, oflags: int) -> tuple[Inode, bool]:
        """(the node path_open opens, whether it was created now)."""
        node = res.node
        if node is None:
            if not oflags & _O_CREAT or oflags & _O_DIRECTORY:
                raise WasiError(Errno.NOENT)
            if res.trailing_slash:
                raise WasiError(Errno.ISDIR)
            d.need(R_PATH_CREATE_FILE)
            return self._tree.create_file(res.parent, res.name), True  # type: ignore[arg-type]  # set for a missing node
        if oflags & _O_CREAT and oflags & _O_EXCL:
            raise WasiError(Errno.EXIST)
        if node.kind is Kind.SYMLINK:
            raise WasiError(Errno.LOOP, "final component is a symlink (no follow)")
        if oflags & _O_DIRECTORY and node.kind is not _DIR:
            raise WasiError(Errno.NOTDIR)
        return node, False

    # -- the rest ---------------------------------------------------------------

    def path_readlink(self, fd: int, path: str) -> bytes:
        d = self._dir(fd, R_PATH_READLINK)
        res = self._tree.resolve(d.inode, path, False)
        if res.node is None:
            raise WasiError(Errno.NOENT)
        if res.node.kind is not Kind.SYMLINK:
            raise WasiError(Errno.INVAL, "not a symlink")
        target = self._tree.readlink(res.node)
        if target.startswith("/"):
            # wasmtime hides targets that point outside the sandbox.
            raise WasiError(Errno.PERM, "absolute symlink target")
        return target.encode("utf-8", "surrogateescape")

    def path_remove_directory(self, fd: int, path: str) -> None:
        d = self._dir(fd, R_PATH_REMOVE_DIRECTORY)
        res = self._tree.resolve(d.inode, path, False)
        if res.node is None:
            raise WasiError(Errno.NOENT)
        if res.parent is None:
            raise WasiError(Errno.INVAL, "cannot remove . or ..")
        if res.trailing_slash and res.node.kind is _DIR:
            # wasmtime refuses "dir/" (as "dir/."): EINVAL.
            raise WasiError(Errno.INVAL, "trailing slash")
        self._tree.rmdir(res.parent, res.name, res.node)  # type: ignore[arg-type]  # name is set with parent

    def path_rename(self, fd: int, old_path: str, new_fd: int, new_path: str) -> None:
        od = self._dir(fd, R_PATH_RENAME_SOURCE)
        nd = self._dir(new_fd, R_PATH_RENAME_TARGET)
        # wasmtime resolves the new path's directory first: its errors win.
        dst = self._tree.resolve(nd.inode, new_path, False)
        if dst.parent is None:
            raise WasiError(Errno.BUSY, "cannot rename onto . or ..")  # wasmtime: EBUSY
        src = self._tree.resolve(od.inode, old_path, False)
        if src.node is None:
            raise WasiError(Errno.NOENT)
        if src.parent is None:
            raise WasiError(Errno.BUSY, "cannot rename . or ..")
        if (src.trailing_slash or dst.trailing_slash) and src.node.kind is not _DIR:
            raise WasiError(Errno.NOTDIR)
        self._tree.rename(src.parent, src.name, src.node, dst.parent, dst.name, dst.node)  # type: ignore[arg-type]  # names are set with parents

    def path_symlink(self, old_path: str, fd: int, new_path: str) -> None:
        d = self._dir(fd, R_PATH_SYMLINK)
        if "\x00" in old_path:
            raise WasiError(Errno.INVAL)
        if old_path.startswith("/"):
            # Such a link could never be followed inside the sandbox (wasmtime: EPERM).
            raise WasiError(Errno.PERM, "absolute symlink target")
        res = self._tree.resolve(d.inode, new_path, False)
        if res.node is not None or res.parent is None:
            raise WasiError(Errno.EXIST)
        if res.trailing_slash:
            raise WasiError(Errno.NOENT)
        self._tree.symlink(old_path, res.parent, res.name)  # type: ignore[arg-type]  # name is set with parent

    def path_unlink_file(self, fd: int, path: str) -> None:
        d = self._dir(fd, R_PATH_UNLINK_FILE)
        res = self._tree.resolve(d.inode, path, False)
        if res.node is None:
            raise WasiError(Errno.NOENT)
        if res.parent is None or res.node.kind is _DIR:
            raise WasiError(Errno.ISDIR)
        self._tree.unlink(res.parent, res.name, res.node)  # type: ignore[arg-type]  # name is set with parent
