"""Helpers shared by the kernel tests (a module with a unique name so that it
cannot clash with other test packages' helpers)."""

from __future__ import annotations

import io

from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.kernel.sources import SeededRandom, VirtualClock
from wasi_rr.host.kernel.wasi_types import RIGHTS_ALL, OFlags, Rights
from wasi_rr.host.kernel.wasifs import MountSpec, WasiFs

ALL = int(RIGHTS_ALL)


def make_kernel(*mounts: MountSpec, stdin: bytes | None = None) -> WasiKernel:
    fs = WasiFs(list(mounts) or [MountSpec.tmpfs("/tmp")])
    return WasiKernel(
        args=["prog"],
        env={"A": "1"},
        fs=fs,
        clock=VirtualClock(),
        random=SeededRandom(7),
        stdin=io.BytesIO(stdin) if stdin is not None else None,
        stdout=io.BytesIO(),
        stderr=io.BytesIO(),
    )


def open_file(
    k: WasiKernel, path: str, oflags: int = 0, fdflags: int = 0, rights: int = ALL, dirfd: int = 3
) -> int:
    return k.path_open(dirfd, 0, path, oflags, rights, ALL, fdflags)


def create(k: WasiKernel, path: str, data: bytes = b"", dirfd: int = 3) -> None:
    fd = open_file(k, path, OFlags.CREAT | OFlags.TRUNC, dirfd=dirfd)
    if data:
        k.fd_write(fd, data)
    k.fd_close(fd)


READ_RIGHTS = int(Rights.FD_READ | Rights.FD_SEEK | Rights.FD_TELL | Rights.FD_FILESTAT_GET)


def read_all(k: WasiKernel, path: str, dirfd: int = 3) -> bytes:
    fd = k.path_open(dirfd, 0, path, 0, READ_RIGHTS, 0, 0)
    out = b""
    while chunk := k.fd_read(fd, 4096):
        out += chunk
    k.fd_close(fd)
    return out
