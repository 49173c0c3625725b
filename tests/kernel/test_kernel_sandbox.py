"""Sandbox escapes over a real host directory full of evil symlinks.

The host tree is::

    outside/secret            a file that must never be reachable
    root/                     the mounted directory
      abs -> /etc/passwd      absolute symlink
      abs_outside -> <tmp>/outside/secret
      up -> ..                climbs out
      upup -> ../..           climbs further
      chain1 -> chain2 -> sub/chain3 -> ../../outside/secret
      loop_a <-> loop_b       a loop
      sub/ok -> ../file       a legal relative link
      file
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from kernel_helpers import ALL

from wasi_rr.host.kernel.wasi_types import Rights

READ = int(Rights.FD_READ | Rights.FD_READDIR | Rights.PATH_OPEN | Rights.FD_SEEK)
from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.kernel.wasi_types import Errno, LookupFlags, OFlags, WasiError
from wasi_rr.host.kernel.wasifs import MountMode

FOLLOW = int(LookupFlags.SYMLINK_FOLLOW)


@pytest.fixture
def evil(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"SECRET")
    root = tmp_path / "root"
    root.mkdir()
    (root / "file").write_bytes(b"inside")
    (root / "sub").mkdir()
    os.symlink("/etc/passwd", root / "abs")
    os.symlink(str(outside / "secret"), root / "abs_outside")
    os.symlink("..", root / "up")
    os.symlink("../..", root / "upup")
    os.symlink("chain2", root / "chain1")
    os.symlink("sub/chain3", root / "chain2")
    os.symlink("../../outside/secret", root / "sub" / "chain3")
    os.symlink("loop_b", root / "loop_a")
    os.symlink("loop_a", root / "loop_b")
    os.symlink("../file", root / "sub" / "ok")
    return root


def errno_of(fn, *args) -> Errno:  # type: ignore[no-untyped-def]
    with pytest.raises(WasiError) as info:
        fn(*args)
    return info.value.errno


ESCAPES = [
    "..",
    "../outside/secret",
    "sub/../..",
    "sub/../../outside/secret",
    "./../root/file",
    "up/outside/secret",
    "up",
    "upup/x",
    "chain1",
    "abs_outside",
    "sub/chain3",
]


@pytest.mark.parametrize("mode", list(MountMode))
@pytest.mark.parametrize("path", ESCAPES)
def test_escapes_are_refused(
    host_kernel: Callable[..., WasiKernel], evil: Path, mode: MountMode, path: str
) -> None:
    k = host_kernel(mode, evil)
    assert errno_of(k.path_open, 3, FOLLOW, path, 0, ALL, ALL, 0) is Errno.PERM
    assert errno_of(k.path_filestat_get, 3, FOLLOW, path) is Errno.PERM


@pytest.mark.parametrize("mode", list(MountMode))
def test_absolute_paths_and_targets(
    host_kernel: Callable[..., WasiKernel], evil: Path, mode: MountMode
) -> None:
    k = host_kernel(mode, evil)
    assert errno_of(k.path_open, 3, FOLLOW, "/etc/passwd", 0, ALL, ALL, 0) is Errno.PERM
    assert errno_of(k.path_open, 3, FOLLOW, "abs", 0, ALL, ALL, 0) is Errno.PERM
    # Not following: the link itself is visible, but (like wasmtime) readlink
    # does not reveal a target outside the sandbox.
    assert errno_of(k.path_readlink, 3, "abs") is Errno.PERM
    assert k.path_filestat_get(3, 0, "abs").size == len("/etc/passwd")
    assert errno_of(k.path_open, 3, 0, "abs", 0, ALL, ALL, 0) is Errno.LOOP
    assert errno_of(k.path_filestat_get, 3, FOLLOW, "loop_a") is Errno.LOOP


def test_legal_relative_links_work(host_kernel: Callable[..., WasiKernel], evil: Path) -> None:
    k = host_kernel(MountMode.READ_ONLY, evil)
    fd = k.path_open(3, FOLLOW, "sub/ok", 0, READ, ALL, 0)
    assert k.fd_read(fd, 100) == b"inside"
    fd = k.path_open(3, FOLLOW, "sub/../file", 0, READ, ALL, 0)
    assert k.fd_read(fd, 100) == b"inside"


def test_dotdot_cannot_leave_an_opened_subdirectory(
    host_kernel: Callable[..., WasiKernel], evil: Path
) -> None:
    k = host_kernel(MountMode.WRITE_THROUGH, evil)
    sub = k.path_open(3, 0, "sub", OFlags.DIRECTORY, READ, ALL, 0)
    # '..' from an fd is refused even though it stays inside the preopen (capability semantics)
    assert errno_of(k.path_open, sub, FOLLOW, "../file", 0, ALL, ALL, 0) is Errno.PERM
    assert errno_of(k.path_open, sub, FOLLOW, "ok", 0, ALL, ALL, 0) is Errno.PERM


@pytest.mark.parametrize("mode", [MountMode.WRITE_THROUGH, MountMode.OVERLAY])
def test_creation_through_escaping_links_is_refused(
    host_kernel: Callable[..., WasiKernel], evil: Path, mode: MountMode
) -> None:
    k = host_kernel(mode, evil)
    outside = evil.parent / "outside"
    assert errno_of(k.path_open, 3, FOLLOW, "up/created", OFlags.CREAT, ALL, ALL, 0) is Errno.PERM
    assert errno_of(k.path_create_directory, 3, "up/made") is Errno.PERM
    assert errno_of(k.path_rename, 3, "file", 3, "up/stolen") is Errno.PERM
    # path_link never follows (EINVAL, as wasmtime); linking the link itself stays inside
    assert errno_of(k.path_link, 3, FOLLOW, "abs_outside", 3, "hard") is Errno.INVAL
    assert errno_of(k.path_symlink, "/etc/passwd", 3, "newabs") is Errno.PERM
    assert errno_of(k.path_unlink_file, 3, "up/outside/secret") is Errno.PERM
    assert sorted(os.listdir(outside)) == ["secret"]
    assert sorted(os.listdir(evil.parent)) == ["outside", "root"]


def test_host_directory_swapped_for_symlink_is_not_followed(
    host_kernel: Callable[..., WasiKernel], evil: Path
) -> None:
    """A directory the resolver saw is replaced by an escaping symlink on the
    host (a race): the O_NOFOLLOW walk refuses it instead of escaping."""
    k = host_kernel(MountMode.WRITE_THROUGH, evil)
    (evil / "d").mkdir()
    (evil / "d" / "f").write_bytes(b"x")
    assert k.fd_read(k.path_open(3, 0, "d/f", 0, ALL, ALL, 0), 10) == b"x"
    os.unlink(evil / "d" / "f")
    os.rmdir(evil / "d")
    os.symlink(str(evil.parent / "outside"), evil / "d")
    with pytest.raises(WasiError) as info:
        k.path_open(3, 0, "d/secret", 0, ALL, ALL, 0)
    assert info.value.errno in (Errno.PERM, Errno.NOENT, Errno.LOOP, Errno.NOTDIR)


def test_names_with_odd_bytes(host_kernel: Callable[..., WasiKernel], tmp_path: Path) -> None:
    (tmp_path / "ok").mkdir()
    os.mkdir(os.fsencode(tmp_path / "ok") + b"/bad\xffname")
    k = host_kernel(MountMode.READ_ONLY, tmp_path / "ok")
    listed = [d.name for d in k.fd_readdir(3, 0)]
    assert b"bad\xffname" in listed
    assert errno_of(k.path_open, 3, 0, "x" * 300, 0, ALL, ALL, 0) is Errno.NAMETOOLONG
    assert errno_of(k.path_open, 3, 0, "a\0b", 0, ALL, ALL, 0) is Errno.INVAL


def test_directory_moved_out_on_the_host_is_not_reachable(
    host_kernel: Callable[..., WasiKernel], evil: Path
) -> None:
    """Directory fds are cached only within one syscall: after the host moves a
    directory out of the mount, the guest cannot follow it there."""
    k = host_kernel(MountMode.WRITE_THROUGH, evil)
    (evil / "d" / "e").mkdir(parents=True)
    (evil / "d" / "e" / "f").write_bytes(b"x")
    assert k.path_filestat_get(3, 0, "d/e/f").size == 1
    dfd = k.path_open(3, 0, "d/e", OFlags.DIRECTORY, READ, 0, 0)
    os.rename(evil / "d", evil.parent / "outside" / "moved")
    assert errno_of(k.path_filestat_get, 3, 0, "d/e/f") is Errno.NOENT
    assert errno_of(k.path_open, 3, 0, "d/e/f", OFlags.CREAT, ALL, ALL, 0) is Errno.NOENT
    # the guest's directory fd names the path, which is gone: nothing outside is listed
    with pytest.raises(WasiError):
        list(k.fd_readdir(dfd, 0))
    assert sorted(os.listdir(evil.parent / "outside" / "moved" / "e")) == ["f"]
