"""Host-directory mounts in the three modes, and how their files look to the guest."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from kernel_helpers import ALL, create, open_file, read_all

from wasi_rr.host.kernel.hostdir import MountError
from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.kernel.wasi_types import (
    Errno,
    FdFlags,
    Filetype,
    FstFlags,
    OFlags,
    Rights,
    WasiError,
)
from wasi_rr.host.kernel.wasifs import MountMode, MountSpec, WasiFs

READ = int(Rights.FD_READ | Rights.FD_SEEK | Rights.FD_TELL | Rights.FD_FILESTAT_GET)


def errno_of(fn, *args, **kwargs) -> Errno:  # type: ignore[no-untyped-def]
    with pytest.raises(WasiError) as info:
        fn(*args, **kwargs)
    return info.value.errno


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` with a digest of what it is."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                st = p.stat()
                out[rel] = f"file:{hashlib.sha256(p.read_bytes()).hexdigest()}:{st.st_mtime_ns}"
    return out


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    root = tmp_path / "host"
    root.mkdir()
    (root / "a.txt").write_bytes(b"alpha")
    (root / "b.txt").write_bytes(b"beta")
    (root / "d").mkdir()
    (root / "d" / "inner").write_bytes(b"in")
    os.symlink("a.txt", root / "la")
    return root


def test_write_through(host_kernel: Callable[..., WasiKernel], seeded: Path) -> None:
    k = host_kernel(MountMode.WRITE_THROUGH, seeded)
    assert read_all(k, "a.txt") == b"alpha"
    fd = open_file(k, "a.txt", fdflags=FdFlags.APPEND)
    k.fd_write(fd, b"!")
    assert (seeded / "a.txt").read_bytes() == b"alpha!"
    create(k, "new", b"n")
    assert (seeded / "new").read_bytes() == b"n"
    k.path_create_directory(3, "nd")
    k.path_rename(3, "new", 3, "nd/moved")
    assert (seeded / "nd" / "moved").read_bytes() == b"n"
    k.path_rename(3, "nd", 3, "nd2")
    assert read_all(k, "nd2/moved") == b"n"
    k.path_symlink("nd2/moved", 3, "lnk")
    assert os.readlink(seeded / "lnk") == "nd2/moved"
    k.path_link(3, 0, "b.txt", 3, "hard")
    assert k.path_filestat_get(3, 0, "hard").nlink == 2
    assert k.path_filestat_get(3, 0, "hard").ino == k.path_filestat_get(3, 0, "b.txt").ino
    k.path_unlink_file(3, "hard")
    assert not (seeded / "hard").exists()
    assert errno_of(k.path_remove_directory, 3, "d") is Errno.NOTEMPTY
    k.path_unlink_file(3, "d/inner")
    k.path_remove_directory(3, "d")
    assert not (seeded / "d").exists()
    k.fd_filestat_set_size(fd, 2)
    assert (seeded / "a.txt").read_bytes() == b"al"
    k.path_filestat_set_times(3, 0, "b.txt", 10**18, 2 * 10**18, FstFlags.ATIM | FstFlags.MTIM)
    st = os.stat(seeded / "b.txt")
    assert (st.st_atime_ns, st.st_mtime_ns) == (10**18, 2 * 10**18)
    gst = k.path_filestat_get(3, 0, "b.txt")
    assert (gst.atim, gst.mtim, gst.size) == (10**18, 2 * 10**18, 4)


def test_host_inode_numbers_are_virtual_and_stable(
    host_kernel: Callable[..., WasiKernel], seeded: Path
) -> None:
    k = host_kernel(MountMode.READ_ONLY, seeded)
    ino_a = k.path_filestat_get(3, 0, "a.txt").ino
    ino_b = k.path_filestat_get(3, 0, "b.txt").ino
    assert ino_a != os.stat(seeded / "a.txt").st_ino or ino_a < 100
    assert k.path_filestat_get(3, 0, "a.txt").ino == ino_a
    assert ino_b == ino_a + 1  # numbered in order of first observation
    assert k.path_filestat_get(3, 0, ".").dev == k.path_filestat_get(3, 0, "a.txt").dev


def test_host_readdir_sorted_with_dots(
    host_kernel: Callable[..., WasiKernel], seeded: Path
) -> None:
    k = host_kernel(MountMode.READ_ONLY, seeded)
    ents = list(k.fd_readdir(3, 0))
    assert [e.name for e in ents] == [b".", b"..", b"a.txt", b"b.txt", b"d", b"la"]
    assert [e.filetype for e in ents][2:] == [
        Filetype.REGULAR_FILE,
        Filetype.REGULAR_FILE,
        Filetype.DIRECTORY,
        Filetype.SYMBOLIC_LINK,
    ]
    assert [e.name for e in k.fd_readdir(3, ents[3].next)] == [b"d", b"la"]


def test_read_only(host_kernel: Callable[..., WasiKernel], seeded: Path) -> None:
    before = snapshot(seeded)
    k = host_kernel(MountMode.READ_ONLY, seeded)
    assert read_all(k, "a.txt") == b"alpha"
    assert k.fd_read(k.path_open(3, 1, "la", 0, READ, 0, 0), 10) == b"alpha"
    assert errno_of(open_file, k, "a.txt") is Errno.ROFS  # write rights requested
    assert errno_of(open_file, k, "a.txt", OFlags.TRUNC, rights=READ) is Errno.ROFS
    assert errno_of(open_file, k, "new", OFlags.CREAT) is Errno.ROFS
    assert errno_of(k.path_create_directory, 3, "x") is Errno.ROFS
    assert errno_of(k.path_unlink_file, 3, "a.txt") is Errno.ROFS
    assert errno_of(k.path_remove_directory, 3, "d") is Errno.ROFS
    assert errno_of(k.path_rename, 3, "a.txt", 3, "z") is Errno.ROFS
    assert errno_of(k.path_symlink, "a", 3, "s") is Errno.ROFS
    assert errno_of(k.path_link, 3, 0, "a.txt", 3, "h") is Errno.ROFS
    assert errno_of(k.path_filestat_set_times, 3, 0, "a.txt", 1, 1, FstFlags.ATIM) is Errno.ROFS
    fd = k.path_open(3, 0, "a.txt", 0, READ | int(Rights.FD_FILESTAT_SET_TIMES), 0, 0)
    assert errno_of(k.fd_filestat_set_times, fd, 1, 1, FstFlags.MTIM) is Errno.ROFS
    assert snapshot(seeded) == before


def test_overlay_keeps_host_untouched(host_kernel: Callable[..., WasiKernel], seeded: Path) -> None:
    before = snapshot(seeded)
    k = host_kernel(MountMode.OVERLAY, seeded)
    ino_a = k.path_filestat_get(3, 0, "a.txt").ino
    # copy-up on write-open, same inode number
    fd = open_file(k, "a.txt", fdflags=FdFlags.APPEND)
    k.fd_write(fd, b"+more")
    assert read_all(k, "a.txt") == b"alpha+more"
    assert k.path_filestat_get(3, 0, "a.txt").ino == ino_a
    # reading through the host symlink sees the copied-up file
    assert k.fd_read(k.path_open(3, 1, "la", 0, READ, 0, 0), 100) == b"alpha+more"
    # new files, dirs, links live in memory
    create(k, "new", b"n")
    k.path_create_directory(3, "nd")
    create(k, "nd/x", b"x")
    k.path_symlink("new", 3, "ln")
    k.path_link(3, 0, "b.txt", 3, "hb")
    assert k.path_filestat_get(3, 0, "b.txt").nlink == 2
    # deletes are whiteouts
    k.path_unlink_file(3, "d/inner")
    assert errno_of(k.path_filestat_get, 3, 0, "d/inner") is Errno.NOENT
    k.path_remove_directory(3, "d")
    assert errno_of(k.path_filestat_get, 3, 0, "d") is Errno.NOENT
    # re-create over a whiteout: a fresh, empty directory
    k.path_create_directory(3, "d")
    assert [
        e.name
        for e in k.fd_readdir(
            k.path_open(3, 0, "d", OFlags.DIRECTORY, READ | int(Rights.FD_READDIR), 0, 0), 0
        )
    ] == [b".", b".."]
    # renames of files copy up; lower directories cannot move
    k.path_rename(3, "hb", 3, "nd/hb2")
    assert read_all(k, "nd/hb2") == b"beta"
    k.path_create_directory(3, "lower_dir_test")
    k.fd_filestat_set_size(fd, 3)
    k.path_filestat_set_times(3, 0, "new", 5, 6, FstFlags.ATIM | FstFlags.MTIM)
    names = [e.name for e in k.fd_readdir(3, 0)]
    assert names[:2] == [b".", b".."]
    assert set(names[2:]) == {
        b"a.txt",
        b"b.txt",
        b"d",
        b"la",
        b"new",
        b"nd",
        b"ln",
        b"lower_dir_test",
    }
    assert read_all(k, "a.txt") == b"alp"
    assert snapshot(seeded) == before


def test_overlay_lower_directory_rename_and_times(
    host_kernel: Callable[..., WasiKernel], seeded: Path
) -> None:
    before = snapshot(seeded)
    k = host_kernel(MountMode.OVERLAY, seeded)
    ino_d = k.path_filestat_get(3, 0, "d").ino
    # a lower directory moves in the upper layer and keeps its lower contents
    k.path_create_directory(3, "nd")
    k.path_rename(3, "d", 3, "nd/moved")
    assert errno_of(k.path_filestat_get, 3, 0, "d") is Errno.NOENT
    assert k.path_filestat_get(3, 0, "nd/moved").ino == ino_d
    assert read_all(k, "nd/moved/inner") == b"in"
    assert k.path_filestat_get(3, 0, "nd/moved/..").ino == k.path_filestat_get(3, 0, "nd").ino
    create(k, "nd/moved/new", b"n")
    assert [
        e.name
        for e in k.fd_readdir(
            k.path_open(3, 0, "nd/moved", OFlags.DIRECTORY, READ | int(Rights.FD_READDIR), 0, 0), 0
        )
    ] == [b".", b"..", b"inner", b"new"]
    assert errno_of(k.path_rename, 3, "nd", 3, "nd/moved/x") is Errno.INVAL
    k.path_create_directory(3, "d")  # the old name is free again: a new, empty directory
    assert [
        e.name
        for e in k.fd_readdir(
            k.path_open(3, 0, "d", OFlags.DIRECTORY, READ | int(Rights.FD_READDIR), 0, 0), 0
        )
    ] == [b".", b".."]
    # times of a lower directory are kept in memory
    k.path_filestat_set_times(3, 0, "nd/moved", 11, 22, FstFlags.ATIM | FstFlags.MTIM)
    st = k.path_filestat_get(3, 0, "nd/moved")
    assert (st.atim, st.mtim) == (11, 22)
    k.path_filestat_set_times(3, 0, ".", 0, 33, FstFlags.MTIM)
    assert k.path_filestat_get(3, 0, ".").mtim == 33
    dfd = k.path_open(3, 0, "e_missing", OFlags.CREAT, ALL, ALL, 0)
    assert dfd > 0
    k.path_rename(3, "a.txt", 3, "nd/moved/a-moved")
    assert read_all(k, "nd/moved/a-moved") == b"alpha"
    assert snapshot(seeded) == before
    # and it all survives freeze/unfreeze
    from wasi_rr.host.kernel.wasifs import WasiFs as _Fs

    k2 = WasiKernel(fs=_Fs.unfreeze(k.fs.freeze()))
    assert read_all(k2, "nd/moved/inner") == b"in"
    assert k2.path_filestat_get(3, 0, "nd/moved").mtim == 22
    assert errno_of(k2.path_filestat_get, 3, 0, "a.txt") is Errno.NOENT
    k2.fs.close()
    k2.fs.close_mounts()


def test_read_only_file_open_readonly_in_overlay_then_copied_up(
    host_kernel: Callable[..., WasiKernel], seeded: Path
) -> None:
    """An fd opened read-only before a copy-up sees the new contents."""
    k = host_kernel(MountMode.OVERLAY, seeded)
    rfd = k.path_open(3, 0, "a.txt", 0, READ, 0, 0)
    wfd = open_file(k, "a.txt", OFlags.TRUNC)
    k.fd_write(wfd, b"NEW")
    assert k.fd_read(rfd, 10) == b"NEW"


def test_removed_directory_fd_still_stats(
    host_kernel: Callable[..., WasiKernel], seeded: Path
) -> None:
    k = host_kernel(MountMode.WRITE_THROUGH, seeded)
    k.path_create_directory(3, "gone")
    dfd = k.path_open(
        3, 0, "gone", OFlags.DIRECTORY, int(Rights.FD_READDIR | Rights.FD_FILESTAT_GET), 0, 0
    )
    k.path_remove_directory(3, "gone")
    assert k.fd_filestat_get(dfd).filetype is Filetype.DIRECTORY


def test_bad_host_dir_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(MountError):
        WasiFs([MountSpec("/x", tmp_path / "missing")])
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(MountError):
        WasiFs([MountSpec("/x", tmp_path / "f")])


def test_several_mounts_in_order(tmp_path: Path) -> None:
    fs = WasiFs(
        [
            MountSpec("/data", tmp_path),
            MountSpec.tmpfs("/tmp"),
            MountSpec("/ro", tmp_path, MountMode.READ_ONLY),
        ]
    )
    k = WasiKernel(fs=fs)
    assert [k.fd_prestat_dir_name(fd) for fd in (3, 4, 5)] == [b"/data", b"/tmp", b"/ro"]
    assert fs.preopens() == [(3, "/data"), (4, "/tmp"), (5, "/ro")]
    # different mounts are different devices: no cross-mount links or renames
    create(k, "f", dirfd=4)
    assert errno_of(k.path_link, 4, 0, "f", 3, "f") is Errno.XDEV
    assert errno_of(k.path_rename, 4, "f", 3, "f") is Errno.XDEV
    fs.close()
    fs.close_mounts()


def test_seed_helpers(tmp_path: Path) -> None:
    fs = WasiFs([MountSpec.tmpfs("/tmp"), MountSpec("/h", tmp_path)])
    fs.write_file("/tmp/x", b"123")
    fs.write_file("/h/y", b"456")
    assert fs.read_file("/tmp/x") == b"123"
    assert (tmp_path / "y").read_bytes() == b"456"
    assert fs.read_file("/h/y") == b"456"
    fs.close_mounts()
