"""One description class per kind of fd: which class each open gets, the
overlay file that becomes a memory file when copied up, and unfreeze giving
back the same classes."""

from __future__ import annotations

from pathlib import Path

import pytest
from kernel_helpers import ALL, make_kernel

from wasi_rr.host.kernel.files import DirFile, MemFile
from wasi_rr.host.kernel.hostfile import HostDirFile, HostFile, OverlayFile
from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.kernel.streams import PipeEnd, StdinFile, StdoutFile
from wasi_rr.host.kernel.wasi_types import Errno, OFlags, Rights, WasiError
from wasi_rr.host.kernel.wasifs import MountMode, MountSpec, WasiFs

READ = int(Rights.FD_READ | Rights.FD_SEEK | Rights.FD_TELL | Rights.FD_FILESTAT_GET)


def kinds(k: WasiKernel) -> dict[int, type]:
    return {fd: type(desc) for fd, desc in k.fs.fds.fds.items()}


@pytest.fixture
def lower(tmp_path: Path) -> Path:
    root = tmp_path / "host"
    root.mkdir()
    (root / "f").write_bytes(b"lower")
    (root / "d").mkdir()
    return root


def test_each_kind_gets_its_class(lower: Path, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    wt.mkdir()
    (wt / "g").write_bytes(b"host")
    k = make_kernel(
        MountSpec.tmpfs("/tmp"), MountSpec("/wt", wt), MountSpec("/ov", lower, MountMode.OVERLAY)
    )
    try:
        mem = k.path_open(3, 0, "m", int(OFlags.CREAT), ALL, ALL, 0)
        memdir = k.path_open(3, 0, ".", int(OFlags.DIRECTORY), READ, 0, 0)
        host = k.path_open(4, 0, "g", 0, ALL, ALL, 0)
        hostdir = k.path_open(5, 0, "d", int(OFlags.DIRECTORY), READ, 0, 0)
        lower_ro = k.path_open(5, 0, "f", 0, READ, 0, 0)
        r, w = k.fd_pipe()
        assert kinds(k) == {
            0: StdinFile,
            1: StdoutFile,
            2: StdoutFile,
            3: DirFile,
            4: DirFile,
            5: DirFile,  # preopens: no OS fd of their own
            mem: MemFile,
            memdir: DirFile,
            host: HostFile,
            hostdir: HostDirFile,
            lower_ro: OverlayFile,
            r: PipeEnd,
            w: PipeEnd,
        }
        # an overlay file opened for writing is copied up: in memory at once
        assert type(k.fs.fds.fds[k.path_open(5, 0, "f", 0, ALL, ALL, 0)]) is MemFile
    finally:
        k.fs.close()
        k.fs.close_mounts()


def test_overlay_file_becomes_a_memory_file_when_copied_up(lower: Path) -> None:
    k = make_kernel(MountSpec("/ov", lower, MountMode.OVERLAY))
    try:
        rfd = k.path_open(3, 0, "f", 0, READ, 0, 0)
        assert k.fd_read(rfd, 2) == b"lo"
        desc = k.fs.fds.fds[rfd]
        dup = k.fd_dup(rfd)
        host_fd = desc.host_fd
        assert type(desc) is OverlayFile and host_fd >= 0
        wfd = k.path_open(3, 0, "f", 0, ALL, ALL, 0)  # copies the file up
        k.fd_pwrite(wfd, b"W", 2)
        assert type(desc) is OverlayFile  # noticed at its next call
        assert k.fd_read(dup, 10) == b"Wer"  # the shared offset (2) carried over
        assert type(desc) is MemFile and desc.host_fd == -1
        assert k.fd_filestat_get(rfd).size == 5
        assert lower.joinpath("f").read_bytes() == b"lower"  # the host is untouched
    finally:
        k.fs.close()
        k.fs.close_mounts()


def test_futimens_copies_an_overlay_file_up(lower: Path) -> None:
    k = make_kernel(MountSpec("/ov", lower, MountMode.OVERLAY))
    try:
        fd = k.path_open(3, 0, "f", 0, READ | int(Rights.FD_FILESTAT_SET_TIMES), 0, 0)
        k.fd_filestat_set_times(fd, 5, 7, 0b101)
        st = k.fd_filestat_get(fd)
        assert (st.atim, st.mtim) == (5, 7)
        assert type(k.fs.fds.fds[fd]) is MemFile
    finally:
        k.fs.close()
        k.fs.close_mounts()


def test_unfreeze_gives_back_the_classes(lower: Path, tmp_path: Path) -> None:
    k = make_kernel(MountSpec.tmpfs("/tmp"), MountSpec("/ov", lower, MountMode.OVERLAY))
    k.path_open(3, 0, "m", int(OFlags.CREAT), ALL, ALL, 0)
    lower_fd = k.path_open(4, 0, "f", 0, READ, 0, 0)
    k.path_open(4, 0, "d", int(OFlags.DIRECTORY), READ, 0, 0)
    k.fd_pipe()
    k2 = WasiKernel(fs=WasiFs.unfreeze(k.fs.freeze()))
    try:
        assert kinds(k2) == kinds(k)
        assert [k2.stdio_of(fd) for fd in (0, 1, 2)] == [0, 1, 2]
        assert k2.fd_read(lower_fd, 10) == b"lower"
    finally:
        for kk in (k, k2):
            kk.fs.close()
            kk.fs.close_mounts()


def test_a_host_file_that_cannot_be_reopened_answers_ebadf(tmp_path: Path) -> None:
    (tmp_path / "h").write_bytes(b"data")
    k = make_kernel(MountSpec("/h", tmp_path))
    fd = k.path_open(3, 0, "h", 0, ALL, ALL, 0)
    frozen = k.fs.freeze()
    (tmp_path / "h").unlink()
    k2 = WasiKernel(fs=WasiFs.unfreeze(frozen))
    try:
        for call, args in [
            (k2.fd_read, (fd, 1)),
            (k2.fd_write, (fd, b"x")),
            (k2.fd_pread, (fd, 1, 0)),
            (k2.fd_pwrite, (fd, b"x", 0)),
            (k2.fd_filestat_set_size, (fd, 0)),
        ]:
            with pytest.raises(WasiError) as info:
                call(*args)
            assert info.value.errno is Errno.BADF, call
    finally:
        for kk in (k, k2):
            kk.fs.close()
            kk.fs.close_mounts()
