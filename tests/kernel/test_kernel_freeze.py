"""freeze/unfreeze round trips: property-tested over random syscall sequences.

Two kernels, the original and one rebuilt from ``unfreeze(freeze(fs))``, must
answer every later syscall identically, and a full observation of both (the
tree, contents, metadata, fd table, offsets, flags, rights) must be equal.
The mounts are a tmpfs and an OVERLAY of a host directory, whose lower layer
is never modified, so both kernels can share it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kernel_helpers import ALL

from wasi_rr.host.kernel.freeze import FreezeError
from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.kernel.sources import SeededRandom, VirtualClock
from wasi_rr.host.kernel.wasi_types import (
    Errno,
    FdFlags,
    Filestat,
    Filetype,
    FstFlags,
    OFlags,
    Rights,
    WasiError,
)
from wasi_rr.host.kernel.wasifs import MountMode, MountSpec, WasiFs

READ = int(
    Rights.FD_READ | Rights.FD_SEEK | Rights.FD_TELL | Rights.FD_FILESTAT_GET | Rights.FD_READDIR
)
WRITE = int(Rights.FD_WRITE | Rights.FD_SEEK | Rights.FD_TELL | Rights.FD_FILESTAT_SET_SIZE)

PATHS = ["a", "b", "d", "d/a", "d/e", "e", "sub", "sub/f", "lnk", "lnk/x", "up", "..", "sub/../a"]
DATA = st.binary(min_size=0, max_size=40)

op_st = st.one_of(
    st.tuples(
        st.just("open"),
        st.sampled_from(PATHS),
        st.integers(0, 15),
        st.sampled_from([READ, WRITE, ALL]),
        st.sampled_from([0, int(FdFlags.APPEND), int(FdFlags.NONBLOCK)]),
        st.integers(0, 1),
    ),
    st.tuples(st.just("write"), st.integers(0, 20), DATA),
    st.tuples(st.just("read"), st.integers(0, 20), st.integers(0, 50)),
    st.tuples(st.just("seek"), st.integers(0, 20), st.integers(-10, 60), st.integers(0, 2)),
    st.tuples(st.just("pwrite"), st.integers(0, 20), DATA, st.integers(0, 60)),
    st.tuples(st.just("pread"), st.integers(0, 20), st.integers(0, 30), st.integers(0, 60)),
    st.tuples(st.just("close"), st.integers(0, 20)),
    st.tuples(st.just("dup"), st.integers(0, 20)),
    st.tuples(st.just("renumber"), st.integers(0, 20), st.integers(0, 20)),
    st.tuples(st.just("mkdir"), st.sampled_from(PATHS), st.integers(0, 1)),
    st.tuples(st.just("rmdir"), st.sampled_from(PATHS), st.integers(0, 1)),
    st.tuples(st.just("unlink"), st.sampled_from(PATHS), st.integers(0, 1)),
    st.tuples(st.just("rename"), st.sampled_from(PATHS), st.sampled_from(PATHS), st.integers(0, 1)),
    st.tuples(st.just("link"), st.sampled_from(PATHS), st.sampled_from(PATHS), st.integers(0, 1)),
    st.tuples(
        st.just("symlink"),
        st.sampled_from(["a", "d", "..", "sub/f", "nowhere"]),
        st.sampled_from(PATHS),
        st.integers(0, 1),
    ),
    st.tuples(st.just("set_size"), st.integers(0, 20), st.integers(0, 50)),
    st.tuples(
        st.just("set_times"),
        st.sampled_from(PATHS),
        st.integers(0, 1000),
        st.integers(0, 15),
        st.integers(0, 1),
    ),
    st.tuples(st.just("fdflags"), st.integers(0, 20), st.sampled_from([0, 1, 4, 5])),
    st.tuples(
        st.just("pipe"),
    ),
    st.tuples(st.just("sleep"), st.integers(1, 10**6)),
    st.tuples(st.just("readdir"), st.integers(0, 20), st.integers(0, 6)),
)


def pick_fd(k: WasiKernel, i: int) -> int:
    fds = sorted(k.fs.fds.fds)
    return fds[i % len(fds)] if fds else 0


def dirfd(k: WasiKernel, which: int) -> int:
    pre = [fd for fd, _ in k.fs.preopens()]
    return pre[which % len(pre)] if pre else 3


def apply(k: WasiKernel, op: tuple[Any, ...]) -> Any:
    """Run one op; the observation is its result or its errno."""
    name = op[0]
    try:
        if name == "open":
            _, path, oflags, rights, fdflags, which = op
            return k.path_open(dirfd(k, which), 1, path, oflags, rights, ALL, fdflags)
        if name == "write":
            return k.fd_write(pick_fd(k, op[1]), op[2])
        if name == "read":
            return k.fd_read(pick_fd(k, op[1]), op[2])
        if name == "seek":
            return k.fd_seek(pick_fd(k, op[1]), op[2], op[3])
        if name == "pwrite":
            return k.fd_pwrite(pick_fd(k, op[1]), op[2], op[3])
        if name == "pread":
            return k.fd_pread(pick_fd(k, op[1]), op[2], op[3])
        if name == "close":
            return k.fd_close(pick_fd(k, op[1]))
        if name == "dup":
            return k.fd_dup(pick_fd(k, op[1]))
        if name == "renumber":
            return k.fd_renumber(pick_fd(k, op[1]), pick_fd(k, op[2]))
        if name == "mkdir":
            return k.path_create_directory(dirfd(k, op[2]), op[1])
        if name == "rmdir":
            return k.path_remove_directory(dirfd(k, op[2]), op[1])
        if name == "unlink":
            return k.path_unlink_file(dirfd(k, op[2]), op[1])
        if name == "rename":
            return k.path_rename(dirfd(k, op[3]), op[1], dirfd(k, op[3]), op[2])
        if name == "link":
            return k.path_link(dirfd(k, op[3]), 0, op[1], dirfd(k, op[3]), op[2])
        if name == "symlink":
            return k.path_symlink(op[1], dirfd(k, op[3]), op[2])
        if name == "set_size":
            return k.fd_filestat_set_size(pick_fd(k, op[1]), op[2])
        if name == "set_times":
            return k.path_filestat_set_times(dirfd(k, op[4]), 0, op[1], op[2], op[2] + 1, op[3])
        if name == "fdflags":
            return k.fd_fdstat_set_flags(pick_fd(k, op[1]), op[2])
        if name == "pipe":
            return k.fd_pipe()
        if name == "sleep":
            return k.clock.sleep(op[1])
        if name == "readdir":
            return list(k.fd_readdir(pick_fd(k, op[1]), op[2]))
    except WasiError as err:
        return err.errno
    raise AssertionError(op)


LOWER_DEV = 2


def norm(x: Any) -> Any:
    """Host access times move when the test itself lists the lower layer, so
    they are not compared for nodes of the overlay mount."""
    if isinstance(x, Filestat) and x.dev == LOWER_DEV:
        return dataclasses.replace(x, atim=0)
    if isinstance(x, list):
        return [norm(i) for i in x]
    return x


def observe(k: WasiKernel) -> Any:
    return norm(_observe(k))


def _observe(k: WasiKernel) -> Any:
    """Everything visible: fd table, offsets, metadata, and the whole tree."""
    out: list[Any] = []
    for fd in sorted(k.fs.fds.fds):
        st = k.fd_fdstat_get(fd)
        row: list[Any] = [fd, st]
        for probe in (k.fd_tell, k.fd_filestat_get, k.fd_prestat_get):
            try:
                row.append(probe(fd))
            except WasiError as err:
                row.append(err.errno)
        out.append(row)
    for fd, _ in k.fs.preopens():
        out.append(walk(k, fd, ".", 0))
    return out


def walk(k: WasiKernel, fd: int, path: str, depth: int) -> Any:
    entries: list[Any] = []
    if depth > 4:
        return entries
    try:
        dfd = k.path_open(fd, 0, path, OFlags.DIRECTORY, READ, 0, 0)
    except WasiError as err:
        return err.errno
    try:
        for ent in k.fd_readdir(dfd, 0):
            name = ent.name.decode()
            sub = f"{path}/{name}"
            if name in (".", ".."):
                entries.append([ent])
                continue
            item: list[Any] = [ent, k.path_filestat_get(fd, 0, sub)]
            if ent.filetype is Filetype.DIRECTORY:
                item.append(walk(k, fd, sub, depth + 1))
            elif ent.filetype is Filetype.SYMBOLIC_LINK:
                item.append(k.path_readlink(fd, sub))
            elif ent.filetype is Filetype.REGULAR_FILE:
                ffd = k.path_open(fd, 0, sub, 0, READ, 0, 0)
                item.append(k.fd_pread(ffd, 1 << 20, 0))
                k.fd_close(ffd)
            entries.append(item)
    finally:
        k.fd_close(dfd)
    return entries


@pytest.fixture(scope="module")
def lower(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("lower")
    (root / "a").write_bytes(b"lower-a")
    (root / "sub").mkdir()
    (root / "sub" / "f").write_bytes(b"lower-f")
    os.symlink("sub", root / "lnk")
    yield root


def new_kernel(fs: WasiFs, elapsed: int = 0) -> WasiKernel:
    clock = VirtualClock()
    clock.advance(elapsed)
    return WasiKernel(fs=fs, clock=clock, random=SeededRandom(1))


def clone(k: WasiKernel) -> WasiKernel:
    data = k.fs.freeze()
    assert isinstance(data, bytes)
    return new_kernel(WasiFs.unfreeze(data), k.clock.elapsed)  # type: ignore[attr-defined]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(before=st.lists(op_st, max_size=30), after=st.lists(op_st, max_size=15))
def test_unfreeze_freeze_is_observably_equal(
    lower: Path, before: list[Any], after: list[Any]
) -> None:
    k1 = new_kernel(
        WasiFs([MountSpec.tmpfs("/tmp"), MountSpec("/lower", lower, MountMode.OVERLAY)])
    )
    try:
        for op in before:
            apply(k1, op)
        k2 = clone(k1)
        try:
            assert observe(k2) == observe(k1)
            for op in after:
                assert norm(apply(k2, op)) == norm(apply(k1, op)), op
            assert observe(k2) == observe(k1)
            # freezing is deterministic: the clone freezes to the same bytes
            assert k2.fs.freeze() == k1.fs.freeze()
            assert norm(exercise_every_fd(k2)) == norm(exercise_every_fd(k1))
            assert observe(k2) == observe(k1)
        finally:
            k2.fs.close()
            k2.fs.close_mounts()
    finally:
        k1.fs.close()
        k1.fs.close_mounts()


def test_shared_descriptions_stay_shared() -> None:
    k = new_kernel(WasiFs([MountSpec.tmpfs("/tmp")]))
    fd = k.path_open(3, 0, "f", OFlags.CREAT, ALL, ALL, 0)
    k.fd_write(fd, b"0123456789")
    dup = k.fd_dup(fd)
    r, w = k.fd_pipe()
    k.fd_write(w, b"buffered")
    k2 = clone(k)
    k2.fd_seek(fd, 2, 0)
    assert k2.fd_tell(dup) == 2
    assert k.fd_tell(dup) == 10  # the original is independent
    assert k2.fd_read(r, 100) == b"buffered"
    k2.fd_close(w)
    assert k2.fd_read(r, 100) == b""
    # an unlinked but open file survives
    k.path_unlink_file(3, "f")
    k3 = clone(k)
    k3.fd_seek(fd, 0, 0)
    assert k3.fd_read(fd, 4) == b"0123"
    assert k3.fd_filestat_get(fd).nlink == 0


def test_host_mount_stored_by_reference(tmp_path: Path) -> None:
    (tmp_path / "h.txt").write_bytes(b"CONTENTS")
    k = new_kernel(WasiFs([MountSpec("/data", tmp_path)]))
    fd = k.path_open(3, 0, "h.txt", 0, ALL, ALL, 0)
    k.fd_read(fd, 2)
    ino = k.fd_filestat_get(fd).ino
    data = k.fs.freeze()
    assert b"CONTENTS" not in data  # contents are not captured, only the reference
    k2 = new_kernel(WasiFs.unfreeze(data))
    assert k2.fd_read(fd, 10) == b"NTENTS"
    assert k2.fd_filestat_get(fd).ino == ino
    k2.fd_write(fd, b"!")
    assert (tmp_path / "h.txt").read_bytes() == b"CONTENTS!"
    assert k2.fd_prestat_dir_name(3) == b"/data"
    for kk in (k, k2):
        kk.fs.close()
        kk.fs.close_mounts()


def test_garbage_is_refused() -> None:
    with pytest.raises(FreezeError):
        WasiFs.unfreeze(b"\xc1not msgpack")
    import msgpack

    with pytest.raises(FreezeError):
        WasiFs.unfreeze(msgpack.packb({"v": 99}))


def test_errno_observations_are_comparable() -> None:
    # guard for the property test: errno observations compare by value
    assert Errno.NOENT == Errno(44) and FstFlags.ATIM == 1


def test_fork_family_round_trip() -> None:
    parent = new_kernel(WasiFs([MountSpec.tmpfs("/tmp")]))
    fd = parent.path_open(3, 0, "f", OFlags.CREAT, ALL, ALL, 0)
    parent.fd_write(fd, b"0123456789")
    r, w = parent.fd_pipe()
    child = parent.fork()
    parent.fd_close(w)  # only the child still holds the write end
    child.fd_close(r)
    data = WasiFs.freeze_family([parent.fs, child.fs])
    fs_p, fs_c = WasiFs.unfreeze_family(data)
    assert fs_p.tree is fs_c.tree
    p2, c2 = new_kernel(fs_p), new_kernel(fs_c)
    c2.fd_seek(fd, 3, 0)
    assert p2.fd_tell(fd) == 3  # the description is still shared across the processes
    assert errno_of_call(p2.fd_read, r, 1) is Errno.AGAIN  # a writer lives in the child
    c2.fd_write(w, b"x")
    assert p2.fd_read(r, 5) == b"x"
    c2.fd_close(w)
    assert p2.fd_read(r, 5) == b""
    create_in_child = c2.path_open(3, 0, "g", OFlags.CREAT, ALL, ALL, 0)
    assert create_in_child > 0 and p2.path_filestat_get(3, 0, "g").size == 0
    import pytest as _pytest

    with _pytest.raises(ValueError):
        WasiFs.freeze_family([parent.fs, new_kernel(WasiFs()).fs])


def errno_of_call(fn, *args) -> Errno:  # type: ignore[no-untyped-def]
    with pytest.raises(WasiError) as info:
        fn(*args)
    return info.value.errno


def norm_host(x: Any) -> Any:
    """Host timestamps move with wall time and copies; host directory sizes
    depend on the host filesystem's history: not compared for the host mount."""
    if isinstance(x, Filestat) and x.dev == LOWER_DEV:
        size = 0 if x.filetype is Filetype.DIRECTORY else x.size
        return dataclasses.replace(x, atim=0, mtim=0, ctim=0, size=size)
    if isinstance(x, list):
        return [norm_host(i) for i in x]
    return x


def host_descriptions_reopenable(k: WasiKernel) -> bool:
    """Host file descriptions are re-opened by path at unfreeze: that is only
    the same file if the path still names it (documented limitation)."""
    for desc in k.fs.fds.fds.values():
        node = desc.inode
        if desc.host_fd < 0 or node.host is None or desc.preopen is not None:
            continue
        st = node.host.lstat(node.host_path)
        fst = os.fstat(desc.host_fd)
        if st is None or (st.st_dev, st.st_ino) != (fst.st_dev, fst.st_ino):
            return False
    return True


def exercise_every_fd(k: WasiKernel) -> list[Any]:
    """Write, seek, read and pread through every fd (so every description's
    access mode and offset is checked after an unfreeze)."""
    out: list[Any] = []
    for fd in sorted(k.fs.fds.fds):
        if fd in (0, 1, 2):
            continue
        for op in (("write", fd, b"Z"), ("seek", fd, 0, 0), ("read", fd, 8), ("pread", fd, 4, 1)):
            out.append(apply(k, (op[0], sorted(k.fs.fds.fds).index(fd), *op[2:])))
    return out


def host_tree(root: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            rel = str(p.relative_to(root))
            out[rel] = (
                ("link", os.readlink(p))
                if p.is_symlink()
                else ("dir",)
                if p.is_dir()
                else p.read_bytes()
            )
    return out


@settings(max_examples=40, deadline=None)
@given(before=st.lists(op_st, max_size=25), after=st.lists(op_st, max_size=12))
def test_unfreeze_write_through_mount_on_a_copy(before: list[Any], after: list[Any]) -> None:
    """A write-through mount is stored by reference: unfreezing onto a copy of
    the host directory (``host_dirs``) gives a kernel that behaves the same."""
    import subprocess
    import tempfile

    from hypothesis import assume

    with tempfile.TemporaryDirectory() as td:
        a, b = Path(td) / "a", Path(td) / "b"
        a.mkdir()
        (a / "a").write_bytes(b"host-a")
        (a / "sub").mkdir()
        (a / "sub" / "f").write_bytes(b"host-f")
        os.symlink("sub", a / "lnk")
        k1 = new_kernel(WasiFs([MountSpec.tmpfs("/tmp"), MountSpec("/data", a)]))
        k2 = None
        try:
            # always some host descriptions: read-write, read-only, append, a directory
            prologue = [
                ("open", "a", 0, ALL, 0, 1),
                ("open", "sub/f", 0, READ, 0, 1),
                ("open", "sub/f", 0, WRITE, int(FdFlags.APPEND), 1),
                ("open", "sub", int(OFlags.DIRECTORY), READ, 0, 1),
                ("read", 0, 3),
            ]
            for op in prologue + before:
                apply(k1, op)
            assume(host_descriptions_reopenable(k1))
            data = k1.fs.freeze()
            subprocess.run(["cp", "-a", str(a), str(b)], check=True)  # keeps hard links
            k2 = new_kernel(WasiFs.unfreeze(data, host_dirs={"/data": b}), k1.clock.elapsed)  # type: ignore[attr-defined]
            assert norm_host(_observe(k2)) == norm_host(_observe(k1))
            for op in after:
                assert norm_host(apply(k2, op)) == norm_host(apply(k1, op)), op
            assert norm_host(_observe(k2)) == norm_host(_observe(k1))
            assert norm_host(exercise_every_fd(k2)) == norm_host(exercise_every_fd(k1))
            assert host_tree(b) == host_tree(a)
        finally:
            for k in (k1, k2):
                if k is not None:
                    k.fs.close()
                    k.fs.close_mounts()
