"""Path operations on an in-memory tmpfs: creation, links, renames, readdir, rights."""

from __future__ import annotations

import pytest
from kernel_helpers import ALL, create, make_kernel, open_file, read_all

from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.kernel.wasi_types import (
    Errno,
    FdFlags,
    Filetype,
    FstFlags,
    LookupFlags,
    OFlags,
    Rights,
    WasiError,
)

FOLLOW = LookupFlags.SYMLINK_FOLLOW


def errno_of(fn, *args, **kwargs) -> Errno:  # type: ignore[no-untyped-def]
    with pytest.raises(WasiError) as info:
        fn(*args, **kwargs)
    return info.value.errno


def names(k: WasiKernel, fd: int = 3, cookie: int = 0) -> list[bytes]:
    return [d.name for d in k.fd_readdir(fd, cookie)]


def test_open_flags(k: WasiKernel) -> None:
    assert errno_of(open_file, k, "missing") is Errno.NOENT
    create(k, "f", b"data")
    assert errno_of(open_file, k, "f", OFlags.CREAT | OFlags.EXCL) is Errno.EXIST
    assert errno_of(open_file, k, "f", OFlags.DIRECTORY) is Errno.NOTDIR
    assert errno_of(open_file, k, "f/x") is Errno.NOTDIR
    assert errno_of(open_file, k, "f/") is Errno.NOTDIR
    assert errno_of(open_file, k, "") is Errno.NOENT
    fd = open_file(k, "f", OFlags.TRUNC)
    assert k.fd_filestat_get(fd).size == 0
    k.path_create_directory(3, "d")
    assert errno_of(open_file, k, "d", OFlags.TRUNC) is Errno.ISDIR
    assert errno_of(open_file, k, "d", 0, 0, int(Rights.FD_WRITE)) is Errno.ISDIR
    dfd = open_file(k, "d", OFlags.DIRECTORY, rights=int(Rights.FD_READDIR | Rights.PATH_OPEN))
    assert k.fd_fdstat_get(dfd).filetype is Filetype.DIRECTORY
    assert errno_of(k.fd_read, dfd, 1) is Errno.BADF
    assert errno_of(open_file, k, "new", OFlags.CREAT, dirfd=dfd) is Errno.NOTCAPABLE
    assert errno_of(open_file, k, "newdir/", OFlags.CREAT) is Errno.ISDIR
    assert errno_of(open_file, k, "x" * 256, OFlags.CREAT) is Errno.NAMETOOLONG
    assert errno_of(open_file, k, "a\0b", OFlags.CREAT) is Errno.INVAL
    assert errno_of(k.path_open, 3, 0, "f", 1 << 5, ALL, ALL, 0) is Errno.INVAL


def test_rights_intersection(k: WasiKernel) -> None:
    create(k, "f", b"abc")
    fd = open_file(k, "f", rights=int(Rights.FD_READ | Rights.PATH_OPEN))
    st = k.fd_fdstat_get(fd)
    assert st.rights_base == Rights.FD_READ  # PATH_OPEN is not a file right
    assert errno_of(k.fd_write, fd, b"x") is Errno.BADF
    assert errno_of(k.fd_seek, fd, 1, 0) is Errno.NOTCAPABLE
    assert errno_of(k.fd_filestat_set_size, fd, 0) is Errno.INVAL
    assert errno_of(k.fd_fdstat_set_rights, fd, ALL, 0) is Errno.NOTCAPABLE
    k.fd_fdstat_set_rights(fd, 0, 0)
    assert errno_of(k.fd_read, fd, 1) is Errno.BADF
    pre = k.fd_fdstat_get(3)
    assert pre.rights_base & Rights.PATH_OPEN and not pre.rights_base & Rights.FD_READ


def test_mkdir_rmdir_unlink(k: WasiKernel) -> None:
    k.path_create_directory(3, "d")
    assert errno_of(k.path_create_directory, 3, "d") is Errno.EXIST
    assert errno_of(k.path_create_directory, 3, "x/y") is Errno.NOENT
    assert errno_of(k.path_create_directory, 3, ".") is Errno.EXIST
    create(k, "d/f")
    assert errno_of(k.path_remove_directory, 3, "d") is Errno.NOTEMPTY
    assert errno_of(k.path_remove_directory, 3, "d/f") is Errno.NOTDIR
    assert errno_of(k.path_remove_directory, 3, ".") is Errno.INVAL
    assert errno_of(k.path_unlink_file, 3, "d") is Errno.ISDIR
    assert errno_of(k.path_unlink_file, 3, "d/") is Errno.ISDIR
    assert errno_of(k.path_unlink_file, 3, "d/f/") is Errno.NOTDIR
    k.path_unlink_file(3, "d/f")
    assert errno_of(k.path_unlink_file, 3, "d/f") is Errno.NOENT
    assert k.path_filestat_get(3, 0, "d").nlink == 2
    assert k.path_filestat_get(3, 0, ".").nlink == 3
    k.path_remove_directory(3, "d")
    assert errno_of(k.path_filestat_get, 3, 0, "d") is Errno.NOENT
    assert k.path_filestat_get(3, 0, ".").nlink == 2


def test_unlinked_open_file_stays_readable(k: WasiKernel) -> None:
    create(k, "f", b"keep")
    fd = open_file(k, "f")
    k.path_unlink_file(3, "f")
    assert k.fd_read(fd, 10) == b"keep"
    assert k.fd_filestat_get(fd).nlink == 0


def test_hard_links(k: WasiKernel) -> None:
    create(k, "a", b"A")
    k.path_link(3, 0, "a", 3, "b")
    sa, sb = k.path_filestat_get(3, 0, "a"), k.path_filestat_get(3, 0, "b")
    assert sa.ino == sb.ino and sa.nlink == sb.nlink == 2
    assert errno_of(k.path_link, 3, 0, "a", 3, "b") is Errno.EXIST
    assert errno_of(k.path_link, 3, 0, "nope", 3, "c") is Errno.NOENT
    k.path_create_directory(3, "d")
    assert errno_of(k.path_link, 3, 0, "d", 3, "d2") is Errno.PERM
    k.path_unlink_file(3, "a")
    assert k.path_filestat_get(3, 0, "b").nlink == 1
    assert read_all(k, "b") == b"A"


def test_symlinks(k: WasiKernel) -> None:
    create(k, "target", b"T")
    k.path_symlink("target", 3, "link")
    assert k.path_readlink(3, "link") == b"target"
    assert errno_of(k.path_readlink, 3, "target") is Errno.INVAL
    assert errno_of(k.path_symlink, "x", 3, "link") is Errno.EXIST
    lst = k.path_filestat_get(3, 0, "link")
    assert lst.filetype is Filetype.SYMBOLIC_LINK and lst.size == 6
    assert k.path_filestat_get(3, FOLLOW, "link").filetype is Filetype.REGULAR_FILE
    assert k.fd_read(k.path_open(3, FOLLOW, "link", 0, ALL, ALL, 0), 5) == b"T"
    assert errno_of(k.path_open, 3, 0, "link", 0, ALL, ALL, 0) is Errno.LOOP
    k.path_symlink("loop2", 3, "loop1")
    k.path_symlink("loop1", 3, "loop2")
    assert errno_of(k.path_filestat_get, 3, FOLLOW, "loop1") is Errno.LOOP
    k.path_symlink("missing", 3, "dangling")
    assert errno_of(k.path_filestat_get, 3, FOLLOW, "dangling") is Errno.NOENT
    # O_CREAT through a dangling symlink creates its target
    fd = k.path_open(3, FOLLOW, "dangling", OFlags.CREAT, ALL, ALL, 0)
    k.fd_write(fd, b"new")
    assert read_all(k, "missing") == b"new"
    assert errno_of(k.path_symlink, "/etc/passwd", 3, "abs") is Errno.PERM
    k.path_create_directory(3, "d")
    k.path_symlink("d", 3, "dl")
    create(k, "dl/inner", b"i")
    assert read_all(k, "d/inner") == b"i"
    k.path_unlink_file(3, "dl")  # removes the link, not the directory
    assert k.path_filestat_get(3, 0, "d").filetype is Filetype.DIRECTORY


def test_rename_rules(k: WasiKernel) -> None:
    create(k, "a", b"A")
    create(k, "b", b"B")
    k.path_rename(3, "a", 3, "b")
    assert read_all(k, "b") == b"A"
    assert errno_of(k.path_filestat_get, 3, 0, "a") is Errno.NOENT
    k.path_rename(3, "b", 3, "b")
    k.path_create_directory(3, "d1")
    k.path_create_directory(3, "d2")
    assert errno_of(k.path_rename, 3, "b", 3, "d1") is Errno.ISDIR
    assert errno_of(k.path_rename, 3, "d1", 3, "b") is Errno.NOTDIR
    k.path_rename(3, "d1", 3, "d2")  # over an empty dir
    create(k, "d2/x")
    k.path_create_directory(3, "d3")
    assert errno_of(k.path_rename, 3, "d3", 3, "d2") is Errno.NOTEMPTY
    assert errno_of(k.path_rename, 3, "d2", 3, "d2/sub") is Errno.INVAL
    assert errno_of(k.path_rename, 3, "missing", 3, "z") is Errno.NOENT
    assert errno_of(k.path_rename, 3, "b", 3, "nodir/z") is Errno.NOENT
    assert errno_of(k.path_rename, 3, "b", 3, "b2/") is Errno.NOTDIR
    k.path_rename(3, "d2", 3, "d3/moved")
    assert read_all(k, "d3/moved/x") == b""
    assert names(k, 3)[2:] == [b"b", b"d3"]
    # '..' of a moved directory follows it
    assert k.path_filestat_get(3, 0, "d3/moved/..").ino == k.path_filestat_get(3, 0, "d3").ino


def test_readdir_cookies_and_order(k: WasiKernel) -> None:
    for n in ["c", "a", "b"]:
        create(k, n)
    ents = list(k.fd_readdir(3, 0))
    assert [e.name for e in ents] == [b".", b"..", b"c", b"a", b"b"]
    assert [e.next for e in ents] == [1, 2, 3, 4, 5]
    assert [e.name for e in k.fd_readdir(3, 3)] == [b"a", b"b"]
    assert list(k.fd_readdir(3, 99)) == []
    assert errno_of(k.fd_readdir, 1, 0) is Errno.BADF  # wasmtime: EBADF on a non-directory
    fd = open_file(k, "a")
    assert errno_of(k.fd_readdir, fd, 0) is Errno.BADF


def test_inode_numbers_are_deterministic() -> None:
    def inos() -> list[int]:
        k = make_kernel()
        create(k, "x")
        k.path_create_directory(3, "d")
        create(k, "d/y")
        return [k.path_filestat_get(3, 0, p).ino for p in (".", "x", "d", "d/y")]

    assert inos() == inos()
    assert len(set(inos())) == 4


def test_times(k: WasiKernel) -> None:
    create(k, "f")
    fd = open_file(k, "f")
    k.fd_filestat_set_times(fd, 5, 6, FstFlags.ATIM | FstFlags.MTIM)
    st = k.fd_filestat_get(fd)
    assert (st.atim, st.mtim) == (5, 6)
    k.clock.sleep(100)
    k.path_filestat_set_times(3, 0, "f", 0, 0, FstFlags.MTIM_NOW)
    st = k.fd_filestat_get(fd)
    assert st.atim == 5 and st.mtim == k.clock_time_get(0, 0)
    both = FstFlags.ATIM | FstFlags.ATIM_NOW
    assert errno_of(k.fd_filestat_set_times, fd, 0, 0, both) is Errno.INVAL
    before = k.fd_filestat_get(fd).mtim
    k.clock.sleep(7)
    k.fd_write(fd, b"x")
    assert k.fd_filestat_get(fd).mtim == before + 7


def test_set_size_allocate_advise_sync(k: WasiKernel) -> None:
    create(k, "f", b"abcdef")
    fd = open_file(k, "f")
    k.fd_filestat_set_size(fd, 3)
    assert read_all(k, "f") == b"abc"
    k.fd_filestat_set_size(fd, 5)
    assert read_all(k, "f") == b"abc\0\0"
    assert errno_of(k.fd_allocate, fd, 0, 100) is Errno.NOTSUP
    assert errno_of(k.fd_allocate, 77, 0, 1) is Errno.BADF
    k.fd_advise(fd, 0, 10, 1)
    assert errno_of(k.fd_advise, fd, 0, 10, 9) is Errno.INVAL
    k.fd_sync(fd)
    k.fd_datasync(fd)
    k.fd_sync(3)
    # streams: EBADF for sync, advice, times and status flags (as wasmtime)
    for fn, args in [
        (k.fd_sync, ()),
        (k.fd_datasync, ()),
        (k.fd_advise, (0, 1, 0)),
        (k.fd_filestat_set_times, (1, 1, int(FstFlags.ATIM))),
        (k.fd_fdstat_set_flags, (0,)),
    ]:
        assert errno_of(fn, 1, *args) is Errno.BADF
    assert (
        errno_of(k.fd_filestat_set_times, 1, 1, 1, int(FstFlags.ATIM | FstFlags.ATIM_NOW))
        is Errno.INVAL
    )
    assert errno_of(k.fd_fdstat_set_flags, 3, 0) is Errno.BADF  # a directory


def test_prestat(k: WasiKernel) -> None:
    assert k.fd_prestat_get(3).name == b"/tmp"
    assert k.fd_prestat_dir_name(3) == b"/tmp"
    assert errno_of(k.fd_prestat_get, 0) is Errno.BADF
    assert errno_of(k.fd_prestat_get, 4) is Errno.BADF
    create(k, "f")
    fd = open_file(k, "f")
    assert errno_of(k.fd_prestat_get, fd) is Errno.BADF
    # closing a preopen is allowed
    k.fd_close(3)
    assert errno_of(k.fd_prestat_get, 3) is Errno.BADF


def test_open_corners_like_wasmtime(k: WasiKernel) -> None:
    create(k, "f", b"abc")
    k.path_create_directory(3, "d")
    read_only = int(Rights.FD_READ | Rights.FD_SEEK)
    # O_DIRECTORY with CREAT/EXCL/TRUNC: EINVAL before the path is even looked at
    for extra in (OFlags.CREAT, OFlags.EXCL, OFlags.TRUNC):
        assert errno_of(open_file, k, "missing/x", OFlags.DIRECTORY | extra) is Errno.INVAL
    # O_CREAT with a trailing slash, or on an existing directory: EISDIR
    assert errno_of(open_file, k, "f/", OFlags.CREAT) is Errno.ISDIR
    assert errno_of(open_file, k, "d", OFlags.CREAT, rights=read_only) is Errno.ISDIR
    assert errno_of(open_file, k, "d", OFlags.CREAT | OFlags.EXCL) is Errno.EXIST
    # O_CREAT / O_TRUNC open for writing even with read-only rights
    fd = open_file(k, "f", OFlags.TRUNC, rights=read_only)
    assert k.fd_write(fd, b"xy") == 2
    k.fd_filestat_set_size(fd, 1)
    fd = open_file(k, "new", OFlags.CREAT, rights=read_only)
    assert k.fd_write(fd, b"z") == 1
    # ftruncate on a directory fd: EBADF
    dfd = open_file(k, "d", OFlags.DIRECTORY, rights=int(Rights.FD_READDIR))
    assert errno_of(k.fd_filestat_set_size, dfd, 0) is Errno.BADF
    # linking onto an existing name: EEXIST wins over EPERM for a directory source
    assert errno_of(k.path_link, 3, 0, "d", 3, "f") is Errno.EXIST


def test_nonblock_flag_roundtrip(k: WasiKernel) -> None:
    create(k, "f")
    fd = open_file(k, "f", fdflags=FdFlags.NONBLOCK | FdFlags.APPEND)
    assert k.fd_fdstat_get(fd).flags == FdFlags.NONBLOCK | FdFlags.APPEND
