"""Inodes of the virtual filesystem, and in-memory pipes.

One ``Inode`` class serves every backing so that an overlay copy-up can switch
a host file to memory *in place*: every open description that points at the
inode keeps pointing at it and sees the new contents.

Which fields are meaningful depends on ``kind`` and backing:

* in-memory regular file: ``data`` (a ``bytearray``, mutated in place so that
  writes never copy the whole file);
* in-memory directory: ``children`` (name -> Inode, insertion ordered);
* host-backed node (``host`` is not None): the host is authoritative for
  contents and metadata; for a directory of an OVERLAY mount ``children`` is
  the in-memory upper layer where ``None`` marks a whiteout (deleted name);
* symlink: ``target`` (only for in-memory symlinks; host symlinks are read
  from the host);
* pipe end: ``pipe``; character device (stdio): ``stdio`` slot 0/1/2.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .wasi_types import Filetype

if TYPE_CHECKING:
    from .hostdir import HostDir


class Kind(enum.IntEnum):
    """What an inode is; maps onto a WASI ``filetype``."""

    DIRECTORY = 1
    REGULAR_FILE = 2
    SYMLINK = 3
    CHARACTER_DEVICE = 4
    PIPE = 5

    @property
    def filetype(self) -> Filetype:
        return _FILETYPES[self]


_FILETYPES = {
    Kind.DIRECTORY: Filetype.DIRECTORY,
    Kind.REGULAR_FILE: Filetype.REGULAR_FILE,
    Kind.SYMLINK: Filetype.SYMBOLIC_LINK,
    Kind.CHARACTER_DEVICE: Filetype.CHARACTER_DEVICE,
    # WASI has no pipe filetype; wasmtime reports host pipes as UNKNOWN.
    Kind.PIPE: Filetype.UNKNOWN,
}


class Inode:
    """A file, directory, symlink, pipe end or stdio device.

    ``ino`` is the guest-visible inode number, assigned by the filesystem in
    order of creation (memory) or first observation (host), never a raw host
    inode number.
    """

    __slots__ = (
        "__weakref__",
        "atim",
        "children",
        "ctim",
        "data",
        "dev",
        "host",
        "host_path",
        "ino",
        "kind",
        "mtim",
        "nlink",
        "parent",
        "pipe",
        "stdio",
        "target",
        "times_override",
    )

    def __init__(self, ino: int, kind: Kind, dev: int, now: int) -> None:
        self.ino = ino
        self.kind = kind
        self.dev = dev
        self.nlink = 1
        self.atim = now
        self.mtim = now
        self.ctim = now
        self.data: bytearray | None = None
        self.children: dict[str, Inode | None] | None = None
        self.target: str | None = None
        self.parent: Inode | None = None
        self.host: HostDir | None = None
        self.host_path: tuple[str, ...] = ()
        self.pipe: Pipe | None = None
        self.stdio: int | None = None
        # OVERLAY: times set on a lower directory live here, not on the host.
        self.times_override = False

    @property
    def is_dir(self) -> bool:
        return self.kind is Kind.DIRECTORY

    def __repr__(self) -> str:
        where = "host:" + "/".join(self.host_path) if self.host is not None else "mem"
        return f"<Inode {self.ino} {self.kind.name} {where}>"


@dataclass(eq=False)
class Pipe:
    """An in-memory pipe buffer shared by a read end and a write end.

    ``readers``/``writers`` count the open descriptions of each end (not fds:
    dup'ed fds share one description).  Reading an empty pipe with no writer
    left is EOF; writing with no reader left is EPIPE.
    """

    capacity: int = 65536
    buffer: bytearray = field(default_factory=bytearray)
    readers: int = 0
    writers: int = 0
