"""Host-directory access that can never leave the mounted directory.

Every operation is expressed as (directory path relative to the mount root,
final name).  The directory is reached by opening each component with
``O_DIRECTORY | O_NOFOLLOW`` relative to the previous one, starting from a
file descriptor of the mount root held open for the life of the mount, and the
final name is used only through ``*at`` calls that do not follow symlinks.
So the host kernel never follows a symlink on our behalf: the virtual resolver
in ``tree.py`` has already resolved symlinks inside the sandbox, and if a
directory was swapped for a symlink in the meantime the ``O_NOFOLLOW`` open
fails instead of escaping.
"""

from __future__ import annotations

import enum
import errno as _errno
import os
import stat as _stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .wasi_types import Errno, WasiError

if TYPE_CHECKING:
    from .inode import Inode

__all__ = ["MountMode", "HostDir", "oserror_errno", "wasi_error_from_os"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class MountMode(enum.Enum):
    """How guest modifications reach a mounted host directory."""

    WRITE_THROUGH = "write-through"
    """Guest writes, creates and deletes go to the host directory."""
    OVERLAY = "overlay"
    """The host directory is a read-only lower layer; every modification
    stays in memory (files are copied up on first write-open)."""
    READ_ONLY = "read-only"
    """Any modification fails with ``EROFS``, like a read-only mount."""


def _build_errno_map() -> dict[int, Errno]:
    table: dict[int, Errno] = {}
    for code, name in _errno.errorcode.items():
        try:
            table[code] = Errno[name[1:]]
        except KeyError:
            continue
    table[_errno.EWOULDBLOCK] = Errno.AGAIN
    table[_errno.EOPNOTSUPP] = Errno.NOTSUP
    return table


_ERRNO_MAP = _build_errno_map()


def oserror_errno(exc: OSError) -> Errno:
    """The WASI errno for a host ``OSError`` (``EIO`` when there is none)."""
    return _ERRNO_MAP.get(exc.errno or 0, Errno.IO)


def wasi_error_from_os(exc: OSError) -> WasiError:
    return WasiError(oserror_errno(exc), str(exc))


class HostDir:
    """One mounted host directory: its root fd, mode and node cache.

    ``nodes`` maps a path relative to the root to the ``Inode`` the filesystem
    created for it on first observation, so that inode numbers, overlay upper
    layers and open descriptions stay attached to the same object.
    """

    def __init__(self, host_path: Path, mode: MountMode, index: int) -> None:
        self.host_path = Path(host_path)
        self.mode = mode
        self.index = index
        try:
            self.root_fd = os.open(self.host_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise MountError(f"cannot mount host directory {str(host_path)!r}: {exc.strerror}") from exc
        self.nodes: dict[tuple[str, ...], Inode] = {}

    def close(self) -> None:
        if self.root_fd >= 0:
            os.close(self.root_fd)
            self.root_fd = -1

    # -- directory access -------------------------------------------------

    @contextmanager
    def opendir(self, rel: tuple[str, ...]) -> Iterator[int]:
        """Yield an fd for the directory ``rel`` (walked with O_NOFOLLOW)."""
        if not rel:
            yield self.root_fd
            return
        fd = self.root_fd
        try:
            for comp in rel:
                nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                if fd != self.root_fd:
                    os.close(fd)
                fd = nfd
        except OSError as exc:
            if fd != self.root_fd:
                os.close(fd)
            raise wasi_error_from_os(exc) from None
        try:
            yield fd
        finally:
            os.close(fd)

    def lstat(self, path: tuple[str, ...]) -> os.stat_result | None:
        """``lstat`` of a node, ``None`` if it does not exist."""
        try:
            if not path:
                return os.fstat(self.root_fd)
            with self.opendir(path[:-1]) as dfd:
                return os.stat(path[-1], dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except WasiError as err:
            if err.errno in (Errno.NOENT, Errno.NOTDIR, Errno.LOOP):
                return None
            raise
        except OSError as exc:
            if exc.errno in (_errno.ENOTDIR, _errno.ELOOP):
                return None
            raise wasi_error_from_os(exc) from None

    def listdir(self, rel: tuple[str, ...]) -> list[str]:
        """Names in a directory, sorted (host order is not deterministic)."""
        with self.opendir(rel) as dfd:
            try:
                return sorted(os.listdir(dfd), key=os.fsencode)
            except OSError as exc:
                raise wasi_error_from_os(exc) from None

    def _at(self, path: tuple[str, ...], fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        with self.opendir(path[:-1]) as dfd:
            try:
                return fn(path[-1], *args, dir_fd=dfd, **kwargs)
            except OSError as exc:
                raise wasi_error_from_os(exc) from None

    def readlink(self, path: tuple[str, ...]) -> str:
        return self._at(path, os.readlink)  # type: ignore[no-any-return]

    def open_file(self, path: tuple[str, ...], flags: int, mode: int = 0o666) -> int:
        """Open a regular file (never following a final symlink)."""
        return self._at(path, os.open, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)  # type: ignore[no-any-return]

    def mkdir(self, path: tuple[str, ...]) -> None:
        self._at(path, os.mkdir, 0o777)

    def unlink(self, path: tuple[str, ...]) -> None:
        self._at(path, os.unlink)

    def rmdir(self, path: tuple[str, ...]) -> None:
        self._at(path, os.rmdir)

    def symlink(self, target: str, path: tuple[str, ...]) -> None:
        with self.opendir(path[:-1]) as dfd:
            try:
                os.symlink(target, path[-1], dir_fd=dfd)
            except OSError as exc:
                raise wasi_error_from_os(exc) from None

    def utime(self, path: tuple[str, ...], atim: int, mtim: int) -> None:
        if not path:
            try:
                os.utime(self.root_fd, ns=(atim, mtim))
            except OSError as exc:
                raise wasi_error_from_os(exc) from None
            return
        self._at(path, os.utime, ns=(atim, mtim), follow_symlinks=False)

    def rename(self, old: tuple[str, ...], new: tuple[str, ...]) -> None:
        with self.opendir(old[:-1]) as sfd, self.opendir(new[:-1]) as dfd:
            try:
                os.rename(old[-1], new[-1], src_dir_fd=sfd, dst_dir_fd=dfd)
            except OSError as exc:
                raise wasi_error_from_os(exc) from None

    def link(self, old: tuple[str, ...], new: tuple[str, ...]) -> None:
        with self.opendir(old[:-1]) as sfd, self.opendir(new[:-1]) as dfd:
            try:
                os.link(old[-1], new[-1], src_dir_fd=sfd, dst_dir_fd=dfd, follow_symlinks=False)
            except OSError as exc:
                raise wasi_error_from_os(exc) from None

    # -- cache maintenance ------------------------------------------------

    def rekey(self, old: tuple[str, ...], new: tuple[str, ...]) -> None:
        """After a rename, move cached nodes under ``old`` to ``new``."""
        n = len(old)
        moved = [(p, node) for p, node in self.nodes.items() if p[:n] == old]
        for p, _ in moved:
            del self.nodes[p]
        for p, node in moved:
            np = new + p[n:]
            node.host_path = np
            self.nodes[np] = node

    def forget(self, path: tuple[str, ...]) -> None:
        """After a delete, drop cached nodes at and under ``path``."""
        n = len(path)
        for p in [p for p in self.nodes if p[:n] == path]:
            del self.nodes[p]


class MountError(Exception):
    """A user error: a mount's host directory cannot be opened."""


def is_dir_mode(mode: int) -> bool:
    return _stat.S_ISDIR(mode)
