"""The kernel against wasmtime's own WASI, syscall by syscall (no C guest).

A tiny WAT module exposes raw ``path_open`` & co. to Python; each case runs on
wasmtime's WASI and on ``WasiKernel`` over fresh copies of the same host
directory and must give the same errno (and, after a successful open, the same
answers to ftruncate/write/read). This pins the corners where wasmtime, the
reference of the differential tests, is not plain POSIX.
"""

from __future__ import annotations

import io
import itertools
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

wasmtime = pytest.importorskip("wasmtime")

from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.kernel.wasi_types import EventType, Rights, Subscription, WasiError
from wasi_rr.host.kernel.wasifs import MountSpec, WasiFs

WAT = r"""
(module
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fdstat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_set_size"
    (func $setsize (param i32 i64) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_readlink"
    (func $readlink (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_link"
    (func $link (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_rename"
    (func $rename (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_unlink_file"
    (func $unlink (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_remove_directory"
    (func $rmdir (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_symlink"
    (func $symlink (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "fdstat") (param i32) (result i32) (call $fdstat (local.get 0) (i32.const 0)))
  (func (export "open") (param i32 i32 i32 i64 i64 i32) (result i32)
    (call $open (i32.const 3) (local.get 0) (i32.const 512) (local.get 1) (local.get 2)
                (local.get 3) (local.get 4) (local.get 5) (i32.const 256)))
  (func (export "setsize") (param i32 i64) (result i32) (call $setsize (local.get 0) (local.get 1)))
  (func (export "write") (param i32) (result i32)
    (i32.store (i32.const 100) (i32.const 600)) (i32.store (i32.const 104) (i32.const 1))
    (call $write (local.get 0) (i32.const 100) (i32.const 1) (i32.const 120)))
  (func (export "read") (param i32) (result i32)
    (i32.store (i32.const 100) (i32.const 700)) (i32.store (i32.const 104) (i32.const 4))
    (call $read (local.get 0) (i32.const 100) (i32.const 1) (i32.const 120)))
  (func (export "readlink") (param i32) (result i32)
    (call $readlink (i32.const 3) (i32.const 512) (local.get 0)
                    (i32.const 800) (i32.const 100) (i32.const 120)))
  (func (export "link") (param i32 i32) (result i32)
    (call $link (i32.const 3) (i32.const 0) (i32.const 512)
                (local.get 0) (i32.const 3) (i32.const 640) (local.get 1)))
  (func (export "rename") (param i32 i32) (result i32)
    (call $rename (i32.const 3) (i32.const 512) (local.get 0)
                  (i32.const 3) (i32.const 640) (local.get 1)))
  (func (export "symlink") (param i32 i32) (result i32)
    (call $symlink (i32.const 512) (local.get 0) (i32.const 3) (i32.const 640) (local.get 1)))
  (func (export "unlink") (param i32) (result i32)
    (call $unlink (i32.const 3) (i32.const 512) (local.get 0)))
  (func (export "rmdir") (param i32) (result i32)
    (call $rmdir (i32.const 3) (i32.const 512) (local.get 0)))
  (func (export "poll") (param i32) (result i32)
    (call $poll (i32.const 1024) (i32.const 2048) (local.get 0) (i32.const 3900)))
  (func (export "_start"))
)
"""

RD = int(Rights.FD_READ | Rights.FD_READDIR)
WR = int(Rights.FD_DATASYNC | Rights.FD_WRITE | Rights.FD_ALLOCATE | Rights.FD_FILESTAT_SET_SIZE)


def encode_subscription(sub: Subscription) -> bytes:
    raw = bytearray(48)
    struct.pack_into("<QB", raw, 0, sub.userdata, sub.type)
    if sub.type == EventType.CLOCK:
        struct.pack_into("<IQQH", raw, 16, sub.clock_id, sub.timeout, sub.precision, sub.flags)
    else:
        struct.pack_into("<I", raw, 16, sub.fd)
    return bytes(raw)


def libc_rights(mode: str, inheriting: int) -> int:
    """The rights wasi-libc's open() asks for, for O_RDONLY / O_WRONLY / O_RDWR."""
    rights = ((1 << 64) - 1) & ~(RD | WR)
    if "r" in mode:
        rights |= RD
    if "w" in mode:
        rights |= WR
    return rights & inheriting


def seed(root: Path) -> None:
    (root / "f").write_bytes(b"hello")
    (root / "d").mkdir()
    (root / "d" / "inner").write_bytes(b"x")
    (root / "e").mkdir()
    os.symlink("/etc/passwd", root / "abs")
    os.symlink("f", root / "rel")
    os.symlink("missing", root / "dangling")


class Reference:
    """wasmtime's WASI over a host directory."""

    _module: Any = None
    _engine: Any = None

    def __init__(self, root: Path) -> None:
        if Reference._module is None:
            Reference._engine = wasmtime.Engine()
            Reference._module = wasmtime.Module(Reference._engine, WAT)
        cfg = wasmtime.WasiConfig()
        cfg.preopen_dir(str(root), "/data")
        (root.parent / "stdin").write_bytes(b"input")
        cfg.stdin_file = str(root.parent / "stdin")
        cfg.stdout_file = str(root.parent / "stdout")
        self.store = wasmtime.Store(Reference._engine)
        self.store.set_wasi(cfg)
        linker = wasmtime.Linker(Reference._engine)
        linker.define_wasi()
        self.ex = linker.instantiate(self.store, Reference._module).exports(self.store)
        self.mem = self.ex["memory"]
        self.ex["fdstat"](self.store, 3)
        self.inheriting = struct.unpack("<Q", bytes(self.mem.read(self.store, 16, 24)))[0]

    def _put(self, a: str, b: str = "") -> None:
        self.mem.write(self.store, a.encode(), 512)
        self.mem.write(self.store, b.encode(), 640)

    def open(self, path: str, oflags: int, mode: str, fdflags: int) -> tuple[int, Any]:
        self._put(path)
        e = self.ex["open"](
            self.store,
            0,
            len(path),
            oflags,
            libc_rights(mode, self.inheriting),
            self.inheriting,
            fdflags,
        )
        if e:
            return e, None
        fd = struct.unpack("<I", bytes(self.mem.read(self.store, 256, 260)))[0]
        s = self.store
        return 0, (self.ex["setsize"](s, fd, 2), self.ex["write"](s, fd), self.ex["read"](s, fd))

    def poll(self, subs: list[Subscription]) -> tuple[int, list[tuple[int, ...]]]:
        raw = b"".join(encode_subscription(sub) for sub in subs)
        self.mem.write(self.store, raw, 1024)
        e = int(self.ex["poll"](self.store, len(subs)))
        if e:
            return e, []
        n = struct.unpack("<I", bytes(self.mem.read(self.store, 3900, 3904)))[0]
        events = []
        for i in range(n):
            b = bytes(self.mem.read(self.store, 2048 + 32 * i, 2048 + 32 * i + 32))
            userdata, error, etype = struct.unpack_from("<QHB", b, 0)
            nbytes, flags = struct.unpack_from("<QH", b, 16)
            events.append((userdata, error, etype, nbytes, flags))
        return 0, events

    def call(self, name: str, a: str, b: str = "") -> int:
        self._put(a, b)
        args = (len(a), len(b)) if name in ("link", "rename", "symlink") else (len(a),)
        return int(self.ex[name](self.store, *args))


class Ours:
    """WasiKernel over a host directory."""

    def __init__(self, root: Path) -> None:
        (root.parent / "stdin2").write_bytes(b"input")
        self._stdin = open(root.parent / "stdin2", "rb")  # closed in close()
        self.k = WasiKernel(
            fs=WasiFs([MountSpec("/data", root)]), stdin=self._stdin, stdout=io.BytesIO()
        )
        self.inheriting = int(self.k.fd_fdstat_get(3).rights_inheriting)

    @staticmethod
    def _errno(fn: Callable[..., Any], *args: Any) -> int:
        try:
            fn(*args)
        except WasiError as err:
            return int(err.errno)
        return 0

    def open(self, path: str, oflags: int, mode: str, fdflags: int) -> tuple[int, Any]:
        k = self.k
        try:
            fd = k.path_open(
                3, 0, path, oflags, libc_rights(mode, self.inheriting), self.inheriting, fdflags
            )
        except WasiError as err:
            return int(err.errno), None
        e = self._errno
        return 0, (e(k.fd_filestat_set_size, fd, 2), e(k.fd_write, fd, b"x"), e(k.fd_read, fd, 4))

    def call(self, name: str, a: str, b: str = "") -> int:
        k = self.k
        fn: dict[str, Callable[[], Any]] = {
            "readlink": lambda: k.path_readlink(3, a),
            "link": lambda: k.path_link(3, 0, a, 3, b),
            "rename": lambda: k.path_rename(3, a, 3, b),
            "symlink": lambda: k.path_symlink(a, 3, b),
            "unlink": lambda: k.path_unlink_file(3, a),
            "rmdir": lambda: k.path_remove_directory(3, a),
        }
        return self._errno(fn[name])

    def poll(self, subs: list[Subscription]) -> tuple[int, list[tuple[int, ...]]]:
        try:
            events = self.k.poll_oneoff(subs)
        except WasiError as err:
            return int(err.errno), []
        return 0, [(e.userdata, int(e.error), int(e.type), e.nbytes, int(e.flags)) for e in events]

    def close(self) -> None:
        self.k.fs.close()
        self.k.fs.close_mounts()
        self._stdin.close()


def both(tmp_path: Path, n: int) -> tuple[Reference, Ours]:
    ref_root, our_root = tmp_path / f"ref{n}", tmp_path / f"ours{n}"
    for root in (ref_root, our_root):
        root.mkdir()
        seed(root)
    return Reference(ref_root), Ours(our_root)


@pytest.mark.parametrize("target", ["f", "d", "n", "f/", "d/", "rel", "dangling"])
def test_path_open_matrix(tmp_path: Path, target: str) -> None:
    """Every oflags combination x access mode x APPEND on one kind of target."""
    diffs = []
    for n, (oflags, mode, fdflags) in enumerate(
        itertools.product(range(16), ["r", "w", "rw"], [0, 1])
    ):
        ref, ours = both(tmp_path, n)
        a = ref.open(target, oflags, mode, fdflags)
        b = ours.open(target, oflags, mode, fdflags)
        ours.close()
        if a != b:
            diffs.append(f"oflags={oflags} {mode} append={fdflags}: wasmtime {a} ours {b}")
    assert not diffs, "\n".join(diffs)


CALLS = [
    ("readlink", "abs", ""),
    ("readlink", "rel", ""),
    ("readlink", "f", ""),
    ("link", "f", "f"),
    ("link", "f", "d"),
    ("link", "d", "f"),
    ("link", "d", "new"),
    ("link", "missing", "f"),
    ("link", "missing", "f/x/y"),
    ("link", "f", "rel"),
    ("rename", "d/inner", "d"),
    ("rename", "d", "d/inner"),
    ("rename", "d", "d/new"),
    ("rename", "f", "d"),
    ("rename", "d", "f"),
    ("rename", "d", "e"),
    ("rename", "e", "d"),
    ("rename", "missing", "f/x"),
    ("rename", "f", "f/"),
    ("rename", "f", "new/"),
    ("rename", "dangling", "new"),
    ("symlink", "/etc/passwd", "new"),
    ("symlink", "f", "f"),
    ("symlink", "x", "new/"),
    ("symlink", "x", "dangling"),
    ("unlink", "d", ""),
    ("unlink", "d/", ""),
    ("unlink", "f/", ""),
    ("unlink", "rel", ""),
    ("unlink", "..", ""),
    ("rmdir", "f", ""),
    ("rmdir", "d", ""),
    ("rmdir", "e/", ""),
    ("rmdir", ".", ""),
    ("rmdir", "rel", ""),
    ("rmdir", "e/", ""),
    ("rmdir", "e/..", ""),
    ("rename", "e", "."),
    ("rename", ".", "x"),
    ("rename", "missing", "."),
    ("rename", "e", "d/.."),
    ("rename", "d/inner/..", "x"),
    ("rename", ".", "missing/x"),
]


@pytest.mark.parametrize(("name", "a", "b"), CALLS)
def test_path_calls(tmp_path: Path, name: str, a: str, b: str) -> None:
    ref, ours = both(tmp_path, 0)
    try:
        assert ours.call(name, a, b) == ref.call(name, a, b)
    finally:
        ours.close()


POLLS = {
    "directory": [Subscription(1, EventType.FD_READ, fd=3)],
    "closed fd": [Subscription(1, EventType.FD_WRITE, fd=99)],
    "stdin readable": [Subscription(1, EventType.FD_READ, fd=0)],
    "stdin for writing": [Subscription(1, EventType.FD_WRITE, fd=0)],
    "stdout for reading": [Subscription(1, EventType.FD_READ, fd=1)],
    "stdout writable": [Subscription(1, EventType.FD_WRITE, fd=1)],
    "expired clock": [Subscription(7, EventType.CLOCK, clock_id=1, timeout=0)],
    "cpu clock": [Subscription(7, EventType.CLOCK, clock_id=2, timeout=10)],
    "clock and stdout": [
        Subscription(7, EventType.CLOCK, clock_id=1, timeout=10**6),
        Subscription(8, EventType.FD_WRITE, fd=2),
    ],
}


@pytest.mark.parametrize("case", list(POLLS))
def test_poll_oneoff(tmp_path: Path, case: str) -> None:
    ref, ours = both(tmp_path, 0)
    try:
        assert ours.poll(POLLS[case]) == ref.poll(POLLS[case])
    finally:
        ours.close()
