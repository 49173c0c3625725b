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
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import MountError
from .wasi_types import Errno, WasiError

__all__ = ["HostDir", "MountError", "MountMode", "oserror_errno", "wasi_error_from_os"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_DIRFD_CACHE = 32


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
    """One mounted host directory: its root fd and mode, and every access to
    what is below it (the filesystem's inodes for it are cached by the tree)."""

    def __init__(self, host_path: Path, mode: MountMode, index: int) -> None:
        self.host_path = Path(host_path)
        self.mode = mode
        self.index = index
        try:
            self.root_fd = os.open(self.host_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise MountError(
                f"cannot mount host directory {str(host_path)!r}: {exc.strerror}"
            ) from exc
        # Directory fds by relative path, so that resolving a deep path does
        # not re-walk it from the root for every component.  The cache only
        # lives for one syscall: ``FsTree`` calls ``invalidate(())`` whenever it
        # starts a resolution, listing or metadata operation, so a directory
        # moved on the host between two syscalls is never reached through a
        # stale fd (and renames/rmdirs drop what they affect at once).
        self._dirfds: OrderedDict[tuple[str, ...], int] = OrderedDict()

    def close(self) -> None:
        self.invalidate(())
        if self.root_fd >= 0:
            os.close(self.root_fd)
            self.root_fd = -1

    # -- directory access -------------------------------------------------

    def dirfd(self, rel: tuple[str, ...]) -> int:
        """An fd for the directory ``rel`` (walked with O_NOFOLLOW), owned by
        the cache: callers must not close it."""
        if not rel:
            return self.root_fd
        cache = self._dirfds
        fd = cache.get(rel)
        if fd is not None:
            cache.move_to_end(rel)
            return fd
        # Walk from the deepest cached ancestor.
        start = len(rel) - 1
        while start > 0 and rel[:start] not in cache:
            start -= 1
        fd = cache[rel[:start]] if start > 0 else self.root_fd
        for i in range(start, len(rel)):
            try:
                fd = os.open(rel[i], _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise wasi_error_from_os(exc) from None
            self._remember(rel[: i + 1], fd)
        return fd

    def _remember(self, rel: tuple[str, ...], fd: int) -> None:
        cache = self._dirfds
        old = cache.pop(rel, None)
        if old is not None and old != fd:
            os.close(old)
        cache[rel] = fd
        while len(cache) > _DIRFD_CACHE:
            _, victim = cache.popitem(last=False)
            os.close(victim)

    def invalidate(self, rel: tuple[str, ...]) -> None:
        """Forget cached fds of ``rel`` and everything under it."""
        n = len(rel)
        for key in [k for k in self._dirfds if k[:n] == rel]:
            os.close(self._dirfds.pop(key))

    @contextmanager
    def opendir(self, rel: tuple[str, ...]) -> Iterator[int]:
        """Yield an fd for the directory ``rel`` (from the cache)."""
        yield self.dirfd(rel)

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
        return [name for name, _ in self.scan(rel)]

    def scan(self, rel: tuple[str, ...]) -> list[tuple[str, os.stat_result | None]]:
        """(name, lstat or None if it vanished) of every entry, sorted by name bytes."""
        dfd = self.dirfd(rel)
        out: list[tuple[str, os.stat_result | None]] = []
        try:
            with os.scandir(dfd) as it:
                for entry in it:
                    try:
                        st: os.stat_result | None = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        st = None
                    out.append((entry.name, st))
        except OSError as exc:
            raise wasi_error_from_os(exc) from None
        out.sort(key=lambda item: os.fsencode(item[0]))
        return out

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

    def create_file(self, path: tuple[str, ...]) -> None:
        """Create an empty regular file (EEXIST if the name is taken)."""
        os.close(self.open_file(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))

    def read_file(self, path: tuple[str, ...]) -> bytes:
        """The whole contents of a regular file (an overlay copy-up)."""
        fd = self.open_file(path, os.O_RDONLY)
        try:
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        except OSError as exc:
            raise wasi_error_from_os(exc) from None
        finally:
            os.close(fd)

    def write_file(self, path: tuple[str, ...], data: bytes) -> None:
        """Replace the contents of an existing regular file."""
        fd = self.open_file(path, os.O_WRONLY | os.O_TRUNC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except OSError as exc:
            raise wasi_error_from_os(exc) from None
        finally:
            os.close(fd)

    def stat_root(self) -> os.stat_result:
        return os.fstat(self.root_fd)

    def open_dir(self, path: tuple[str, ...]) -> int:
        """A new OS fd on a directory (O_NOFOLLOW), owned by the caller.

        Only used to answer ``fstat``/``fsync``/``futimens`` on a guest's
        directory fd the way the host would after the directory moved or was
        removed; paths are never resolved relative to it."""
        if not path:
            return os.dup(self.root_fd)
        return self._at(path, os.open, _DIR_FLAGS)  # type: ignore[no-any-return]

    def mkdir(self, path: tuple[str, ...]) -> None:
        self._at(path, os.mkdir, 0o777)

    def unlink(self, path: tuple[str, ...]) -> None:
        self._at(path, os.unlink)

    def rmdir(self, path: tuple[str, ...]) -> None:
        self._at(path, os.rmdir)
        self.invalidate(path)

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
        sfd = self.dirfd(old[:-1])
        dfd = self.dirfd(new[:-1])
        try:
            os.rename(old[-1], new[-1], src_dir_fd=sfd, dst_dir_fd=dfd)
        except OSError as exc:
            raise wasi_error_from_os(exc) from None
        self.invalidate(old)
        self.invalidate(new)

    def link(self, old: tuple[str, ...], new: tuple[str, ...]) -> None:
        sfd = self.dirfd(old[:-1])
        dfd = self.dirfd(new[:-1])
        try:
            os.link(old[-1], new[-1], src_dir_fd=sfd, dst_dir_fd=dfd, follow_symlinks=False)
        except OSError as exc:
            raise wasi_error_from_os(exc) from None
