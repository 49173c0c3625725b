"""``WasiFs``: what one guest process sees of files — a tree plus an fd table.

A ``WasiFs`` is the pair (shared ``FsTree``, per-process ``FdTable``) plus the
stdio streams.  ``fork()`` shares the tree and the stdio streams (POSIX
processes share one filesystem) and copies the fd table, whose entries keep
pointing at the *same* open descriptions (shared offsets and flags).
``freeze()``/``unfreeze()`` (see ``freeze.py``) capture and restore all of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .errors import MountError
from .fdtable import FdTable
from .files import DirFile
from .hostdir import MountMode
from .inode import Inode, Kind
from .rights import DIR_INHERITING, DIR_RIGHTS, STDIN_RIGHTS, STDOUT_RIGHTS
from .sources import Clock, VirtualClock
from .streams import StdinFile, StdoutFile
from .tree import DEFAULT_MAX_FILE_SIZE, FsTree, Mount, Resolved
from .wasi_types import Errno, WasiError

if TYPE_CHECKING:  # the freezer loads when a snapshot is taken or restored
    from .frozen import HostDirs

__all__ = ["Inode", "Kind", "MountError", "MountMode", "MountSpec", "Stdio", "WasiFs"]


@dataclass(frozen=True)
class MountSpec:
    """One preopened guest directory.

    ``host`` None makes a tmpfs (an empty in-memory directory); otherwise the
    host directory is mounted with ``mode``.
    """

    guest: str
    host: Path | str | None = None
    mode: MountMode = MountMode.WRITE_THROUGH

    @classmethod
    def tmpfs(cls, guest: str) -> MountSpec:
        return cls(guest, None)


class Stdio:
    """The binary streams behind fds 0, 1 and 2 (None: empty input / discard)."""

    __slots__ = ("streams",)

    def __init__(
        self,
        stdin: BinaryIO | None = None,
        stdout: BinaryIO | None = None,
        stderr: BinaryIO | None = None,
    ) -> None:
        self.streams: list[BinaryIO | None] = [stdin, stdout, stderr]


class WasiFs:
    """The virtual filesystem and fd table of one guest process.

    Construct with the mounts (preopens get fds 3, 4, ... in order; fds 0-2
    are stdio character devices whose streams the kernel attaches).  ``clock``
    stamps in-memory files; when None the kernel that adopts this filesystem
    installs its own clock (before that a ``VirtualClock`` is used).
    In-memory files cannot grow past ``max_file_size`` (EFBIG).
    """

    def __init__(
        self,
        mounts: Iterable[MountSpec] = (),
        *,
        clock: Clock | None = None,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    ) -> None:
        self.clock_injected = clock is not None
        self.tree = FsTree(clock if clock is not None else VirtualClock(), max_file_size)
        self.fds = FdTable()
        self.stdio = Stdio()
        for slot in range(3):
            node = self.tree.new_inode(Kind.CHARACTER_DEVICE, 0)
            node.stdio = slot
            if slot == 0:
                self.fds.install(StdinFile(self.tree, node, STDIN_RIGHTS, self.stdio.streams), slot)
            else:
                self.fds.install(
                    StdoutFile(self.tree, node, STDOUT_RIGHTS, self.stdio.streams), slot
                )
        try:
            for spec in mounts:
                self.add_mount(spec)
        except BaseException:
            self.tree.close()
            raise

    @classmethod
    def _from_parts(cls, tree: FsTree, fds: FdTable, stdio: Stdio, clock_injected: bool) -> WasiFs:
        fs = cls.__new__(cls)
        fs.tree = tree
        fs.fds = fds
        fs.stdio = stdio
        fs.clock_injected = clock_injected
        return fs

    def add_mount(self, spec: MountSpec) -> int:
        """Mount and preopen one directory; returns its fd."""
        if not isinstance(spec.mode, MountMode):
            raise MountError(f"bad mount mode {spec.mode!r}")
        if spec.host is None:
            mount = self.tree.add_tmpfs(spec.guest)
        else:
            mount = self.tree.add_host(spec.guest, spec.host, spec.mode)
        return self.preopen(mount)

    def preopen(self, mount: Mount) -> int:
        desc = DirFile(self.tree, mount.root, DIR_RIGHTS, DIR_INHERITING, preopen=mount.guest)
        return self.fds.install(desc, minimum=3)

    @property
    def mounts(self) -> list[Mount]:
        return self.tree.mounts

    def preopens(self) -> list[tuple[int, str]]:
        """(fd, guest path) of every fd that is a preopen, by fd number."""
        return sorted((fd, d.preopen) for fd, d in self.fds.fds.items() if d.preopen is not None)

    def attach_stdio(
        self,
        stdin: BinaryIO | None = None,
        stdout: BinaryIO | None = None,
        stderr: BinaryIO | None = None,
    ) -> None:
        self.stdio.streams[:] = [stdin, stdout, stderr]

    def fork(self) -> WasiFs:
        """A child process view: same tree and stdio, copied fd table, shared descriptions."""
        return WasiFs._from_parts(self.tree, self.fds.fork(), self.stdio, self.clock_injected)

    def close(self) -> None:
        """Close every fd of this process (the tree's host mounts stay open
        for other processes; use ``close_mounts`` when the last one is gone)."""
        self.fds.close_all()

    def close_mounts(self) -> None:
        self.tree.close()

    # -- helpers for callers and tests (not guest syscalls) ---------------

    def _mount_for(self, guest_path: str) -> tuple[Mount, str]:
        best: tuple[Mount, str] | None = None
        for m in self.tree.mounts:
            g = m.guest.rstrip("/")
            if guest_path == m.guest or guest_path == g:
                cand = (m, ".")
            elif guest_path.startswith(g + "/"):
                cand = (m, guest_path[len(g) + 1 :] or ".")
            else:
                continue
            if best is None or len(m.guest) > len(best[0].guest):
                best = cand
        if best is None:
            raise WasiError(Errno.NOENT, f"no mount for {guest_path!r}")
        return best

    def resolve_guest(self, guest_path: str, follow: bool = True) -> Resolved:
        """Resolve a full guest path (e.g. ``/tmp/x``) through its mount."""
        mount, rel = self._mount_for(guest_path)
        return self.tree.resolve(mount.root, rel, follow)

    def write_file(self, guest_path: str, data: bytes) -> None:
        """Create or replace a file (used to seed in-memory trees)."""
        res = self.resolve_guest(guest_path)
        node = res.node
        if node is None:
            assert res.parent is not None and res.name is not None
            node = self.tree.create_file(res.parent, res.name)
        if node.data is not None:
            node.data[:] = data
            node.mtim = node.ctim = self.tree.now()
        elif node.host is not None and node.kind is Kind.REGULAR_FILE:
            self.tree.check_writable(res.parent) if res.parent is not None else None
            node.host.write_file(node.host_path, data)
        else:
            raise WasiError(Errno.ISDIR if node.kind is Kind.DIRECTORY else Errno.INVAL)

    def read_file(self, guest_path: str) -> bytes:
        res = self.resolve_guest(guest_path)
        node = res.node
        if node is None:
            raise WasiError(Errno.NOENT)
        if node.data is not None:
            return bytes(node.data)
        if node.host is not None and node.kind is Kind.REGULAR_FILE:
            return node.host.read_file(node.host_path)
        raise WasiError(Errno.ISDIR if node.kind is Kind.DIRECTORY else Errno.INVAL)

    # -- freeze / unfreeze (the image: frozen.py) ---------------------------

    def freeze(self) -> bytes:
        """Everything the guest can observe of this process's files, as bytes."""
        from .frozen import encode

        return encode(self.tree, [self.fds])

    @classmethod
    def unfreeze(
        cls, data: bytes, *, clock: Clock | None = None, host_dirs: HostDirs | None = None
    ) -> WasiFs:
        """Rebuild a frozen ``WasiFs`` (the first process of a frozen family);
        ``host_dirs`` (guest path -> host dir) relocates host mounts."""
        return cls.unfreeze_family(data, clock=clock, host_dirs=host_dirs)[0]

    @staticmethod
    def freeze_family(processes: Sequence[WasiFs]) -> bytes:
        """Freeze a fork family (processes sharing one tree) together: the tree
        and every description are stored once, so sharing survives."""
        if not processes:
            raise ValueError("freeze_family needs at least one process")
        tree = processes[0].tree
        if any(p.tree is not tree for p in processes):
            raise ValueError("freeze_family: the processes do not share one filesystem tree")
        from .frozen import encode

        return encode(tree, [p.fds for p in processes])

    @staticmethod
    def unfreeze_family(
        data: bytes, *, clock: Clock | None = None, host_dirs: HostDirs | None = None
    ) -> list[WasiFs]:
        """Rebuild every frozen process, sharing one new tree and stdio."""
        from .frozen import decode

        stdio = Stdio()
        tree, tables = decode(data, clock=clock, host_dirs=host_dirs, streams=stdio.streams)
        return [WasiFs._from_parts(tree, fds, stdio, clock is not None) for fds in tables]
